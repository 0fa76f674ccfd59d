/* image_resize.h — resampling of 8-bit `Image`s that reproduces PIL's `Image.resize` bit for bit
 * (Pillow's Resample.c: separable convolution, support scaled by the reduction factor so downscaling
 * is antialiased, weights normalised per output pixel then rounded to 22-bit fixed point, the
 * horizontal pass first and rounded to 8 bits, then the vertical pass).
 *
 * Who uses which filter (and why it must be PIL's):
 *   LANCZOS  diffusers VaeImageProcessor.resize (Qwen-Image edit references, LongCat edit images) and
 *            SimpleTuner's bucket resizes;
 *   BICUBIC  the Qwen2-VL image processor after smart_resize (resample=3);
 *   BILINEAR available for configs that ask for it.
 * Any channel count (1..4) is accepted; channels are resampled independently. */
#ifndef ST_IMAGE_RESIZE_H
#define ST_IMAGE_RESIZE_H
#include "base/error.h"
#include "image/image.h"

typedef enum { RESAMPLE_BILINEAR = 2, RESAMPLE_BICUBIC = 3, RESAMPLE_LANCZOS = 1 } ResampleFilter;   /* PIL's numbers */

/* src -> w x h in out (freshly allocated; out must not alias src). Same size = exact copy. */
int image_resize(const Image *src, int w, int h, ResampleFilter filter, Image *out, Err *e);

/* The same with a fixed filter, in the DataResizeFn shape (data/dataset.h). */
int image_resize_lanczos(const Image *src, int w, int h, Image *out, Err *e);
int image_resize_bicubic(const Image *src, int w, int h, Image *out, Err *e);

#endif
