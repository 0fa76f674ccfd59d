/* groupnorm.h — normalisations over the channels of CHW images (the VAEs' norms), forward and backward.
 *
 * groupnorm: torch.nn.GroupNorm — per group of C/G channels, mean and biased variance over
 *   (C/G)*HW values, y = (x - mean) / sqrt(var + eps) * gamma[c] + beta[c].
 * channel_l2norm: the Wan / Qwen-Image VAE "RMS_norm" — per pixel, x divided by its L2 norm over
 *   the channels (at least 1e-12, as F.normalize), times sqrt(C) * gamma[c]. */
#ifndef ST_KERNELS_GROUPNORM_H
#define ST_KERNELS_GROUPNORM_H
#include <stddef.h>

/* x, y [C, hw] (y may alias x); gamma, beta [C] (either may be NULL: 1 / 0). */
void groupnorm_forward(const float *x, int C, size_t hw, int groups, float eps,
                       const float *gamma, const float *beta, float *y);
void channel_l2norm_forward(const float *x, int C, size_t hw, const float *gamma, float *y);

/* Backward from the forward's input x (statistics recomputed): dx [C, hw] overwritten (must not
 * alias dy or x); dgamma, dbeta [C] accumulated into (NULL: not wanted). gamma NULL = ones.
 *   groupnorm:      x̂ = (x − mean)·rstd, g = dy·gamma:  dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) per group;
 *                   dgamma += Σ dy·x̂, dbeta += Σ dy.
 *   channel_l2norm: n = |x| over channels, s = √C:  dx = s·(gamma·dy)/n − s·x·Σ_c(gamma·dy·x)/n³
 *                   (the second term vanishes where n is clamped at 1e-12); dgamma += Σ dy·s·x/n. */
void groupnorm_backward(const float *dy, const float *x, int C, size_t hw, int groups, float eps,
                        const float *gamma, float *dx, float *dgamma, float *dbeta);
void channel_l2norm_backward(const float *dy, const float *x, int C, size_t hw, const float *gamma,
                             float *dx, float *dgamma);

#endif
