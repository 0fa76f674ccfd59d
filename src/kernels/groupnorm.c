/* groupnorm.c — GroupNorm and the per-pixel channel L2 norm; statistics accumulated in double. */
#include "kernels/groupnorm.h"
#include "base/error.h"
#include <math.h>
#include <stdlib.h>

void groupnorm_forward(const float *x, int C, size_t hw, int groups, float eps,
                       const float *gamma, const float *beta, float *y) {
    const int cpg = C / groups;
    /* one parallel region over the groups: a region per group costs more in barriers than the
     * work itself when the cores are shared */
    #pragma omp parallel for schedule(dynamic)
    for (int g = 0; g < groups; g++) {
        const float *xg = x + (size_t)g * cpg * hw;
        size_t n = (size_t)cpg * hw;
        double sum = 0.0;
        for (size_t i = 0; i < n; i++) sum += xg[i];
        double mean = sum / (double)n, sq = 0.0;
        /* two passes: the variance of activations with a large mean stays exact */
        for (size_t i = 0; i < n; i++) { double d = xg[i] - mean; sq += d * d; }
        float inv = (float)(1.0 / sqrt(sq / (double)n + (double)eps)), m = (float)mean;
        for (int c = g * cpg; c < (g + 1) * cpg; c++) {
            float sc = inv * (gamma ? gamma[c] : 1.0f), sh = beta ? beta[c] : 0.0f;
            const float *xc = x + (size_t)c * hw;
            float *yc = y + (size_t)c * hw;
            for (size_t i = 0; i < hw; i++) yc[i] = (xc[i] - m) * sc + sh;
        }
    }
}

void channel_l2norm_forward(const float *x, int C, size_t hw, const float *gamma, float *y) {
    float *inv = xmalloc(hw * sizeof(float));
    const float root_c = sqrtf((float)C);
    /* sums of squares per pixel, walking channels in memory order over blocks of pixels */
    enum { BLOCK = 512 };
    size_t nblocks = (hw + BLOCK - 1) / BLOCK;
    #pragma omp parallel for schedule(static)
    for (size_t blk = 0; blk < nblocks; blk++) {
        size_t i0 = blk * BLOCK, n = hw - i0 < BLOCK ? hw - i0 : BLOCK;
        double s[BLOCK];
        for (size_t i = 0; i < n; i++) s[i] = 0.0;
        for (int c = 0; c < C; c++) {
            const float *xc = x + (size_t)c * hw + i0;
            for (size_t i = 0; i < n; i++) s[i] += (double)xc[i] * xc[i];
        }
        for (size_t i = 0; i < n; i++) {
            double norm = sqrt(s[i]);
            inv[i0 + i] = (float)(1.0 / (norm > 1e-12 ? norm : 1e-12));
        }
    }
    #pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        float sc = root_c * (gamma ? gamma[c] : 1.0f);
        const float *xc = x + (size_t)c * hw;
        float *yc = y + (size_t)c * hw;
        for (size_t i = 0; i < hw; i++) yc[i] = xc[i] * inv[i] * sc;
    }
    free(inv);
}
