/* upsample.c — nearest x2. */
#include "kernels/upsample.h"
#include <stddef.h>

void upsample_nearest2x_forward(const float *x, int C, int h, int w, float *y) {
    const int W2 = 2 * w;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int c = 0; c < C; c++)
        for (int iy = 0; iy < h; iy++) {
            const float *xr = x + ((size_t)c * h + iy) * w;
            float *y0 = y + ((size_t)c * 2 * h + 2 * iy) * W2, *y1 = y0 + W2;
            for (int ix = 0; ix < w; ix++) y0[2 * ix] = y0[2 * ix + 1] = y1[2 * ix] = y1[2 * ix + 1] = xr[ix];
        }
}

void upsample_nearest2x_backward(const float *dy, int C, int h, int w, float *dx) {
    const int W2 = 2 * w;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int c = 0; c < C; c++)
        for (int iy = 0; iy < h; iy++) {
            const float *d0 = dy + ((size_t)c * 2 * h + 2 * iy) * W2, *d1 = d0 + W2;
            float *xr = dx + ((size_t)c * h + iy) * w;
            for (int ix = 0; ix < w; ix++) xr[ix] = d0[2 * ix] + d0[2 * ix + 1] + d1[2 * ix] + d1[2 * ix + 1];
        }
}
