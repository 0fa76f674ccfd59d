/* optim_sgd.c — optimi-sgd (optimi.SGD), f32 state.
 *   weight decay: decouple_wd or decouple_lr → p ← p·(1 − lr·wd) [or (1 − (lr/max_lr)·wd)];
 *                 otherwise L2: g ← g + wd·p
 *   momentum μ = 0:  u = g
 *   dampening:       m ← m + (1−μ)(g − m)   (m starts at 0, or at g with torch_init), u = m
 *   otherwise:       m ← μ·m + g, u = m
 *   p ← p − lr·u
 * optimi's SGD has no nesterov option (SimpleTuner drops it with a warning). */
#include "train/optim_internal.h"

void sgd_update(const OptimConfig *c, int64_t t, double lr, float *p, const float *g, float *m, size_t n) {
    const int decoupled = c->decouple_wd || c->decouple_lr;
    const float decay = decoupled ? (float)optimi_decay_factor(c, lr) : 1.0f;
    const float l2 = decoupled ? 0.0f : (float)c->weight_decay;
    const float mu = (float)c->momentum, one_mu = (float)(1.0 - c->momentum), lrf = (float)lr;
    const int use_m = c->momentum != 0, damp = c->dampening;
    const int init_from_grad = damp && c->torch_init && t == 1;
    #pragma omp parallel for schedule(static) if (n >= OPTIM_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + l2 * p[i];
        float u = gi;
        if (use_m) {
            float mi = init_from_grad ? gi : m[i];
            mi = damp ? mi + one_mu * (gi - mi) : mu * mi + gi;
            m[i] = mi; u = mi;
        }
        p[i] = p[i] * decay - lrf * u;
    }
}
