/* image_metrics.h — full-reference image quality: PSNR and SSIM of a result against a target.
 *
 * PSNR = 10·log10(R² / MSE), MSE over every pixel and channel, R the data range (255 for 8-bit
 *   images). Identical images give +INFINITY.
 * SSIM (Wang, Bovik, Sheikh, Simoncelli 2004), as their reference code and scikit-image's
 *   structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
 *   data_range=R) compute it: local means, variances and covariance under an 11x11 Gaussian window
 *   (σ = 1.5, normalised to sum 1), C1 = (0.01·R)², C2 = (0.03·R)²,
 *     SSIM = (2·μa·μb + C1)(2·σab + C2) / ((μa² + μb² + C1)(σa² + σb² + C2)),
 *   averaged over the windows that lie wholly inside the image ((H−10)·(W−10) of them), per
 *   channel; the result is the mean over the channels (R, G, B). Images smaller than 11 px in a
 *   side have no such window: NaN.
 * The 8-bit functions take images of the same size and channel count (HWC, image/image.h; NaN
 * otherwise); the f32 ones take channel-major planes [C, H, W] of values in [lo, hi] and compute
 * on them mapped to [0, 1] (range 1): SSIM's luminance term is not shift-invariant, so images in
 * [-1, 1] give the same numbers as their 8-bit versions only this way. */
#ifndef ST_DATA_IMAGE_METRICS_H
#define ST_DATA_IMAGE_METRICS_H
#include <stddef.h>
#include "image/image.h"

double image_psnr(const Image *result, const Image *target);
double image_ssim(const Image *result, const Image *target);

double metrics_psnr_f32(const float *result, const float *target, size_t n, double lo, double hi);
double metrics_ssim_f32(const float *result, const float *target, int C, int H, int W, double lo, double hi);

#endif
