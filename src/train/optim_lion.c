/* optim_lion.c — optimi-lion (optimi.Lion), f32 state.
 *   p ← p·(1 − lr·wd)                 [decouple_lr: p·(1 − (lr/max_lr)·wd)]
 *   u ← sign(m + (1−β1)(g − m))       (sign(0) = 0)
 *   m ← m + (1−β2)(g − m)
 *   p ← p − lr·u */
#include "train/optim_internal.h"

static inline float signf(float x) { return (float)((x > 0) - (x < 0)); }

void lion_update(const OptimConfig *c, double lr, float *p, const float *g, float *m, size_t n) {
    const float decay = (float)optimi_decay_factor(c, lr);
    const float one_b1 = (float)(1.0 - c->beta1), one_b2 = (float)(1.0 - c->beta2), lrf = (float)lr;
    #pragma omp parallel for schedule(static) if (n >= OPTIM_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i], mi = m[i];
        float u = signf(mi + one_b1 * (gi - mi));
        m[i] = mi + one_b2 * (gi - mi);
        p[i] = p[i] * decay - lrf * u;
    }
}
