#include "kernels/act.h"
#include <math.h>

#define GELU_K 0.7978845608028654f /* √(2/π) */

/* GELU with the tanh approximation, through its exact sigmoid form: 0.5·v·(1 + tanh u) = v·σ(2u),
 * σ(z) = 1 / (1 + e^(−z)). One expf instead of tanhf (which goes through expm1f and was ~5 % of a
 * full-width training step); the limits stay exact (e^(−2u) → ∞ gives −0, → 0 gives v). */
void gelu_tanh_forward(const float *x, float *y, size_t n) {
    #pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float v = x[i], u = GELU_K * (v + 0.044715f * v * v * v);
        y[i] = v / (1.0f + expf(-2.0f * u));
    }
}

/* d/dv [v·s], s = σ(2u): s + v·2s(1 − s)·du/dv (tanh' = 1 − t² = 4s(1 − s)). */
void gelu_tanh_backward(const float *dy, const float *x, float *dx, size_t n) {
    #pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float v = x[i], u = GELU_K * (v + 0.044715f * v * v * v), s = 1.0f / (1.0f + expf(-2.0f * u));
        float du = GELU_K * (1.0f + 3.0f * 0.044715f * v * v);
        dx[i] = dy[i] * (s + 2.0f * v * s * (1.0f - s) * du);
    }
}

void silu_forward(const float *x, float *y, size_t n) {
    #pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + expf(-x[i]));
}

void silu_backward(const float *dy, const float *x, float *dx, size_t n) {
    #pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float s = 1.0f / (1.0f + expf(-x[i]));
        dx[i] = dy[i] * s * (1.0f + x[i] * (1.0f - s));
    }
}
