/* upsample.h — nearest-neighbour x2 upsampling of CHW images, forward and backward (every pixel becomes a 2x2 block;
 * torch's "nearest" and "nearest-exact" agree for an exact factor of 2). */
#ifndef ST_KERNELS_UPSAMPLE_H
#define ST_KERNELS_UPSAMPLE_H

/* x [C, h, w] -> y [C, 2h, 2w] */
void upsample_nearest2x_forward(const float *x, int C, int h, int w, float *y);
/* dy [C, 2h, 2w] -> dx [C, h, w] (overwritten): each input pixel gets the sum of its 2x2 block. */
void upsample_nearest2x_backward(const float *dy, int C, int h, int w, float *dx);

#endif
