/* upsample.h — nearest-neighbour x2 upsampling of CHW images (every pixel becomes a 2x2 block;
 * torch's "nearest" and "nearest-exact" agree for an exact factor of 2). */
#ifndef ST_KERNELS_UPSAMPLE_H
#define ST_KERNELS_UPSAMPLE_H

/* x [C, h, w] -> y [C, 2h, 2w] */
void upsample_nearest2x_forward(const float *x, int C, int h, int w, float *y);

#endif
