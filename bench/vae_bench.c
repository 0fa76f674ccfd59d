/* vae_bench.c — time and peak resident memory of one VAE encode or decode at a full-size config
 * with seeded random bf16 weights (as a real checkpoint would be stored).
 *   vae_bench qwen|flux encode|decode SIZE [TILE_PX [OVERLAP_PX]]
 * Prints one line: family, op, size, ms, peak RSS (MiB), the untiled FLOP count and the rate it
 * implies (tiling recomputes the overlaps, so the real rate is higher), the sgemm rate measured
 * right after (the cores are shared: read the figures against it) and the tile setting. Run one op per process so
 * the peak RSS belongs to that op (bench/vae.sh does). */
#include "base/rng.h"
#include <cblas.h>
#include "models/vae/vae.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static const char *QWEN_FULL =
    "{\"_class_name\": \"AutoencoderKLQwenImage\", \"attn_scales\": [], \"base_dim\": 96, \"dim_mult\": [1, 2, 4, 4],"
    " \"dropout\": 0.0, \"num_res_blocks\": 2, \"temperal_downsample\": [false, true, true], \"z_dim\": 16,"
    " \"latents_mean\": [-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,"
    "                    0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921],"
    " \"latents_std\": [2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,"
    "                   3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.916]}";

static const char *FLUX_FULL =
    "{\"_class_name\": \"AutoencoderKL\", \"act_fn\": \"silu\", \"block_out_channels\": [128, 256, 512, 512],"
    " \"down_block_types\": [\"DownEncoderBlock2D\", \"DownEncoderBlock2D\", \"DownEncoderBlock2D\", \"DownEncoderBlock2D\"],"
    " \"up_block_types\": [\"UpDecoderBlock2D\", \"UpDecoderBlock2D\", \"UpDecoderBlock2D\", \"UpDecoderBlock2D\"],"
    " \"in_channels\": 3, \"out_channels\": 3, \"latent_channels\": 16, \"layers_per_block\": 2,"
    " \"norm_num_groups\": 32, \"mid_block_add_attention\": true, \"scaling_factor\": 0.3611, \"shift_factor\": 0.1159,"
    " \"use_quant_conv\": false, \"use_post_quant_conv\": false, \"sample_size\": 1024, \"force_upcast\": true}";

/* Multiply-add FLOPs of one untiled pass of net on [C, H, W] (convolutions and attention). */
static double net_flops(const VaeNet *net, int C, int H, int W) {
    double f = 0;
    for (int i = 0; i < net->n; i++) {
        const VaeOp *op = &net->ops[i];
        double hw = (double)H * W;
        const VaeConv *c1 = &op->c1, *c2 = &op->c2;
        switch (op->kind) {
        case VAE_OP_CONV: f += 2.0 * c1->cout * c1->cin * c1->k * c1->k * hw; C = c1->cout; break;
        case VAE_OP_NORM_SILU: break;
        case VAE_OP_RES:
            f += 2.0 * hw * (c1->cout * c1->cin * 9.0 + c2->cout * c2->cin * 9.0 + (op->sc.w >= 0 ? op->sc.cout * op->sc.cin : 0));
            C = c2->cout;
            break;
        case VAE_OP_ATTN: f += 2.0 * hw * 4.0 * C * C + 4.0 * hw * hw * C; break;
        case VAE_OP_DOWN: H /= 2; W /= 2; f += 2.0 * c1->cout * c1->cin * 9.0 * H * W; C = c1->cout; break;
        case VAE_OP_UP: H *= 2; W *= 2; f += 2.0 * c1->cout * c1->cin * 9.0 * H * W; C = c1->cout; break;
        }
    }
    return f;
}

/* Current sgemm throughput of this machine (2 threads), to read the figures against: the cores
 * are shared, so the same binary runs several times slower when others are busy. */
static double sgemm_gflops_now(void);

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static double sgemm_gflops_now(void) {
    const int M = 256, K = 2304, N = 8192;
    float *a = calloc((size_t)M * K, 4), *b = calloc((size_t)K * N, 4), *c = calloc((size_t)M * N, 4);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1, a, K, b, N, 0, c, N);
    double t0 = now_ms();
    for (int i = 0; i < 3; i++) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1, a, K, b, N, 0, c, N);
    double ms = now_ms() - t0;
    free(a); free(b); free(c);
    return 3 * 2.0 * M * K * N / (ms * 1e6);
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: vae_bench qwen|flux encode|decode SIZE [TILE_PX [OVERLAP_PX]]\n"); return 2; }
    int qwen = !strcmp(argv[1], "qwen"), enc = !strcmp(argv[2], "encode"), S = atoi(argv[3]);
    if ((!qwen && strcmp(argv[1], "flux")) || (!enc && strcmp(argv[2], "decode")) || S < 16 || S % 16) {
        fprintf(stderr, "vae_bench: expected qwen|flux, encode|decode and a SIZE that is a positive multiple of 16, "
                        "got '%s' '%s' '%s'\n", argv[1], argv[2], argv[3]);
        return 2;
    }
    cJSON *cfg = cJSON_Parse(qwen ? QWEN_FULL : FLUX_FULL);
    Vae v; Err e = {0};
    if (vae_init_random(&v, cfg, 1234, DT_BF16, &e)) { fprintf(stderr, "error: %s\n", e.msg); return 1; }
    cJSON_Delete(cfg);
    if (argc > 4) v.tiling.tile_px = atoi(argv[4]);
    if (argc > 5) v.tiling.overlap_px = atoi(argv[5]);
    int zc = vae_latent_channels(&v), s = S / 8;
    float *img = malloc(3 * (size_t)S * S * sizeof(float)), *lat = malloc((size_t)zc * s * s * sizeof(float));
    Rng r; rng_seed(&r, 1);
    double t0 = now_ms();
    int rc;
    if (enc) {
        rng_fill_uniform(&r, img, 3 * (size_t)S * S, -1, 1);
        t0 = now_ms();
        rc = vae_encode(&v, img, S, S, VAE_LATENT_MODE, NULL, lat, &e);
    } else {
        rng_fill_normal(&r, lat, (size_t)zc * s * s, 0, 1);
        t0 = now_ms();
        rc = vae_decode(&v, lat, s, s, img, &e);
    }
    double ms = now_ms() - t0;
    if (rc) { fprintf(stderr, "error: %s\n", e.msg); return 1; }
    double gf = (enc ? net_flops(&v.net.enc, 3, S, S) : net_flops(&v.net.dec, zc, s, s)) / 1e9;
    double probe = sgemm_gflops_now();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    /* CPU seconds of the whole process (random init included) hint at contention: with 2 threads
     * on 2 free cores the op's share is about 2 x its wall time */
    double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    printf("%-5s %-6s %5dx%-5d %9.0f ms  peak RSS %6.0f MiB  %6.0f GFLOP untiled -> %5.1f GFLOP/s"
           "  (sgemm now %5.1f GFLOP/s, process CPU %.0f s; %zu M params bf16; tile %d px, overlap %d px)\n",
           argv[1], argv[2], S, S, ms, ru.ru_maxrss / 1024.0, gf, gf / (ms / 1e3), probe, cpu,
           vae_model_numel(&v.net) / 1000000, v.tiling.tile_px, v.tiling.overlap_px);
    free(img); free(lat);
    vae_free(&v);
    return 0;
}
