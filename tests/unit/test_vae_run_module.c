/* test_vae_run_module.c — the run-module VAE component takes every shape from its inputs: a batch
 * of two images of another size than the golden's and a batch of two golden latents. Each batch
 * item must equal the single-item result (the golden decode for the golden latent). */
#include "test_util.h"
#include "cli/run_module/run_module.h"
#include "tensor/safetensors.h"
#include <math.h>

#define GOLDEN "tests/golden/qwenimage_vae"

static void copy_file(const char *from, const char *to) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    assert_int_equal(system(cmd), 0);
}

static float max_diff(const float *a, const float *b, size_t n) {
    float m = 0;
    for (size_t i = 0; i < n; i++) m = fmaxf(m, fabsf(a[i] - b[i]));
    return m;
}

static void test_batch_and_other_size(void **state) {
    (void)state;
    char *dir = tmpdir_make(), path[600], out[600];
    snprintf(path, sizeof path, "%s/config.json", dir); copy_file(GOLDEN "/config.json", path);
    snprintf(path, sizeof path, "%s/weights.safetensors", dir); copy_file(GOLDEN "/weights.safetensors", path);
    StFile g; Err e = {0};
    if (st_open(&g, GOLDEN "/io.safetensors", &e)) fail_msg("%s", e.msg);
    const StTensor *gx = st_find(&g, "x"), *gz = st_find(&g, "z"), *gdz = st_find(&g, "dec_z.sample");
    assert_non_null(gx); assert_non_null(gz); assert_non_null(gdz);
    float *x = st_to_f32(gx), *z = st_to_f32(gz), *dz = st_to_f32(gdz);
    /* x: the top-left 16x24 crop of the golden image, twice */
    const int H = (int)gx->shape[3], W = (int)gx->shape[4], h = 16, w = 24;
    float *xb = malloc(2 * 3 * h * w * sizeof(float));
    for (int b = 0; b < 2; b++)
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < h; y++)
                memcpy(xb + ((size_t)(b * 3 + c) * h + y) * w, x + ((size_t)c * H + y) * W, w * sizeof(float));
    float *zb = malloc(2 * gz->numel * sizeof(float));
    memcpy(zb, z, gz->numel * sizeof(float)); memcpy(zb + gz->numel, z, gz->numel * sizeof(float));
    StWriter io; stw_init(&io);
    int64_t xs[5] = { 2, 3, 1, h, w }, zs[5];
    for (int d = 0; d < 5; d++) zs[d] = gz->shape[d];
    zs[0] = 2;
    stw_add_f32(&io, "x", 5, xs, xb);
    stw_add_f32(&io, "z", 5, zs, zb);
    snprintf(path, sizeof path, "%s/io.safetensors", dir);
    assert_int_equal(stw_write(&io, path, &e), 0);
    stw_free(&io);

    snprintf(out, sizeof out, "%s/out.safetensors", dir);
    char *argv[] = { dir, "--output", out };
    if (cmd_run_module(3, argv, &e)) fail_msg("%s", e.msg);
    StFile o;
    if (st_open(&o, out, &e)) fail_msg("%s", e.msg);
    const StTensor *mean = st_find(&o, "enc.mean"), *dec = st_find(&o, "dec_z.sample");
    assert_non_null(mean); assert_non_null(dec);
    assert_int_equal(mean->ndim, 5);
    assert_int_equal(mean->shape[0], 2); assert_int_equal(mean->shape[3], h / 8); assert_int_equal(mean->shape[4], w / 8);
    float *m = st_to_f32(mean), *d = st_to_f32(dec);
    size_t per = mean->numel / 2;
    assert_true(max_diff(m, m + per, per) == 0.0f);
    float scale = 0;
    for (size_t i = 0; i < gdz->numel; i++) scale = fmaxf(scale, fabsf(dz[i]));
    assert_true(max_diff(d, dz, gdz->numel) <= 1e-4f * scale);
    assert_true(max_diff(d + gdz->numel, dz, gdz->numel) <= 1e-4f * scale);
    free(m); free(d); st_close(&o);
    free(x); free(z); free(dz); free(xb); free(zb); st_close(&g);
    tmpdir_remove(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_and_other_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
