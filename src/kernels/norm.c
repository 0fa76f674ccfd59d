#include "kernels/norm.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

void layernorm_forward(const float *x, int ldx, int n, int C, float eps, float *y, int ldy, float *mean, float *rstd) {
    #pragma omp parallel for schedule(static) if ((long)n * C > 32768)
    for (int i = 0; i < n; i++) {
        const float *xr = x + (size_t)i * ldx;
        float *yr = y + (size_t)i * ldy;
        double s = 0, ss = 0;
        for (int c = 0; c < C; c++) s += xr[c];
        float m = (float)(s / C);
        for (int c = 0; c < C; c++) { double d = xr[c] - m; ss += d * d; }
        float r = 1.0f / sqrtf((float)(ss / C) + eps);
        for (int c = 0; c < C; c++) yr[c] = (xr[c] - m) * r;
        if (mean) mean[i] = m;
        if (rstd) rstd[i] = r;
    }
}

void layernorm_backward(const float *dy, int lddy, const float *x, int ldx, int n, int C, const float *mean,
                        const float *rstd, float *dx, int lddx, int accumulate) {
    #pragma omp parallel for schedule(static) if ((long)n * C > 32768)
    for (int i = 0; i < n; i++) {
        const float *g = dy + (size_t)i * lddy, *xr = x + (size_t)i * ldx;
        float *d = dx + (size_t)i * lddx;
        float m = mean[i], r = rstd[i];
        double sg = 0, sgx = 0;
        for (int c = 0; c < C; c++) { float xh = (xr[c] - m) * r; sg += g[c]; sgx += g[c] * xh; }
        float mg = (float)(sg / C), mgx = (float)(sgx / C);
        for (int c = 0; c < C; c++) {
            float xh = (xr[c] - m) * r;
            float v = r * (g[c] - mg - xh * mgx);
            d[c] = accumulate ? d[c] + v : v;
        }
    }
}

void rmsnorm_forward(const float *x, int ldx, int n, int C, const float *w, float eps, float *y, int ldy, float *rstd) {
    #pragma omp parallel for schedule(static) if ((long)n * C > 32768)
    for (int i = 0; i < n; i++) {
        const float *xr = x + (size_t)i * ldx;
        float *yr = y + (size_t)i * ldy;
        double ss = 0;
        for (int c = 0; c < C; c++) ss += (double)xr[c] * xr[c];
        float r = 1.0f / sqrtf((float)(ss / C) + eps);
        for (int c = 0; c < C; c++) yr[c] = w ? (xr[c] * r) * w[c] : xr[c] * r;
        if (rstd) rstd[i] = r;
    }
}

void rmsnorm_backward(const float *dy, int lddy, const float *x, int ldx, int n, int C, const float *w,
                      const float *rstd, float *dx, int lddx, float *dw, int accumulate) {
    #pragma omp parallel for schedule(static) if ((long)n * C > 32768)
    for (int i = 0; i < n; i++) {
        const float *gr = dy + (size_t)i * lddy, *xr = x + (size_t)i * ldx;
        float *d = dx + (size_t)i * lddx;
        float r = rstd[i];
        double s = 0;
        for (int c = 0; c < C; c++) { float g = w ? gr[c] * w[c] : gr[c]; s += g * (xr[c] * r); }
        float mgx = (float)(s / C);
        for (int c = 0; c < C; c++) {
            float g = w ? gr[c] * w[c] : gr[c];
            float v = r * (g - xr[c] * r * mgx);
            d[c] = accumulate ? d[c] + v : v;
        }
    }
    if (dw)
        for (int i = 0; i < n; i++) {
            const float *gr = dy + (size_t)i * lddy, *xr = x + (size_t)i * ldx;
            for (int c = 0; c < C; c++) dw[c] += gr[c] * xr[c] * rstd[i];
        }
}
