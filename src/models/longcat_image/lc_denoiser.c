/* denoiser.c — the LongCat transformer behind the trainer/sampler's Denoiser interface
 * (src/train/denoiser.h): target tokens then reference tokens, position ids of spec §1.4 (text
 * (0, i, i), target (1, L+r, L+c), references (2, L+r, L+c)), prediction of the target tokens only.
 * per_token_refs selects SimpleTuner's edit conditioning: reference tokens at t = 0 and the text
 * stream modulated by the mean of the image tokens' embeddings (spec §4); off, every token gets σ
 * as the official trainer and the diffusers pipelines do. */
#include "models/longcat_image/lc_denoiser.h"
#include <stdlib.h>
#include <string.h>

static int fwd(void *self, const DenoiseInput *in, float *pred, Err *e) {
    LcDenoiser *d = self;
    LcModel *m = d->model;
    const LcConfig *c = &m->cfg;
    if (in->channels != c->in_ch) return err_set(e, "packed latents have %d features, the LongCat transformer expects %d", in->channels, c->in_ch);
    if (in->txt_dim != c->joint_dim)
        return err_set(e, "the prompt embedding has width %d, the LongCat transformer expects joint_attention_dim %d (cache made with another text encoder?)",
                       in->txt_dim, c->joint_dim);
    int N = 0, L = in->txt_len;
    for (int k = 0; k < in->n_img; k++) N += in->grid_h[k] * in->grid_w[k];
    size_t need = (size_t)N * (c->out_ch > c->in_ch ? c->out_ch : c->in_ch);
    if (need > d->cap) {
        free(d->out); free(d->dout); free(d->t); free(d->img_ids); free(d->txt_ids);
        d->cap = need;
        d->out = xmalloc(need * sizeof(float)); d->dout = xcalloc(need, sizeof(float));
        d->t = xmalloc((size_t)N * sizeof(float) + 1); d->img_ids = xmalloc((size_t)N * 3 * sizeof(float));
        d->txt_cap = 0;
    }
    if ((size_t)L > d->txt_cap) { free(d->txt_ids); d->txt_cap = (size_t)L; d->txt_ids = xmalloc((size_t)L * 3 * sizeof(float) + 1); }
    lc_txt_ids(L, d->txt_ids);
    int off = 0, n_target = in->grid_h[0] * in->grid_w[0];
    for (int k = 0; k < in->n_img; k++) {
        lc_img_ids(k == 0 ? 1 : 2, L, in->grid_h[k], in->grid_w[k], d->img_ids + (size_t)off * 3);
        off += in->grid_h[k] * in->grid_w[k];
    }
    if (trace_on(in->trace)) { int64_t sh[2] = {N, 3}; trace_f32(in->trace, "img_ids", 2, sh, d->img_ids); }
    if (in->training && m->lora_dropout > 0 && in->rng) m->dropout_seed = rng_u64(in->rng);   /* drawn only when used */
    for (int i = 0; i < N; i++) d->t[i] = (d->per_token_refs && i >= n_target) ? 0.0f : in->sigma;
    LcInput li = { .B = 1, .L = L, .N = N, .x = in->tokens, .ctx = in->txt, .timestep = d->t, .per_token = 1,
                   .txt_ids = d->txt_ids, .img_ids = d->img_ids };
    if (lc_forward(m, &li, in->training, d->out, NULL, e)) return -1;
    d->n_tok = (size_t)N; d->n_target = (size_t)n_target;
    memcpy(pred, d->out, d->n_target * c->out_ch * sizeof(float));
    return 0;
}

static int bwd(void *self, const float *dpred, Err *e) {
    LcDenoiser *d = self;
    const int C = d->model->cfg.out_ch;
    memcpy(d->dout, dpred, d->n_target * C * sizeof(float));
    memset(d->dout + d->n_target * C, 0, (d->n_tok - d->n_target) * C * sizeof(float)); /* references are not predicted */
    return lc_backward(d->model, d->dout, NULL, NULL, e);
}

static int save(void *self, const char *path, Err *e) {
    LcDenoiser *d = self;
    if (d->model->n_lora) return lc_lora_save(d->model, path, DT_F32, e);
    return lc_save_full(d->model, path, e);
}

void lc_denoiser_init(LcDenoiser *d, LcModel *m, Denoiser *out) {
    memset(d, 0, sizeof *d);
    d->model = m;
    int n;
    const TrainParam *tp = lc_train_params(m, &n);
    *out = (Denoiser){ d, fwd, bwd, save, (TrainParam *)tp, n };
}

void lc_denoiser_free(LcDenoiser *d) {
    free(d->out); free(d->dout); free(d->t); free(d->img_ids); free(d->txt_ids);
    d->out = d->dout = d->t = d->img_ids = d->txt_ids = NULL;
    d->cap = d->txt_cap = 0;
}
