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

void groupnorm_backward(const float *dy, const float *x, int C, size_t hw, int groups, float eps,
                        const float *gamma, float *dx, float *dgamma, float *dbeta) {
    const int cpg = C / groups;
    #pragma omp parallel for schedule(dynamic)
    for (int g = 0; g < groups; g++) {
        const float *xg = x + (size_t)g * cpg * hw;
        size_t n = (size_t)cpg * hw;
        double sum = 0.0;
        for (size_t i = 0; i < n; i++) sum += xg[i];
        double mean = sum / (double)n, sq = 0.0;
        for (size_t i = 0; i < n; i++) { double d = xg[i] - mean; sq += d * d; }
        double rstd = 1.0 / sqrt(sq / (double)n + (double)eps);
        /* mean(g) and mean(g·x̂) over the group, and the per-channel parameter gradients */
        double sg = 0.0, sgx = 0.0;
        for (int c = g * cpg; c < (g + 1) * cpg; c++) {
            const float *xc = x + (size_t)c * hw, *dc = dy + (size_t)c * hw;
            double gm = gamma ? gamma[c] : 1.0, sd = 0.0, sdx = 0.0;
            for (size_t i = 0; i < hw; i++) {
                double xh = (xc[i] - mean) * rstd;
                sd += dc[i];
                sdx += dc[i] * xh;
            }
            sg += gm * sd;
            sgx += gm * sdx;
            if (dgamma) dgamma[c] += (float)sdx;
            if (dbeta) dbeta[c] += (float)sd;
        }
        float mg = (float)(sg / (double)n), mgx = (float)(sgx / (double)n), r = (float)rstd, m = (float)mean;
        for (int c = g * cpg; c < (g + 1) * cpg; c++) {
            const float *xc = x + (size_t)c * hw, *dc = dy + (size_t)c * hw;
            float *oc = dx + (size_t)c * hw, gm = gamma ? gamma[c] : 1.0f;
            for (size_t i = 0; i < hw; i++) {
                float xh = (xc[i] - m) * r;
                oc[i] = r * (dc[i] * gm - mg - xh * mgx);
            }
        }
    }
}

void channel_l2norm_backward(const float *dy, const float *x, int C, size_t hw, const float *gamma,
                             float *dx, float *dgamma) {
    /* per pixel: inv = 1/n and k = inv³·Σ_c gamma·dy·x (0 where the norm is clamped) */
    float *inv = xmalloc(2 * hw * sizeof(float)), *kk = inv + hw;
    const float root_c = sqrtf((float)C);
    enum { BLOCK = 512 };
    size_t nblocks = (hw + BLOCK - 1) / BLOCK;
    #pragma omp parallel for schedule(static)
    for (size_t blk = 0; blk < nblocks; blk++) {
        size_t i0 = blk * BLOCK, n = hw - i0 < BLOCK ? hw - i0 : BLOCK;
        double s[BLOCK], d[BLOCK];
        for (size_t i = 0; i < n; i++) s[i] = d[i] = 0.0;
        for (int c = 0; c < C; c++) {
            const float *xc = x + (size_t)c * hw + i0, *dc = dy + (size_t)c * hw + i0;
            double gm = gamma ? gamma[c] : 1.0;
            for (size_t i = 0; i < n; i++) { s[i] += (double)xc[i] * xc[i]; d[i] += gm * dc[i] * xc[i]; }
        }
        for (size_t i = 0; i < n; i++) {
            double norm = sqrt(s[i]);
            double iv = 1.0 / (norm > 1e-12 ? norm : 1e-12);
            inv[i0 + i] = (float)iv;
            kk[i0 + i] = norm > 1e-12 ? (float)(d[i] * iv * iv * iv) : 0.0f;
        }
    }
    #pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        float gm = gamma ? gamma[c] : 1.0f;
        const float *xc = x + (size_t)c * hw, *dc = dy + (size_t)c * hw;
        float *oc = dx + (size_t)c * hw;
        double dg = 0.0;
        for (size_t i = 0; i < hw; i++) {
            oc[i] = root_c * (gm * dc[i] * inv[i] - xc[i] * kk[i]);
            dg += (double)dc[i] * xc[i] * inv[i];
        }
        if (dgamma) dgamma[c] += (float)(dg * root_c);
    }
    free(inv);
}
