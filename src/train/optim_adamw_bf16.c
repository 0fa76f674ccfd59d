/* optim_adamw_bf16.c — SimpleTuner's adamw_bf16 (AdamWBF16) with f32 weights.
 *
 * Upstream keeps bf16 weights plus a bf16 "shift" buffer that carries the rounding error of p ← p + Δ
 * (compensated summation). Here the weights are f32, so Δ is added directly and no shift is needed;
 * everything else follows AdamWBF16 step for step, including its two departures from AdamW:
 *   - no bias correction of m: the step is lr·√(1−β2^t) · m / (√v + eps);
 *   - weight decay is owed and paid in lumps: each step adds wd·lr to the tensor's owed amount
 *     (which starts at a random phase in [0, 5e-3)); once it exceeds 5e-3 the whole amount d is paid
 *     as p ← p − d·p (upstream pays it through the shift, i.e. at the next step; here at once).
 *   - its first moment is not an average: upstream's add_stochastic_(m, g, alpha=1−β1) computes
 *     g + (1−β1)·m (the alpha scales the destination, not the gradient), so m_t = g_t + (1−β1)·β1·m_{t−1}.
 *     With v's 1−β2 weight this makes the first step lr·sign(g). Reproduced as is: it is what
 *     SimpleTuner users train with.
 * Moments are bf16 (bit patterns), rounded as torch rounds them:
 *   m ← rne(m·β1);  m ← sr(g + (1−β1)·m)           (sr = stochastic rounding: add 16 random bits to the
 *   v ← rne(rne(v·β2) + (1−β2)·g²)                   f32 pattern, then truncate to bf16)
 *   denom = rne(rne(√v) + eps)
 *   p ← p − lr·√(1−β2^t) · m / denom */
#include <math.h>
#include "tensor/dtype.h"
#include "train/optim_internal.h"

/* Elements per random stream: streams are derived from (step seed, chunk index) so results do not
 * depend on how the loop is split between threads. */
#define SR_CHUNK 4096

static inline float bf16_round(float x) { return bf16_to_f32(f32_to_bf16(x)); }

/* Stochastic rounding of x to bf16 with 16 random bits r: add r below the kept bits, truncate. */
static inline uint16_t bf16_stochastic(float x, uint32_t r) {
    union { float f; uint32_t u; } v = { .f = x };
    if ((v.u & 0x7f800000u) == 0x7f800000u) return f32_to_bf16(x); /* inf/NaN unchanged */
    return (uint16_t)((v.u + (r & 0xffffu)) >> 16);
}

double adamw_bf16_take_decay(double *owed, double weight_decay, double lr) {
    *owed += weight_decay * lr;
    double d = *owed > ADAMW_BF16_DECAY_THRESHOLD ? *owed : 0.0;
    *owed -= d;
    return d;
}

static void update_chunk(const OptimConfig *c, float step_scale, double decay, Rng *rng,
                         float *p, const float *g, uint16_t *m, uint16_t *v, size_t n) {
    const float b1 = (float)c->beta1, b2 = (float)c->beta2;
    const float one_b1 = (float)(1.0 - c->beta1), one_b2 = (float)(1.0 - c->beta2), eps = (float)c->eps;
    const float keep = (float)(1.0 - decay);
    uint64_t bits = 0;
    for (size_t i = 0; i < n; i++) {
        if ((i & 3) == 0) bits = rng_u64(rng);
        uint32_t r = (uint32_t)(bits >> (16 * (i & 3)));
        float gi = g[i];
        float mi = bf16_round(bf16_to_f32(m[i]) * b1);
        m[i] = bf16_stochastic(gi + one_b1 * mi, r);
        float vi = bf16_round(bf16_to_f32(v[i]) * b2);
        v[i] = f32_to_bf16(vi + one_b2 * gi * gi);
        float denom = bf16_round(bf16_round(sqrtf(bf16_to_f32(v[i]))) + eps);
        float pi = p[i] - step_scale * bf16_to_f32(m[i]) / denom;
        p[i] = decay > 0 ? pi * keep : pi;
    }
}

void adamw_bf16_update(const OptimConfig *c, int64_t t, double lr, double decay, uint64_t seed,
                       float *p, const float *g, uint16_t *m, uint16_t *v, size_t n) {
    const float step_scale = (float)(lr * sqrt(1.0 - pow(c->beta2, (double)t)));
    const size_t chunks = (n + SR_CHUNK - 1) / SR_CHUNK;
    #pragma omp parallel for schedule(static) if (n >= OPTIM_PAR_MIN)
    for (size_t k = 0; k < chunks; k++) {
        Rng r;
        rng_seed_stream(&r, seed, k);
        size_t lo = k * SR_CHUNK, len = n - lo < SR_CHUNK ? n - lo : SR_CHUNK;
        update_chunk(c, step_scale, decay, &r, p + lo, g + lo, m + lo, v + lo, len);
    }
}
