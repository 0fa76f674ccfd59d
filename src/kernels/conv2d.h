/* conv2d.h — 2-D convolution forward and backward on one image, channel-major (CHW) float buffers.
 *
 * Lowered to GEMM: im2col of a band of output rows, then cblas_sgemm (threaded by OpenBLAS'
 * OpenMP pool). The band height is chosen so the im2col buffer stays below CONV2D_COL_FLOATS,
 * which bounds the working memory whatever the image size. 1x1 stride-1 unpadded convolutions
 * skip im2col entirely. */
#ifndef ST_KERNELS_CONV2D_H
#define ST_KERNELS_CONV2D_H
#include <stddef.h>

/* Largest im2col band in floats (16 Mi floats = 64 MiB). */
#define CONV2D_COL_FLOATS (16u << 20)

typedef struct Conv2dShape {
    int cin, h, w;          /* input [cin, h, w] */
    int cout, k, stride;    /* square kernel k x k */
    int pad_top, pad_left, pad_bottom, pad_right;   /* zero padding */
} Conv2dShape;

/* Output height / width of a convolution. */
int conv2d_out_h(const Conv2dShape *s);
int conv2d_out_w(const Conv2dShape *s);

/* y[cout, oh, ow] = sum over (ci, ky, kx) of w[co, ci, ky, kx] * xpad[ci, oy*stride+ky, ox*stride+kx]
 * + b[co] (b may be NULL). w is [cout, cin, k, k] f32. y must not alias x. */
void conv2d_forward(const float *x, const float *w, const float *b, const Conv2dShape *s, float *y);
/* The same with a caller-provided im2col buffer of col_floats floats (bands shrink to fit; a buffer
 * of at least conv2d_col_floats_min floats is required). */
void conv2d_forward_banded(const float *x, const float *w, const float *b, const Conv2dShape *s,
                           float *col, size_t col_floats, float *y);
/* im2col floats for one output row (the smallest usable buffer) and for the whole output
 * capped at CONV2D_COL_FLOATS (what conv2d_forward uses); 0 when no im2col is needed (1x1). */
size_t conv2d_col_floats_min(const Conv2dShape *s);
size_t conv2d_col_floats(const Conv2dShape *s);

/* Backward of conv2d_forward for dy [cout, oh, ow]: dx [cin, h, w] is overwritten (NULL: not
 * wanted); dw [cout, cin, k, k] and db [cout] are accumulated into (either may be NULL), so the
 * gradients of several images add up. Same lowering: dw += dy·colᵀ and dcol = wᵀ·dy scattered
 * back (col2im) band by band, in a caller-provided buffer of col_floats floats (at least
 * conv2d_col_floats_min; the unbanded conv2d_backward allocates conv2d_col_floats). */
void conv2d_backward(const float *x, const float *w, const float *dy, const Conv2dShape *s,
                     float *dx, float *dw, float *db);
void conv2d_backward_banded(const float *x, const float *w, const float *dy, const Conv2dShape *s,
                            float *col, size_t col_floats, float *dx, float *dw, float *db);

#endif
