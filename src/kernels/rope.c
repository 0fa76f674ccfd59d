#include "kernels/rope.h"
#include <stddef.h>

static void rotate(float *x, int ldx, int n, int H, int D, const float *cos_t, const float *sin_t, float sign) {
    const int P = D / 2;
    #pragma omp parallel for schedule(static) if ((long)n * H * D > 65536)
    for (int i = 0; i < n; i++) {
        const float *c = cos_t + (size_t)i * P, *s = sin_t + (size_t)i * P;
        for (int h = 0; h < H; h++) {
            float *v = x + (size_t)i * ldx + (size_t)h * D;
            for (int p = 0; p < P; p++) {
                float a = v[2 * p], b = v[2 * p + 1], sn = sign * s[p];
                v[2 * p] = a * c[p] - b * sn;
                v[2 * p + 1] = a * sn + b * c[p];
            }
        }
    }
}

void rope_forward(float *x, int ldx, int n, int H, int D, const float *cos_t, const float *sin_t) {
    rotate(x, ldx, n, H, D, cos_t, sin_t, 1.0f);
}

void rope_backward(float *dx, int ldx, int n, int H, int D, const float *cos_t, const float *sin_t) {
    rotate(dx, ldx, n, H, D, cos_t, sin_t, -1.0f);
}
