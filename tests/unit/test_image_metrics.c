/* PSNR and SSIM against values computed independently.
 *
 * The expected numbers come from a pure-Python script (double precision) that builds the same
 * formula-defined 16x13 RGB images and evaluates SSIM directly: for every valid 11x11 window
 * position, the Gaussian-weighted (σ 1.5, normalised) means, variances and covariance, then the
 * SSIM expression with C1 = (0.01·255)², C2 = (0.03·255)², averaged per channel and over R, G, B;
 * PSNR = 10·log10(255² / MSE). It printed:
 *   psnr(B,A) 24.6595058507 ssim(B,A) 0.9755525511
 *   psnr(I,A)  4.7714411766 ssim(I,A) -0.9256481371 */
#include "test_util.h"
#include "image/image_metrics.h"
#include <math.h>

enum { W = 16, H = 13 };
static int pa(int x, int y, int c) { return (x * 37 + y * 11 + c * 71 + ((x * y) % 7) * 9) % 256; }
static int pb(int x, int y, int c) { int v = pa(x, y, c) + (((x * 5 + y * 3 + c) % 9) - 4) * 6; return v < 0 ? 0 : v > 255 ? 255 : v; }
static int pi_(int x, int y, int c) { return 255 - pa(x, y, c); }

static Image make(int (*f)(int, int, int)) {
    Image im = { W, H, 3, malloc(W * H * 3) };
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 3; c++) im.data[(y * W + x) * 3 + c] = (uint8_t)f(x, y, c);
    return im;
}

static void test_against_reference(void **state) {
    (void)state;
    Image a = make(pa), b = make(pb), inv = make(pi_);
    assert_float_equal(image_psnr(&b, &a), 24.6595058507, 1e-6);
    assert_float_equal(image_ssim(&b, &a), 0.9755525511, 1e-6);
    assert_float_equal(image_psnr(&inv, &a), 4.7714411766, 1e-6);
    assert_float_equal(image_ssim(&inv, &a), -0.9256481371, 1e-6);
    /* symmetric; identical images: PSNR +inf, SSIM 1 */
    assert_float_equal(image_ssim(&a, &b), image_ssim(&b, &a), 1e-12);
    assert_true(isinf(image_psnr(&a, &a)) && image_psnr(&a, &a) > 0);
    assert_float_equal(image_ssim(&a, &a), 1.0, 1e-12);
    /* the f32 form on [-1, 1] data gives the same numbers */
    float *fa = malloc(3 * W * H * 4), *fb = malloc(3 * W * H * 4);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < W * H; i++) {
            fa[c * W * H + i] = a.data[i * 3 + c] / 127.5f - 1.0f;
            fb[c * W * H + i] = b.data[i * 3 + c] / 127.5f - 1.0f;
        }
    assert_float_equal(metrics_psnr_f32(fb, fa, 3 * W * H, -1.0, 1.0), 24.6595058507, 1e-4);
    assert_float_equal(metrics_ssim_f32(fb, fa, 3, H, W, -1.0, 1.0), 0.9755525511, 1e-5);
    free(fa); free(fb);
    image_free(&a); image_free(&b); image_free(&inv);
}

static void test_hand_values(void **state) {
    (void)state;
    /* off by one everywhere: MSE 1, PSNR = 20·log10(255) = 48.1308 dB */
    Image a = { 12, 12, 3, malloc(12 * 12 * 3) }, b = { 12, 12, 3, malloc(12 * 12 * 3) };
    for (int i = 0; i < 12 * 12 * 3; i++) { a.data[i] = (uint8_t)(i % 200); b.data[i] = (uint8_t)(i % 200 + 1); }
    assert_float_equal(image_psnr(&b, &a), 48.1308036087, 1e-6);
    /* flat images 100 and 110: no variance, SSIM = (2·100·110 + C1) / (100² + 110² + C1), C1 = 6.5025 */
    memset(a.data, 100, 12 * 12 * 3); memset(b.data, 110, 12 * 12 * 3);
    assert_float_equal(image_ssim(&b, &a), (22000 + 6.5025) / (22100 + 6.5025), 1e-9);
    /* too small for one 11x11 window, or different sizes: NaN */
    Image s = { 10, 12, 3, a.data };
    assert_true(isnan(image_ssim(&s, &s)));
    assert_true(isnan(image_psnr(&s, &a)));
    image_free(&a); image_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_against_reference), cmocka_unit_test(test_hand_values) };
    return cmocka_run_group_tests_name("image_metrics", tests, NULL, NULL);
}
