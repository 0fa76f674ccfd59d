/* modulate.h — adaptive-norm modulation y = x·(1 + scale) + shift and the gated residual
 * x += gate·y, with one (shift, scale, gate) set per row chosen by sel[row] (NULL = set 0).
 * Sets are rows of [n_sets, C] arrays (Qwen zero_cond_t modulates reference tokens with a second
 * set; batch samples each have their own set). */
#ifndef ST_KERNELS_MODULATE_H
#define ST_KERNELS_MODULATE_H

void modulate_forward(const float *x, int ldx, int n, int C, const float *shift, const float *scale, int ld_set,
                      const int *sel, float *y, int ldy);
/* dx (+)= dy·(1 + scale);  dshift[set] += Σ dy;  dscale[set] += Σ dy·x (dshift/dscale may be NULL). */
void modulate_backward(const float *dy, int lddy, const float *x, int ldx, int n, int C, const float *scale, int ld_set,
                       const int *sel, float *dx, int lddx, int accumulate, float *dshift, float *dscale);
/* x += gate[set]·y */
void gate_residual_forward(float *x, int ldx, const float *y, int ldy, int n, int C, const float *gate, int ld_set, const int *sel);
/* dy (+)= gate·dx (the residual passes dx through unchanged);  dgate[set] += Σ dx·y. */
void gate_residual_backward(const float *dx, int lddx, const float *y, int ldy, int n, int C, const float *gate, int ld_set,
                            const int *sel, float *dy, int lddy, int accumulate, float *dgate);

#endif
