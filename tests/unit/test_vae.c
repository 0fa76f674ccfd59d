/* test_vae.c — the VAE kernels against naive references, the encode/decode API of both families on
 * tiny random-weight models, bf16 sharded checkpoint loading, and the error messages. */
#include "test_util.h"
#include "test_vae_fixtures.h"
#include "base/meminfo.h"
#include "base/rng.h"
#include "kernels/conv2d.h"
#include "kernels/groupnorm.h"
#include "kernels/upsample.h"
#include "models/vae/vae.h"
#include "tensor/safetensors.h"
#include <math.h>

static float max_abs_diff(const float *a, const float *b, size_t n) {
    float m = 0;
    for (size_t i = 0; i < n; i++) m = fmaxf(m, fabsf(a[i] - b[i]));
    return m;
}

static void conv_naive(const float *x, const float *w, const float *b, const Conv2dShape *s, float *y) {
    int oh = conv2d_out_h(s), ow = conv2d_out_w(s);
    for (int co = 0; co < s->cout; co++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                double acc = b ? b[co] : 0;
                for (int ci = 0; ci < s->cin; ci++)
                    for (int ky = 0; ky < s->k; ky++)
                        for (int kx = 0; kx < s->k; kx++) {
                            int iy = oy * s->stride + ky - s->pad_top, ix = ox * s->stride + kx - s->pad_left;
                            if (iy < 0 || ix < 0 || iy >= s->h || ix >= s->w) continue;
                            acc += (double)w[((co * s->cin + ci) * s->k + ky) * s->k + kx] * x[(ci * s->h + iy) * s->w + ix];
                        }
                y[(co * oh + oy) * ow + ox] = (float)acc;
            }
}

static void test_conv2d_matches_naive(void **state) {
    (void)state;
    Conv2dShape cases[] = {
        { .cin = 5, .h = 7, .w = 9, .cout = 6, .k = 3, .stride = 1, .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1 },
        { .cin = 4, .h = 8, .w = 10, .cout = 3, .k = 3, .stride = 2, .pad_bottom = 1, .pad_right = 1 },
        { .cin = 6, .h = 5, .w = 3, .cout = 7, .k = 1, .stride = 1 },
        /* windows that start or end wholly in the padding */
        { .cin = 2, .h = 4, .w = 2, .cout = 3, .k = 3, .stride = 2, .pad_top = 2, .pad_left = 3, .pad_bottom = 0, .pad_right = 2 },
        { .cin = 3, .h = 6, .w = 7, .cout = 2, .k = 3, .stride = 1 },
        { .cin = 2, .h = 3, .w = 5, .cout = 2, .k = 1, .stride = 1, .pad_left = 1, .pad_right = 2 },
    };
    Rng r; rng_seed(&r, 1);
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        const Conv2dShape *s = &cases[c];
        size_t nx = (size_t)s->cin * s->h * s->w, nw = (size_t)s->cout * s->cin * s->k * s->k;
        size_t ny = (size_t)s->cout * conv2d_out_h(s) * conv2d_out_w(s);
        float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc((size_t)s->cout * 4);
        float *y = malloc(ny * 4), *yb = malloc(ny * 4), *ref = malloc(ny * 4);
        rng_fill_normal(&r, x, nx, 0, 1); rng_fill_normal(&r, w, nw, 0, 1); rng_fill_normal(&r, b, s->cout, 0, 1);
        conv_naive(x, w, b, s, ref);
        conv2d_forward(x, w, b, s, y);
        /* a budget of one output row forces one band per row */
        size_t ncol = conv2d_col_floats_min(s);
        float *col = ncol ? malloc(ncol * 4) : NULL;
        conv2d_forward_banded(x, w, b, s, col, ncol, yb);
        free(col);
        assert_true(max_abs_diff(y, ref, ny) < 1e-4f);
        assert_true(max_abs_diff(yb, ref, ny) < 1e-4f);
        free(x); free(w); free(b); free(y); free(yb); free(ref);
    }
}

static void test_norms_match_naive(void **state) {
    (void)state;
    enum { C = 8, HW = 13, G = 4 };
    float x[C * HW], g[C], bt[C], y[C * HW], z[C * HW];
    Rng r; rng_seed(&r, 2);
    rng_fill_normal(&r, x, C * HW, 3, 2); rng_fill_normal(&r, g, C, 1, 0.3f); rng_fill_normal(&r, bt, C, 0, 0.3f);
    groupnorm_forward(x, C, HW, G, 1e-6f, g, bt, y);
    for (int grp = 0; grp < G; grp++) {
        double m = 0, v = 0; int n = (C / G) * HW;
        for (int i = 0; i < n; i++) m += x[grp * n + i];
        m /= n;
        for (int i = 0; i < n; i++) v += (x[grp * n + i] - m) * (x[grp * n + i] - m);
        v /= n;
        for (int i = 0; i < n; i++) {
            int c = grp * (C / G) + i / HW;
            assert_float_equal(y[grp * n + i], (x[grp * n + i] - m) / sqrt(v + 1e-6) * g[c] + bt[c], 1e-4);
        }
    }
    channel_l2norm_forward(x, C, HW, g, z);
    for (int p = 0; p < HW; p++) {
        double s = 0;
        for (int c = 0; c < C; c++) s += (double)x[c * HW + p] * x[c * HW + p];
        for (int c = 0; c < C; c++) assert_float_equal(z[c * HW + p], x[c * HW + p] / sqrt(s) * sqrt((double)C) * g[c], 1e-4);
    }
    float u[2 * 2 * 3], in[2 * 1 * 3] = { 1, 2, 3, 4, 5, 6 };
    upsample_nearest2x_forward(in, 1, 1, 3, u);   /* one 1x3 channel → 2x6 */
    float want[12] = { 1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3 };
    assert_memory_equal(u, want, sizeof want);
}

static void build_random(Vae *v, const char *cfg_text, DType dt) {
    cJSON *cfg = cJSON_Parse(cfg_text);
    assert_non_null(cfg);
    Err e = {0};
    if (vae_init_random(v, cfg, 42, dt, &e)) fail_msg("%s", e.msg);
    cJSON_Delete(cfg);
}

static void api_round(const char *cfg_text) {
    Vae v; build_random(&v, cfg_text, DT_F32);
    enum { H = 32, W = 48 };
    int zc = vae_latent_channels(&v), h = H / 8, w = W / 8;
    float *img = malloc(3 * H * W * 4), *lat = malloc((size_t)zc * h * w * 4), *lat2 = malloc((size_t)zc * h * w * 4);
    float *lat3 = malloc((size_t)zc * h * w * 4), *params = malloc(2 * (size_t)zc * h * w * 4), *out = malloc(3 * H * W * 4);
    Rng r; rng_seed(&r, 3);
    rng_fill_uniform(&r, img, 3 * H * W, -1, 1);
    Err e = {0};
    assert_int_equal(vae_encode(&v, img, H, W, VAE_LATENT_MODE, NULL, lat, &e), 0);
    /* mode = normalised mean of the distribution parameters */
    assert_int_equal(vae_encode_params(&v, img, H, W, NULL, params, &e), 0);
    vae_latents_normalise(&v, params, (size_t)h * w);
    assert_true(max_abs_diff(lat, params, (size_t)zc * h * w) < 1e-6f);
    /* sampling: reproducible from the seed, different from the mode */
    Rng s1, s2; rng_seed(&s1, 9); rng_seed(&s2, 9);
    assert_int_equal(vae_encode(&v, img, H, W, VAE_LATENT_SAMPLE, &s1, lat2, &e), 0);
    assert_int_equal(vae_encode(&v, img, H, W, VAE_LATENT_SAMPLE, &s2, lat3, &e), 0);
    assert_memory_equal(lat2, lat3, (size_t)zc * h * w * 4);
    assert_true(max_abs_diff(lat, lat2, (size_t)zc * h * w) > 1e-3f);
    assert_int_equal(vae_encode(&v, img, H, W, VAE_LATENT_SAMPLE, NULL, lat2, &e), -1);
    /* normalise / denormalise invert each other */
    memcpy(lat3, lat, (size_t)zc * h * w * 4);
    vae_latents_denormalise(&v, lat3, (size_t)h * w);
    vae_latents_normalise(&v, lat3, (size_t)h * w);
    assert_true(max_abs_diff(lat, lat3, (size_t)zc * h * w) < 1e-5f);
    /* decode: the right size, in [-1, 1], equal to the clamped raw decode of the denormalised latents */
    assert_int_equal(vae_decode(&v, lat, h, w, out, &e), 0);
    for (int i = 0; i < 3 * H * W; i++) assert_true(out[i] >= -1.0f && out[i] <= 1.0f);
    memcpy(lat3, lat, (size_t)zc * h * w * 4);
    vae_latents_denormalise(&v, lat3, (size_t)h * w);
    float *raw = malloc(3 * H * W * 4);
    assert_int_equal(vae_decode_raw(&v, lat3, h, w, raw, &e), 0);
    for (int i = 0; i < 3 * H * W; i++) assert_float_equal(out[i], fminf(fmaxf(raw[i], -1), 1), 1e-5);
    /* sizes that are not multiples of 8 are refused */
    assert_int_equal(vae_encode(&v, img, 30, 48, VAE_LATENT_MODE, NULL, lat, &e), -1);
    assert_contains(e.msg, "multiple of 8");
    free(img); free(lat); free(lat2); free(lat3); free(params); free(out); free(raw);
    vae_free(&v);
}

static void test_api_qwen(void **state) { (void)state; api_round(TINY_QWEN_VAE_CONFIG); }
static void test_api_flux(void **state) { (void)state; api_round(TINY_FLUX_VAE_CONFIG); }

/* Writes the model's weights as bf16 into two shard files of dir (split by tensor order). */
static void write_bf16_shards(const Vae *v, const char *dir, const char *cfg_text) {
    StWriter a, b; stw_init(&a); stw_init(&b);
    for (int i = 0; i < v->net.np; i++) {
        const VaeParam *p = &v->net.p[i];
        assert_int_equal(p->dtype, DT_BF16);
        stw_add(i % 2 ? &b : &a, p->name, DT_BF16, p->ndim, p->shape, p->data);
    }
    char path[512]; Err e = {0};
    snprintf(path, sizeof path, "%s/diffusion_pytorch_model-00001-of-00002.safetensors", dir);
    assert_int_equal(stw_write(&a, path, &e), 0);
    snprintf(path, sizeof path, "%s/diffusion_pytorch_model-00002-of-00002.safetensors", dir);
    assert_int_equal(stw_write(&b, path, &e), 0);
    snprintf(path, sizeof path, "%s/config.json", dir);
    write_text(path, cfg_text);
    stw_free(&a); stw_free(&b);
}

static void bf16_round(const char *cfg_text) {
    Vae mem; build_random(&mem, cfg_text, DT_BF16);
    char *dir = tmpdir_make();
    write_bf16_shards(&mem, dir, cfg_text);
    Vae disk; Err e = {0};
    if (vae_load(&disk, dir, &e)) fail_msg("%s", e.msg);
    assert_int_equal(disk.net.p[0].dtype, DT_BF16);    /* bound in place, not widened */
    enum { H = 16, W = 24 };
    float img[3 * H * W], l1[4 * 2 * 3], l2[4 * 2 * 3], o1[3 * H * W], o2[3 * H * W];
    Rng r; rng_seed(&r, 5);
    rng_fill_uniform(&r, img, 3 * H * W, -1, 1);
    assert_int_equal(vae_encode(&mem, img, H, W, VAE_LATENT_MODE, NULL, l1, &e), 0);
    assert_int_equal(vae_encode(&disk, img, H, W, VAE_LATENT_MODE, NULL, l2, &e), 0);
    assert_memory_equal(l1, l2, sizeof l1);
    assert_int_equal(vae_decode(&mem, l1, 2, 3, o1, &e), 0);
    assert_int_equal(vae_decode(&disk, l1, 2, 3, o2, &e), 0);
    assert_memory_equal(o1, o2, sizeof o1);
    vae_free(&disk); vae_free(&mem);
    tmpdir_remove(dir);
}

static void test_bf16_sharded_qwen(void **state) { (void)state; bf16_round(TINY_QWEN_VAE_CONFIG); }
static void test_bf16_sharded_flux(void **state) { (void)state; bf16_round(TINY_FLUX_VAE_CONFIG); }

/* vae_save writes a folder vae_load reads back to the same model (declared table incl. the
 * unused temporal convs of the Qwen 3-D resamplers). */
static void test_save_load(void **state) {
    (void)state;
    Vae mem; build_random(&mem, TINY_QWEN_VAE_CONFIG, DT_F32);
    char *dir = tmpdir_make(), sub[600];
    snprintf(sub, sizeof sub, "%s/vae", dir);
    cJSON *cfg = cJSON_Parse(TINY_QWEN_VAE_CONFIG);
    Err e = {0};
    if (vae_save(&mem, cfg, sub, &e)) fail_msg("%s", e.msg);
    cJSON_Delete(cfg);
    Vae disk;
    if (vae_load(&disk, sub, &e)) fail_msg("%s", e.msg);
    assert_int_equal(disk.net.np, mem.net.np);
    int time_convs = 0;
    for (int i = 0; i < disk.net.np; i++) time_convs += strstr(disk.net.p[i].name, "time_conv.weight") != NULL;
    assert_int_equal(time_convs, 4);    /* temperal_downsample [false, true, true]: 2 encoder + 2 decoder */
    enum { H = 16, W = 16 };
    float img[3 * H * W], l1[4 * 2 * 2], l2[4 * 2 * 2];
    Rng r; rng_seed(&r, 6);
    rng_fill_uniform(&r, img, 3 * H * W, -1, 1);
    assert_int_equal(vae_encode(&mem, img, H, W, VAE_LATENT_MODE, NULL, l1, &e), 0);
    assert_int_equal(vae_encode(&disk, img, H, W, VAE_LATENT_MODE, NULL, l2, &e), 0);
    assert_memory_equal(l1, l2, sizeof l1);
    vae_free(&disk); vae_free(&mem);
    tmpdir_remove(dir);
}

/* After caching, training drops the VAE checkpoint's resident pages (vae_release_pages); the next
 * use faults them back in from the file and computes the same latents. */
static void test_release_pages(void **state) {
    (void)state;
    cJSON *cfg = vae_init_qwen_config(SIZE_SMALL);
    Vae mem;
    Err e = {0};
    if (vae_init_random(&mem, cfg, 4, DT_BF16, &e)) fail_msg("%s", e.msg);
    char *dir = tmpdir_make(), sub[600];
    snprintf(sub, sizeof sub, "%s/vae", dir);
    if (vae_save(&mem, cfg, sub, &e)) fail_msg("%s", e.msg);
    cJSON_Delete(cfg);
    vae_free(&mem);
    Vae disk;
    if (vae_load(&disk, sub, &e)) fail_msg("%s", e.msg);
    enum { H = 32, W = 32 };
    const int C = vae_latent_channels(&disk), f = vae_factor(&disk);
    float img[3 * H * W], *l1 = malloc((size_t)C * (H / f) * (W / f) * sizeof(float)), *l2 = malloc((size_t)C * (H / f) * (W / f) * sizeof(float));
    Rng r; rng_seed(&r, 7);
    rng_fill_uniform(&r, img, 3 * H * W, -1, 1);
    assert_int_equal(vae_encode(&disk, img, H, W, VAE_LATENT_MODE, NULL, l1, &e), 0);
    const void *map = disk.net.set.files[0].map;
    /* the decoder's weights are not read by encoding: read every byte once so the whole file counts */
    const unsigned char *b = map;
    unsigned sum = 0;
    for (size_t k = 0; k < disk.net.set.files[0].map_len; k += 1024) sum += b[k];
    long before = mem_mapping_rss_kib(map);
    vae_release_pages(&disk);
    long after = mem_mapping_rss_kib(map);
    if (!(before > 256 && after * 8 < before)) fail_msg("%ld KiB of the VAE checkpoint resident before the release, %ld after (sum %u)", before, after, sum);
    assert_int_equal(vae_encode(&disk, img, H, W, VAE_LATENT_MODE, NULL, l2, &e), 0);
    assert_memory_equal(l1, l2, (size_t)C * (H / f) * (W / f) * sizeof(float));
    free(l1); free(l2);
    vae_free(&disk);
    tmpdir_remove(dir);
}

static void test_errors(void **state) {
    (void)state;
    Vae v; Err e = {0};
    cJSON *bad = cJSON_Parse("{\"_class_name\": \"AutoencoderTiny\"}");
    assert_int_equal(vae_build(&v, bad, &e), -1);
    assert_contains(e.msg, "AutoencoderTiny");
    cJSON_Delete(bad);
    bad = cJSON_Parse("{\"_class_name\": \"AutoencoderKLQwenImage\", \"z_dim\": 4, \"latents_mean\": [0, 0], \"latents_std\": [1, 1]}");
    assert_int_equal(vae_build(&v, bad, &e), -1);
    assert_contains(e.msg, "latents_mean");
    cJSON_Delete(bad);

    /* a checkpoint missing one tensor, and one with a wrong shape */
    Vae mem; build_random(&mem, TINY_FLUX_VAE_CONFIG, DT_BF16);
    char *dir = tmpdir_make();
    StWriter w; stw_init(&w);
    for (int i = 1; i < mem.net.np; i++) {
        const VaeParam *p = &mem.net.p[i];
        stw_add(&w, p->name, DT_BF16, p->ndim, p->shape, p->data);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors", dir);
    assert_int_equal(stw_write(&w, path, &e), 0);
    snprintf(path, sizeof path, "%s/config.json", dir);
    write_text(path, TINY_FLUX_VAE_CONFIG);
    assert_int_equal(vae_load(&v, dir, &e), -1);
    assert_contains(e.msg, mem.net.p[0].name);
    const VaeParam *p0 = &mem.net.p[0];
    int64_t wrong[5];
    for (int d = 0; d < p0->ndim; d++) wrong[d] = p0->shape[d];
    wrong[0] += 1;
    size_t n = 1;
    for (int d = 0; d < p0->ndim; d++) n *= (size_t)wrong[d];
    uint16_t *zeros = calloc(n, 2);
    stw_add(&w, p0->name, DT_BF16, p0->ndim, wrong, zeros);
    snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors", dir);
    assert_int_equal(stw_write(&w, path, &e), 0);
    assert_int_equal(vae_load(&v, dir, &e), -1);
    assert_contains(e.msg, p0->name);
    free(zeros);
    stw_free(&w);
    vae_free(&mem);
    tmpdir_remove(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv2d_matches_naive),
        cmocka_unit_test(test_norms_match_naive),
        cmocka_unit_test(test_api_qwen),
        cmocka_unit_test(test_api_flux),
        cmocka_unit_test(test_bf16_sharded_qwen),
        cmocka_unit_test(test_bf16_sharded_flux),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_release_pages),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
