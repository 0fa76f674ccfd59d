/* run-module component "FlowMatchEulerDiscreteScheduler": for each case "<c>" with <c>.image_seq_len,
 * computes <c>.mu, <c>.sigmas, <c>.timesteps and, when <c>.euler.* inputs exist, the Euler
 * trajectory <c>.euler.latents_out from <c>.euler.latents_in and <c>.euler.model_outputs. */
#include "cli/run_module/run_module.h"
#include "models/flowmatch.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int flowmatch_run_module(RunModule *rm, Err *e) {
    FlowMatchConfig cfg;
    if (flowmatch_config_from_json(rm->config, &cfg, rm->dir, e)) return -1;
    char **cases; int nc = rm_cases(rm, "image_seq_len", &cases);
    if (nc == 0) return err_set(e, "io.safetensors has no <case>.image_seq_len input");
    int rc = 0;
    for (int ci = 0; ci < nc && !rc; ci++) {
        const char *c = cases[ci];
        char name[256];
        snprintf(name, sizeof name, "%s.image_seq_len", c);
        float *seq = rm_input_f32(rm, name, NULL, e);
        double mu = flowmatch_calculate_shift(&cfg, seq[0]);
        free(seq);
        int64_t one = 1;
        snprintf(name, sizeof name, "%s.mu", c);
        rm_output(rm, name, DT_F64, 1, &one, &mu);

        /* input sigmas when given, else the pipelines' linspace for the number of expected sigmas */
        snprintf(name, sizeof name, "%s.sigmas_input", c);
        const StTensor *sin = rm_input_opt(rm, name);
        int n;
        double *sig_in = NULL;
        if (sin) {
            n = (int)sin->numel;
            sig_in = xmalloc((size_t)n * sizeof(double));
            if (sin->dtype == DT_F64) memcpy(sig_in, sin->data, (size_t)n * 8);
            else { float *f = st_to_f32(sin); for (int i = 0; i < n; i++) sig_in[i] = f[i]; free(f); }
        } else {
            snprintf(name, sizeof name, "%s.num_inference_steps", c);
            const StTensor *ns = rm_input(rm, name, e);
            if (!ns) { rc = -1; break; }
            float *f = st_to_f32(ns); n = (int)f[0]; free(f);
        }
        float *sigmas = xmalloc((size_t)(n + 1) * sizeof(float)), *ts = xmalloc((size_t)n * sizeof(float));
        flowmatch_set_timesteps(&cfg, n, sig_in, mu, sigmas, ts);
        int64_t ns1 = n + 1, nn = n;
        snprintf(name, sizeof name, "%s.sigmas", c); rm_output_f32(rm, name, 1, &ns1, sigmas);
        snprintf(name, sizeof name, "%s.timesteps", c); rm_output_f32(rm, name, 1, &nn, ts);

        snprintf(name, sizeof name, "%s.euler.latents_in", c);
        const StTensor *lin = rm_input_opt(rm, name);
        if (lin) {
            snprintf(name, sizeof name, "%s.euler.model_outputs", c);
            const StTensor *mo = rm_input(rm, name, e);
            if (!mo) { rc = -1; }
            else if (mo->numel % lin->numel) { rc = err_set(e, "%s: size is not a multiple of latents_in", name); }
            else {
                size_t per = lin->numel, steps = mo->numel / per;
                if ((int)steps > n) rc = err_set(e, "%s: %zu steps but only %d sigmas", name, steps, n);
                float *x = st_to_f32(lin), *v = st_to_f32(mo), *traj = xmalloc(steps * per * sizeof(float));
                for (size_t k = 0; k < steps && !rc; k++) {
                    flowmatch_step(x, v + k * per, per, sigmas[k], sigmas[k + 1]);
                    memcpy(traj + k * per, x, per * sizeof(float));
                }
                int64_t shape[ST_MAX_DIMS]; shape[0] = (int64_t)steps;
                for (int d = 0; d < lin->ndim; d++) shape[d + 1] = lin->shape[d];
                snprintf(name, sizeof name, "%s.euler.latents_out", c);
                if (!rc) rm_output_f32(rm, name, lin->ndim + 1, shape, traj);
                free(x); free(v); free(traj);
            }
        }
        free(sigmas); free(ts); free(sig_in);
    }
    rm_free_cases(cases, nc);
    return rc;
}
