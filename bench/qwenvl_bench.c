/* qwenvl_bench.c — time and peak resident memory of the Qwen2.5-VL-7B text encoder encoding one
 * edit instruction with one 384²-area reference image, as Qwen-Image-Edit-2509 does: a 392x392
 * processor image (28x28 patches, 196 image tokens) and a 284-token sequence (64 template tokens,
 * "Picture 1: " + vision start/end, 196 image tokens, a 12-token instruction, 5 suffix tokens).
 * Full-size config with seeded random bf16 weights (the published checkpoint's storage dtype).
 *   qwenvl_bench [LM_LAYERS [VISION_BLOCKS]]    (defaults: the full 28 and 32)
 * With fewer layers the full-model time and weight memory are extrapolated linearly per layer
 * (both printed; the extrapolation is labelled). lm_head is not allocated (encoders never use it). */
#include "base/rng.h"
#include "models/qwen25vl/language.h"
#include "models/qwen25vl/mrope.h"
#include "models/qwen25vl/vision.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static const char *FULL_FMT =
    "{\"hidden_size\":3584,\"num_hidden_layers\":%d,\"num_attention_heads\":28,\"num_key_value_heads\":4,"
    "\"intermediate_size\":18944,\"vocab_size\":152064,\"rms_norm_eps\":1e-6,\"rope_theta\":1000000.0,"
    "\"rope_scaling\":{\"type\":\"mrope\",\"mrope_section\":[16,24,24]},\"tie_word_embeddings\":true,"
    "\"vision_config\":{\"depth\":%d,\"hidden_size\":1280,\"num_heads\":16,\"intermediate_size\":3420,"
    "\"out_hidden_size\":3584,\"patch_size\":14,\"temporal_patch_size\":2,\"in_chans\":3,\"spatial_merge_size\":2,"
    "\"window_size\":112,\"fullatt_block_indexes\":[7,15,23,31]}}";

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    int layers = argc > 1 ? atoi(argv[1]) : 28, depth = argc > 2 ? atoi(argv[2]) : 32;
    if (layers < 1 || layers > 28 || depth < 1 || depth > 32) { fprintf(stderr, "usage: qwenvl_bench [LM_LAYERS 1..28 [VISION_BLOCKS 1..32]]\n"); return 2; }
    char json[1024];
    snprintf(json, sizeof json, FULL_FMT, layers, depth);
    cJSON *cfg = cJSON_Parse(json);
    QwenVL m; Err e = {0};
    double t0 = now_s();
    if (qwenvl_init_random(&m, cfg, 1234, DT_BF16, &e)) { fprintf(stderr, "error: %s\n", e.msg); return 1; }
    double t_init = now_s() - t0;
    cJSON_Delete(cfg);
    const QvConfig *c = &m.cfg;
    int64_t grid[3] = { 1, 28, 28 };
    int npatch = 28 * 28, K = m.patch_embed.in, C = c->text.hidden;
    float *pix = malloc((size_t)npatch * K * sizeof(float)), *img = malloc(196 * (size_t)C * sizeof(float));
    Rng r; rng_seed(&r, 1);
    rng_fill_normal(&r, pix, (size_t)npatch * K, 0, 1);
    /* token ids: template text, vision start, 196 image pads, vision end, instruction, suffix */
    enum { L = 284 };
    int64_t ids[L], pos[3 * L], delta;
    for (int i = 0; i < L; i++) ids[i] = (int64_t)rng_below(&r, 151643);
    ids[69] = c->vision_start_token_id;
    for (int i = 70; i < 266; i++) ids[i] = c->image_token_id;
    ids[266] = c->vision_end_token_id;
    float *x = malloc((size_t)L * C * sizeof(float));

    t0 = now_s();
    if (qv_vision_forward(&m, pix, npatch, K, grid, 1, img, &e)) { fprintf(stderr, "error: %s\n", e.msg); return 1; }
    double t_vis = now_s() - t0;
    t0 = now_s();
    int64_t next = 0;
    if (qv_rope_index(c, ids, NULL, 1, L, grid, 1, pos, &delta, &e) ||
        qv_embed_inputs(&m, ids, L, img, 196, &next, x, &e)) { fprintf(stderr, "error: %s\n", e.msg); return 1; }
    qv_language_forward(&m, x, L, pos, L, NULL, NULL, NULL);
    double t_lm = now_s() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss = ru.ru_maxrss / 1024.0;
    /* per-layer weights: LM layer 233,057,792 and vision block 19,702,200 parameters (bf16) */
    double miss_mib = ((28.0 - layers) * 233057792.0 + (32.0 - depth) * 19702200.0) * 2 / (1 << 20);
    double vis_full = t_vis * 32.0 / depth, lm_full = t_lm * 28.0 / layers;
    printf("qwen25vl encode (1 image 392x392 = 196 tokens, 284-token sequence), %d/28 LM layers, %d/32 vision blocks, bf16 random weights (init %.1f s)\n",
           layers, depth, t_init);
    printf("  measured:   vision %.2f s  language %.2f s  total %.2f s  peak RSS %.0f MiB  (%zu M params)\n",
           t_vis, t_lm, t_vis + t_lm, rss, qwenvl_numel(&m) / 1000000);
    if (layers < 28 || depth < 32)
        printf("  extrapolated to the full model (linear per layer): vision %.1f s  language %.1f s  total %.1f s  peak RSS ~%.0f MiB\n",
               vis_full, lm_full, vis_full + lm_full, rss + miss_mib);
    free(pix); free(img); free(x);
    qwenvl_free(&m);
    return 0;
}
