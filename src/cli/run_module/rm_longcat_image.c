/* run_module.c — run-module component "LongCatImageTransformer2DModel": for every case <c> with
 * <c>.hidden_states: forward (output), loss = Σ output·grad_weight, backward (grad.hidden_states,
 * grad.encoder_hidden_states, grad.param.<every parameter>) and the intermediates inter.*.
 * Shapes (batch, text length, image tokens, timesteps [B] or per token [B, N]) come from the inputs. */
#include "cli/run_module/run_module.h"
#include "models/longcat_image/longcat.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float *input(RunModule *rm, const char *c, const char *what, const StTensor **t, Err *e) {
    char name[256];
    snprintf(name, sizeof name, "%s.%s", c, what);
    return rm_input_f32(rm, name, t, e);
}

static void output(RunModule *rm, const char *c, const char *what, int ndim, const int64_t *shape, const float *data) {
    char name[400];
    snprintf(name, sizeof name, "%s.%s", c, what);
    rm_output_f32(rm, name, ndim, shape, data);
}

static int run_case(RunModule *rm, LcModel *m, const char *c, Err *e) {
    const StTensor *tx, *tc, *tt, *ti, *tti, *tg;
    float *x = input(rm, c, "hidden_states", &tx, e), *ctx = x ? input(rm, c, "encoder_hidden_states", &tc, e) : NULL;
    float *ts = ctx ? input(rm, c, "timestep", &tt, e) : NULL, *img_ids = ts ? input(rm, c, "img_ids", &ti, e) : NULL;
    float *txt_ids = img_ids ? input(rm, c, "txt_ids", &tti, e) : NULL, *gw = txt_ids ? input(rm, c, "grad_weight", &tg, e) : NULL;
    int rc = -1;
    float *out = NULL, *dx = NULL, *dctx = NULL;
    if (!gw) goto done;
    const LcConfig *cf = &m->cfg;
    if (tx->ndim != 3 || tx->shape[2] != cf->in_ch) { err_set(e, "%s.hidden_states: expected [B, N, %d]", c, cf->in_ch); goto done; }
    int B = (int)tx->shape[0], N = (int)tx->shape[1];
    if (tc->ndim != 3 || tc->shape[0] != B || tc->shape[2] != cf->joint_dim) { err_set(e, "%s.encoder_hidden_states: expected [%d, L, %d]", c, B, cf->joint_dim); goto done; }
    int L = (int)tc->shape[1];
    int per_token = tt->numel == (size_t)B * N && N > 1 && tt->ndim == 2;
    if (!per_token && tt->numel != (size_t)B) { err_set(e, "%s.timestep: expected [%d] or [%d, %d]", c, B, B, N); goto done; }
    if (ti->numel != (size_t)N * 3 || tti->numel != (size_t)L * 3) { err_set(e, "%s: img_ids must be [%d, 3] and txt_ids [%d, 3]", c, N, L); goto done; }
    if (tg->numel != (size_t)B * N * cf->out_ch) { err_set(e, "%s.grad_weight: expected [%d, %d, %d]", c, B, N, cf->out_ch); goto done; }
    const int D = cf->dim, S = L + N;
    LcInput in = { .B = B, .L = L, .N = N, .x = x, .ctx = ctx, .timestep = ts, .per_token = per_token, .txt_ids = txt_ids, .img_ids = img_ids };
    int nd = cf->layers, ns = cf->single_layers;
    StWriter cap; stw_init(&cap);
    Trace tr = { rm_capture, &cap, NULL };
    out = xmalloc((size_t)B * N * cf->out_ch * sizeof(float));
    lc_zero_grads(m);
    if (!lc_forward(m, &in, 1, out, &tr, e)) {
        double loss = 0;
        for (size_t i = 0; i < (size_t)B * N * cf->out_ch; i++) loss += (double)out[i] * gw[i];
        dx = xmalloc((size_t)B * N * cf->in_ch * sizeof(float));
        dctx = xmalloc((size_t)B * L * cf->joint_dim * sizeof(float) + 1);
        if (!lc_backward(m, gw, dx, dctx, e)) {
            rc = 0;
            int64_t so[3] = { B, N, cf->out_ch }, sx[3] = { B, N, cf->in_ch }, sc[3] = { B, L, cf->joint_dim }, one = 1;
            int64_t si[3] = { B, N, D }, st[3] = { B, L, D }, sr[2] = { S, cf->head_dim }, stm[2] = { B, D };
            float lf = (float)loss;
            output(rm, c, "output", 3, so, out);
            output(rm, c, "loss", 1, &one, &lf);
            output(rm, c, "grad.hidden_states", 3, sx, dx);
            output(rm, c, "grad.encoder_hidden_states", 3, sc, dctx);
            /* the intermediates under upstream's names (inter.<what>), as the model reported them */
            const char *top[] = { "x_embedder", "context_embedder", "temb", "norm_out", "rope_cos", "rope_sin" };
            const int64_t *shp[] = { si, st, stm, si, sr, sr };
            const int ndims[] = { 3, 3, 2, 3, 2, 2 };
            char w[64];
            for (int k = 0; k < 6 && !rc; k++) {
                const float *v = rm_captured(&cap, top[k], e);
                snprintf(w, sizeof w, "inter.%s", top[k]);
                if (v) output(rm, c, w, ndims[k], shp[k], v); else rc = -1;
            }
            for (int i = 0; i < nd + ns && !rc; i++)
                for (int k = 0; k < 2 && !rc; k++) {
                    char nm[48];
                    snprintf(nm, sizeof nm, "%s%d.%s", i < nd ? "block" : "single", i < nd ? i : i - nd, k ? "txt" : "img");
                    const float *v = rm_captured(&cap, nm, e);
                    snprintf(w, sizeof w, "inter.%s", nm);
                    if (v) output(rm, c, w, 3, k ? st : si, v); else rc = -1;
                }
            for (int i = 0; i < m->np; i++) {
                char pn[300];
                snprintf(pn, sizeof pn, "grad.param.%s", m->p[i].name);
                output(rm, c, pn, m->p[i].ndim, m->p[i].shape, m->p[i].grad);
            }
        }
    }
    stw_free(&cap);
done:
    free(x); free(ctx); free(ts); free(img_ids); free(txt_ids); free(gw); free(out); free(dx); free(dctx);
    return rc;
}

int longcat_run_module(RunModule *rm, Err *e) {
    if (!rm->weights) return err_set(e, "%s: weights.safetensors is required", rm->dir);
    LcModel m;
    if (lc_build(&m, rm->config, e)) { lc_free(&m); return err_prefix(e, "%s", rm->dir); }
    StSet s = { .n = 1, .files = rm->weights };
    if (lc_bind(&m, &s, e)) { lc_free(&m); return -1; }
    lc_enable_full_grads(&m);
    const char *ck = getenv("LONGCAT_CHECKPOINTING");   /* lets the same golden check the recompute path */
    m.checkpointing = ck && *ck == '1';
    char **cases; int nc = rm_cases(rm, "txt_ids", &cases);
    int rc = nc ? 0 : err_set(e, "%s/io.safetensors has no <case>.txt_ids input", rm->dir);
    for (int i = 0; i < nc && !rc; i++) rc = run_case(rm, &m, cases[i], e);
    rm_free_cases(cases, nc);
    lc_free(&m);
    return rc;
}
