/* act.h — elementwise activations, forward and backward (dx = dy·f'(x), from the input x). */
#ifndef ST_KERNELS_ACT_H
#define ST_KERNELS_ACT_H
#include <stddef.h>

/* GELU, tanh approximation: 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))). y may alias x. */
void gelu_tanh_forward(const float *x, float *y, size_t n);
void gelu_tanh_backward(const float *dy, const float *x, float *dx, size_t n);
/* SiLU: x·σ(x). y may alias x. */
void silu_forward(const float *x, float *y, size_t n);
void silu_backward(const float *dy, const float *x, float *dx, size_t n);

#endif
