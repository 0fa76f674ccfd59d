/* optim_adamw.c — torch-adamw (torch.optim.AdamW) and optimi-adamw (optimi.AdamW), f32 state.
 *
 * torch.optim.AdamW, step t (g negated when maximize):
 *   p ← p·(1 − lr·wd)
 *   m ← m + (1−β1)(g − m)            v ← β2·v + (1−β2)·g²        (amsgrad: vmax ← max(vmax, v), use vmax)
 *   p ← p − (lr / (1−β1^t)) · m / (√v / √(1−β2^t) + eps)
 *
 * optimi.AdamW folds the bias correction into the betas (β̂ = (β^t − β)/(β^t − 1), so β̂ = 0 at t = 1):
 *   p ← p·(1 − lr·wd)   [decouple_lr: p·(1 − (lr/max_lr)·wd)]
 *   m ← m + (1−β̂1)(g − m)            v ← β̂2·v + (1−β̂2)·g²
 *   p ← p − lr · m / (√v + eps)
 * Both are p − lr·m̂/(√v̂ + eps) with the bias-corrected moments m̂, v̂: they differ in rounding and in
 * their defaults (see optim.h), not in the rule. */
#include <math.h>
#include "train/optim_internal.h"

void adamw_torch_update(const OptimConfig *c, int64_t t, double lr, float *p, const float *g,
                        float *m, float *v, float *vmax, size_t n) {
    const float decay = (float)(1.0 - lr * c->weight_decay);
    const float b2 = (float)c->beta2;
    const float one_b1 = (float)(1.0 - c->beta1), one_b2 = (float)(1.0 - c->beta2);
    const float step_size = (float)(lr / (1.0 - pow(c->beta1, (double)t)));
    const float bc2_sqrt = (float)sqrt(1.0 - pow(c->beta2, (double)t));
    const float eps = (float)c->eps, sign = c->maximize ? -1.0f : 1.0f;
    const int amsgrad = c->amsgrad;
    #pragma omp parallel for schedule(static) if (n >= OPTIM_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float gi = sign * g[i];
        float pi = p[i] * decay;
        float mi = m[i] + one_b1 * (gi - m[i]);
        float vi = b2 * v[i] + one_b2 * gi * gi;
        float vd = vi;
        if (amsgrad) { vd = vmax[i] > vi ? vmax[i] : vi; vmax[i] = vd; }
        float denom = sqrtf(vd) / bc2_sqrt + eps;
        p[i] = pi - step_size * mi / denom;
        m[i] = mi; v[i] = vi;
    }
}

/* optimi's debias_beta: β·(1−β^(t−1))/(1−β^t), written as (β^t − β)/(β^t − 1). */
static double debias_beta(double beta, int64_t t) {
    double bt = pow(beta, (double)t);
    return (bt - beta) / (bt - 1.0);
}

double optimi_decay_factor(const OptimConfig *c, double lr) {
    if (c->decouple_lr) return 1.0 - (lr / c->max_lr) * c->weight_decay;
    return 1.0 - lr * c->weight_decay;
}

void adamw_optimi_update(const OptimConfig *c, int64_t t, double lr, float *p, const float *g,
                         float *m, float *v, size_t n) {
    const float decay = (float)optimi_decay_factor(c, lr);
    const double b1h = debias_beta(c->beta1, t), b2h = debias_beta(c->beta2, t);
    const float one_b1h = (float)(1.0 - b1h), b2f = (float)b2h, one_b2h = (float)(1.0 - b2h);
    const float lrf = (float)lr, eps = (float)c->eps;
    #pragma omp parallel for schedule(static) if (n >= OPTIM_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        float pi = p[i] * decay;
        float mi = m[i] + one_b1h * (gi - m[i]);
        float vi = b2f * v[i] + one_b2h * gi * gi;
        p[i] = pi - lrf * mi / (sqrtf(vi) + eps);
        m[i] = mi; v[i] = vi;
    }
}
