/* test_vae_tiling.c — tiled encode / decode against the untiled result on tiny random-weight models.
 *
 * Stated tolerances (see vae.h). Every convolution inside a tile is exact and the blend ignores the
 * outer quarter of each overlap, so a purely local network (here the Qwen VAE with its attention
 * output projections zeroed: convolutions and per-pixel norms only) matches the untiled result to
 * LOCAL_TOL_MEAN / LOCAL_TOL_MAX. The full models also see less context per tile — the mid-block
 * attention runs over the tile only and, for AutoencoderKL, GroupNorm statistics are per tile, as in
 * diffusers' tiled paths — which on these random-weight models (where attention mixes almost
 * uniformly) costs up to FULL_TOL_ENC / FULL_TOL_DEC_* in mean absolute difference relative to the
 * mean absolute value. A wrong tile offset or blend weight gives differences of order 1.
 * Differences: mean |a - b| / mean |b| and max |a - b| / max |b|. */
#include "test_util.h"
#include "test_vae_fixtures.h"
#include "base/rng.h"
#include "models/vae/vae.h"
#include <math.h>

#define LOCAL_TOL_MEAN 5e-4f
#define LOCAL_TOL_MAX 1e-2f
#define FULL_TOL_ENC 0.05f
#define FULL_TOL_DEC_QWEN 0.1f
#define FULL_TOL_DEC_FLUX 0.35f

typedef struct { float mean_rel, max_rel; } Diff;

static Diff diff(const float *a, const float *b, size_t n) {
    double sum_d = 0, sum_b = 0; float max_d = 0, max_b = 0;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        sum_d += d; sum_b += fabsf(b[i]);
        max_d = fmaxf(max_d, d); max_b = fmaxf(max_b, fabsf(b[i]));
    }
    Diff r = { (float)(sum_d / sum_b), max_d / max_b };
    return r;
}

/* Untiled vs tiled (tile_px, overlap_px) encode and decode; returns the two differences. */
static void tiled_vs_untiled(Vae *v, int H, int W, int tile_px, int overlap_px, Diff *enc, Diff *dec) {
    const int zc = vae_latent_channels(v), h = H / 8, w = W / 8;
    size_t nimg = 3 * (size_t)H * W, nlat = (size_t)zc * h * w;
    float *img = malloc(nimg * 4), *p_full = malloc(2 * nlat * 4), *p_tile = malloc(2 * nlat * 4);
    float *d_full = malloc(nimg * 4), *d_tile = malloc(nimg * 4);
    for (int c = 0; c < 3; c++)     /* a smooth test image with structure at several scales */
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                img[((size_t)c * H + y) * W + x] = 0.8f * sinf(0.07f * (x + 2 * y) + c) * cosf(0.05f * (y - x));
    Err e = {0};
    v->tiling.tile_px = 0;
    assert_int_equal(vae_encode_params(v, img, H, W, NULL, p_full, &e), 0);
    assert_int_equal(vae_decode_raw(v, p_full, h, w, d_full, &e), 0);
    v->tiling.tile_px = tile_px; v->tiling.overlap_px = overlap_px;
    assert_int_equal(vae_encode_params(v, img, H, W, NULL, p_tile, &e), 0);
    assert_int_equal(vae_decode_raw(v, p_full, h, w, d_tile, &e), 0);
    *enc = diff(p_tile, p_full, 2 * nlat);
    *dec = diff(d_tile, d_full, nimg);
    /* several tiles really ran: an untiled run would be bit-identical */
    assert_true(enc->max_rel > 0 && dec->max_rel > 0);
    free(img); free(p_full); free(p_tile); free(d_full); free(d_tile);
}

static void build(Vae *v, const char *cfg_text) {
    cJSON *cfg = cJSON_Parse(cfg_text);
    Err e = {0};
    if (vae_init_random(v, cfg, 11, DT_F32, &e)) fail_msg("%s", e.msg);
    cJSON_Delete(cfg);
}

static void test_tiling_exact_for_local_net(void **state) {
    (void)state;
    Vae v; build(&v, TINY_QWEN_VAE_CONFIG);
    for (int i = 0; i < v.net.np; i++)
        if (strstr(v.net.p[i].name, ".proj.")) {
            size_t n = 1;
            for (int d = 0; d < v.net.p[i].ndim; d++) n *= (size_t)v.net.p[i].shape[d];
            memset((void *)v.net.p[i].data, 0, n * sizeof(float));   /* f32 random-init storage, owned */
        }
    Diff enc, dec;
    tiled_vs_untiled(&v, 384, 384, 320, 256, &enc, &dec);     /* 2 x 2 tiles */
    printf("# local: encode mean %.2e max %.2e, decode mean %.2e max %.2e\n", enc.mean_rel, enc.max_rel, dec.mean_rel, dec.max_rel);
    assert_true(enc.mean_rel < LOCAL_TOL_MEAN && enc.max_rel < LOCAL_TOL_MAX);
    assert_true(dec.mean_rel < LOCAL_TOL_MEAN && dec.max_rel < LOCAL_TOL_MAX);
    vae_free(&v);
}

static void full_round(const char *cfg_text, const char *name, float tol_dec) {
    Vae v; build(&v, cfg_text);
    Diff enc, dec;
    tiled_vs_untiled(&v, 320, 320, 256, 192, &enc, &dec);
    printf("# %s: encode mean %.3f max %.3f, decode mean %.3f max %.3f\n", name, enc.mean_rel, enc.max_rel, dec.mean_rel, dec.max_rel);
    assert_true(enc.mean_rel < FULL_TOL_ENC);
    assert_true(dec.mean_rel < tol_dec);
    vae_free(&v);
}

static void test_tiling_qwen(void **state) { (void)state; full_round(TINY_QWEN_VAE_CONFIG, "qwen", FULL_TOL_DEC_QWEN); }
static void test_tiling_flux(void **state) { (void)state; full_round(TINY_FLUX_VAE_CONFIG, "flux", FULL_TOL_DEC_FLUX); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiling_exact_for_local_net),
        cmocka_unit_test(test_tiling_qwen),
        cmocka_unit_test(test_tiling_flux),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
