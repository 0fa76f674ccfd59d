/* norm.h — LayerNorm without affine and RMSNorm with a weight, over the last dim C of n rows,
 * forward and backward. Statistics are kept from forward for backward (mean, rstd per row). */
#ifndef ST_KERNELS_NORM_H
#define ST_KERNELS_NORM_H

/* y = (x − mean)·rstd;  rstd = 1/√(var + eps), var the biased variance. mean/rstd [n] may be NULL. */
void layernorm_forward(const float *x, int ldx, int n, int C, float eps, float *y, int ldy, float *mean, float *rstd);
/* dx (+)= rstd·(dy − mean(dy) − x̂·mean(dy·x̂)); accumulate = 1 adds into dx. */
void layernorm_backward(const float *dy, int lddy, const float *x, int ldx, int n, int C, const float *mean,
                        const float *rstd, float *dx, int lddx, int accumulate);

/* y = x·rstd·w (w may be NULL = ones);  rstd = 1/√(mean(x²) + eps). rstd [n] may be NULL. */
void rmsnorm_forward(const float *x, int ldx, int n, int C, const float *w, float eps, float *y, int ldy, float *rstd);
/* dx (+)= rstd·(g − x̂·mean(g·x̂)) with g = dy·w, x̂ = x·rstd;  dw += Σ_rows dy·x̂ (dw may be NULL). */
void rmsnorm_backward(const float *dy, int lddy, const float *x, int ldx, int n, int C, const float *w,
                      const float *rstd, float *dx, int lddx, float *dw, int accumulate);

#endif
