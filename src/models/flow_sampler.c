#include "models/flow_sampler.h"
#include "base/crash_point.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

void cfg_combine(CfgMode mode, float scale, float renorm_min, const float *c, const float *u,
                 float *out, size_t n_tok, size_t channels) {
    for (size_t t = 0; t < n_tok; t++) {
        const float *ct = c + t * channels, *ut = u + t * channels;
        float *ot = out + t * channels;
        double nc = 0, no = 0;
        for (size_t k = 0; k < channels; k++) {
            ot[k] = ut[k] + scale * (ct[k] - ut[k]);
            nc += (double)ct[k] * ct[k];
            no += (double)ot[k] * ot[k];
        }
        nc = sqrt(nc); no = sqrt(no);
        float f = 1.0f;
        if (mode == CFG_NORM_MATCH) f = (float)(nc / no);
        else if (mode == CFG_RENORM_CLAMP) {
            double s = nc / (no + 1e-8);
            if (s < renorm_min) s = renorm_min;
            if (s > 1.0) s = 1.0;
            f = (float)s;
        }
        if (mode != CFG_PLAIN)
            for (size_t k = 0; k < channels; k++) ot[k] *= f;
    }
}

int sampler_run(const SamplerConfig *sc, PredictFn predict, void *model_ctx, StepFn on_step,
                void *step_ctx, float *x, size_t n_tok, size_t channels, Err *e) {
    int n = sc->steps;
    if (n < 1) return err_setc(e, EXIT_USAGE, "validation_num_inference_steps must be at least 1 (got %d)", n);
    if (n == 1 && sc->sched.shift_terminal > 0)
        return err_setc(e, EXIT_USAGE, "validation_num_inference_steps 1: this model's scheduler stretches its sigmas to end at "
                        "shift_terminal %g, which takes 2 or more steps (with one, diffusers divides 0 by 0 and renders a "
                        "black image); use 2 or more", sc->sched.shift_terminal);
    size_t len = n_tok * channels;
    float *sigmas = xmalloc((size_t)(n + 1) * sizeof(float)), *ts = xmalloc((size_t)n * sizeof(float));
    flowmatch_set_timesteps(&sc->sched, n, NULL, sc->mu, sigmas, ts);
    int cfg = sc->use_uncond && sc->guidance > 1.0f;
    float *vc = xmalloc(len * sizeof(float)), *vu = cfg ? xmalloc(len * sizeof(float)) : NULL;
    float *v = cfg ? xmalloc(len * sizeof(float)) : vc;
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        crash_point("sampling %d/%d", i + 1, n);
        if ((rc = predict(model_ctx, x, ts[i], 1, vc, e))) break;
        if (cfg) {
            if ((rc = predict(model_ctx, x, ts[i], 0, vu, e))) break;
            cfg_combine(sc->cfg_mode, sc->guidance, sc->renorm_min, vc, vu, v, n_tok, channels);
        }
        flowmatch_step(x, v, len, sigmas[i], sigmas[i + 1]);
        if (on_step && (rc = on_step(step_ctx, i, n, x, vc, vu, v, e))) break;
    }
    if (cfg) { free(vu); free(v); }
    free(vc); free(sigmas); free(ts);
    return rc;
}
