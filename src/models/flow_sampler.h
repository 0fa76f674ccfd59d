/* sampler.h — flow-match Euler sampling with true classifier-free guidance, model-agnostic.
 *
 * The model is a callback that predicts the velocity for the target tokens given the current
 * latents and the timestep, conditioned on either the positive or the negative prompt. The two
 * families combine the passes differently:
 *   CFG_NORM_MATCH (Qwen-Image, all pipelines):  comb = u + s(c-u); pred = comb·‖c‖/‖comb‖ per token
 *   CFG_RENORM_CLAMP (LongCat):  pred = u + s(c-u); pred *= clamp(‖c‖/(‖pred‖+1e-8), renorm_min, 1)
 *   CFG_PLAIN: pred = u + s(c-u). */
#ifndef ST_SAMPLER_H
#define ST_SAMPLER_H
#include <stddef.h>
#include "base/error.h"
#include "models/flowmatch.h"

typedef enum { CFG_PLAIN, CFG_NORM_MATCH, CFG_RENORM_CLAMP } CfgMode;

/* Predicts v[n_tok*channels] for latents x[n_tok*channels] at `timestep` (sigma·1000 as the
 * scheduler stores it; models divide by 1000). `positive` selects the prompt. */
typedef int (*PredictFn)(void *ctx, const float *x, float timestep, int positive, float *v, Err *e);

/* Called after each step (for progress bars and for recording intermediates); may be NULL. */
typedef void (*StepFn)(void *ctx, int step, int n_steps, const float *x, const float *v_cond,
                       const float *v_uncond, const float *v);

typedef struct SamplerConfig {
    FlowMatchConfig sched;
    int steps;
    double mu;             /* from flowmatch_calculate_shift(target tokens) */
    float guidance;        /* CFG scale; <= 1 or use_uncond = 0 → conditional only */
    int use_uncond;        /* 0 when there is no negative prompt or validation_disable_unconditional */
    CfgMode cfg_mode;
    float renorm_min;      /* CFG_RENORM_CLAMP lower bound (LongCat default 0) */
} SamplerConfig;

/* Combines conditional c and unconditional u predictions into out ([n_tok, channels]). */
void cfg_combine(CfgMode mode, float scale, float renorm_min, const float *c, const float *u,
                 float *out, size_t n_tok, size_t channels);

/* Runs the Euler loop in place on x[n_tok*channels] (initial noise in, final latents out). */
int sampler_run(const SamplerConfig *sc, PredictFn predict, void *model_ctx, StepFn on_step,
                void *step_ctx, float *x, size_t n_tok, size_t channels, Err *e);

#endif
