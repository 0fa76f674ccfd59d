/* image_metrics.c — PSNR and SSIM; see image_metrics.h. Sums in double. */
#include "image/image_metrics.h"
#include "base/error.h"
#include <math.h>
#include <stdlib.h>

enum { WIN = 11, HALF = 5 };

double metrics_psnr_f32(const float *result, const float *target, size_t n, double lo, double hi) {
    double se = 0.0, range = hi - lo;
    for (size_t i = 0; i < n; i++) { double d = (double)result[i] - target[i]; se += d * d; }
    if (se == 0.0) return INFINITY;
    return 10.0 * log10(range * range / (se / (double)n));
}

/* The normalised 1-D Gaussian of the separable 11x11 window. */
static void gauss_taps(double *g) {
    double s = 0.0;
    for (int i = 0; i < WIN; i++) { g[i] = exp(-(double)((i - HALF) * (i - HALF)) / (2.0 * 1.5 * 1.5)); s += g[i]; }
    for (int i = 0; i < WIN; i++) g[i] /= s;
}

/* out [(H-10), (W-10)] = the window-weighted sum of f over each valid window (rows then columns). */
static void gauss_valid(const double *f, int H, int W, const double *g, double *tmp, double *out) {
    const int oh = H - 2 * HALF, ow = W - 2 * HALF;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < ow; x++) {
            double s = 0.0;
            for (int k = 0; k < WIN; k++) s += g[k] * f[(size_t)y * W + x + k];
            tmp[(size_t)y * ow + x] = s;
        }
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
            double s = 0.0;
            for (int k = 0; k < WIN; k++) s += g[k] * tmp[(size_t)(y + k) * ow + x];
            out[(size_t)y * ow + x] = s;
        }
}

/* Mean SSIM of one channel; a, b [H, W] as double. */
static double ssim_plane(const double *a, const double *b, int H, int W, double range, double *work) {
    const size_t n = (size_t)H * W, on = (size_t)(H - 2 * HALF) * (W - 2 * HALF);
    double g[WIN];
    gauss_taps(g);
    double *prod = work, *tmp = prod + n, *mu_a = tmp + n, *mu_b = mu_a + on, *saa = mu_b + on, *sbb = saa + on, *sab = sbb + on;
    gauss_valid(a, H, W, g, tmp, mu_a);
    gauss_valid(b, H, W, g, tmp, mu_b);
    for (size_t i = 0; i < n; i++) prod[i] = a[i] * a[i];
    gauss_valid(prod, H, W, g, tmp, saa);
    for (size_t i = 0; i < n; i++) prod[i] = b[i] * b[i];
    gauss_valid(prod, H, W, g, tmp, sbb);
    for (size_t i = 0; i < n; i++) prod[i] = a[i] * b[i];
    gauss_valid(prod, H, W, g, tmp, sab);
    const double c1 = (0.01 * range) * (0.01 * range), c2 = (0.03 * range) * (0.03 * range);
    double sum = 0.0;
    for (size_t i = 0; i < on; i++) {
        double ma = mu_a[i], mb = mu_b[i];
        double va = saa[i] - ma * ma, vb = sbb[i] - mb * mb, cab = sab[i] - ma * mb;
        sum += (2.0 * ma * mb + c1) * (2.0 * cab + c2) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
    }
    return sum / (double)on;
}

double metrics_ssim_f32(const float *result, const float *target, int C, int H, int W, double lo, double hi) {
    if (H < WIN || W < WIN || C < 1) return NAN;
    const size_t n = (size_t)H * W, on = (size_t)(H - 2 * HALF) * (W - 2 * HALF);
    double *a = xmalloc(2 * n * sizeof(double)), *b = a + n;
    double *work = xmalloc((2 * n + 5 * on) * sizeof(double));
    double total = 0.0;
    for (int c = 0; c < C; c++) {
        for (size_t i = 0; i < n; i++) {
            a[i] = (result[(size_t)c * n + i] - lo) / (hi - lo);
            b[i] = (target[(size_t)c * n + i] - lo) / (hi - lo);
        }
        total += ssim_plane(a, b, H, W, 1.0, work);
    }
    free(a);
    free(work);
    return total / C;
}

/* HWC 8-bit -> CHW float */
static float *planes(const Image *im) {
    const size_t n = (size_t)im->width * im->height;
    float *f = xmalloc(n * (size_t)im->channels * sizeof(float));
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < im->channels; c++) f[(size_t)c * n + i] = im->data[i * (size_t)im->channels + (size_t)c];
    return f;
}

double image_psnr(const Image *result, const Image *target) {
    if (result->width != target->width || result->height != target->height || result->channels != target->channels) return NAN;
    float *a = planes(result), *b = planes(target);
    double p = metrics_psnr_f32(a, b, (size_t)result->width * result->height * (size_t)result->channels, 0.0, 255.0);
    free(a); free(b);
    return p;
}

double image_ssim(const Image *result, const Image *target) {
    if (result->width != target->width || result->height != target->height || result->channels != target->channels) return NAN;
    float *a = planes(result), *b = planes(target);
    double s = metrics_ssim_f32(a, b, result->channels, result->height, result->width, 0.0, 255.0);
    free(a); free(b);
    return s;
}
