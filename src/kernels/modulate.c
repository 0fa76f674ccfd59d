#include "kernels/modulate.h"
#include <stddef.h>

#define SET(p, i) ((p) + (size_t)(sel ? sel[i] : 0) * ld_set)

void modulate_forward(const float *x, int ldx, int n, int C, const float *shift, const float *scale, int ld_set,
                      const int *sel, float *y, int ldy) {
    #pragma omp parallel for schedule(static) if ((long)n * C > 65536)
    for (int i = 0; i < n; i++) {
        const float *xr = x + (size_t)i * ldx, *sh = SET(shift, i), *sc = SET(scale, i);
        float *yr = y + (size_t)i * ldy;
        for (int c = 0; c < C; c++) yr[c] = xr[c] * (1.0f + sc[c]) + sh[c];
    }
}

void modulate_backward(const float *dy, int lddy, const float *x, int ldx, int n, int C, const float *scale, int ld_set,
                       const int *sel, float *dx, int lddx, int accumulate, float *dshift, float *dscale) {
    #pragma omp parallel for schedule(static) if ((long)n * C > 65536)
    for (int i = 0; i < n; i++) {
        const float *g = dy + (size_t)i * lddy, *sc = SET(scale, i);
        float *d = dx + (size_t)i * lddx;
        for (int c = 0; c < C; c++) { float v = g[c] * (1.0f + sc[c]); d[c] = accumulate ? d[c] + v : v; }
    }
    if (dshift || dscale)
        for (int i = 0; i < n; i++) {
            const float *g = dy + (size_t)i * lddy, *xr = x + (size_t)i * ldx;
            float *ds = dshift ? SET(dshift, i) : NULL, *dc = dscale ? SET(dscale, i) : NULL;
            for (int c = 0; c < C; c++) { if (ds) ds[c] += g[c]; if (dc) dc[c] += g[c] * xr[c]; }
        }
}

void gate_residual_forward(float *x, int ldx, const float *y, int ldy, int n, int C, const float *gate, int ld_set, const int *sel) {
    #pragma omp parallel for schedule(static) if ((long)n * C > 65536)
    for (int i = 0; i < n; i++) {
        float *xr = x + (size_t)i * ldx;
        const float *yr = y + (size_t)i * ldy, *g = SET(gate, i);
        for (int c = 0; c < C; c++) xr[c] += g[c] * yr[c];
    }
}

void gate_residual_backward(const float *dx, int lddx, const float *y, int ldy, int n, int C, const float *gate, int ld_set,
                            const int *sel, float *dy, int lddy, int accumulate, float *dgate) {
    #pragma omp parallel for schedule(static) if ((long)n * C > 65536)
    for (int i = 0; i < n; i++) {
        const float *d = dx + (size_t)i * lddx, *g = SET(gate, i);
        float *o = dy + (size_t)i * lddy;
        for (int c = 0; c < C; c++) { float v = g[c] * d[c]; o[c] = accumulate ? o[c] + v : v; }
    }
    if (dgate)
        for (int i = 0; i < n; i++) {
            const float *d = dx + (size_t)i * lddx, *yr = y + (size_t)i * ldy;
            float *dg = SET(dgate, i);
            for (int c = 0; c < C; c++) dg[c] += d[c] * yr[c];
        }
}
