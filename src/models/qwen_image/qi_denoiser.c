/* qi_denoiser.c — the Qwen-Image transformer behind the trainer/sampler's Denoiser interface:
 * target tokens then reference tokens (one img_shapes entry each, RoPE frames 0, 1, 2, ...), the
 * prediction of the target tokens only; the prompt embedding is all valid (cached per sample). */
#include "models/qwen_image/qi_denoiser.h"
#include <stdlib.h>
#include <string.h>

static int fwd(void *self, const DenoiseInput *in, float *pred, Err *e) {
    QiDenoiser *d = self;
    QiModel *m = d->model;
    if (in->n_img > QI_MAX_IMAGES) return err_set(e, "%d images per sample; at most %d", in->n_img, QI_MAX_IMAGES);
    if (in->channels != m->cfg.in_channels) return err_set(e, "packed latents have %d features, the transformer expects %d", in->channels, m->cfg.in_channels);
    if (in->txt_dim != m->cfg.joint_attention_dim)
        return err_set(e, "the prompt embedding has width %d, the transformer expects joint_attention_dim %d (cache made with another text encoder?)", in->txt_dim, m->cfg.joint_attention_dim);
    QiInput qi = {0};
    qi.n_img = in->n_img;
    size_t N = 0;
    for (int k = 0; k < in->n_img; k++) { qi.img_h[k] = in->grid_h[k]; qi.img_w[k] = in->grid_w[k]; N += (size_t)in->grid_h[k] * in->grid_w[k]; }
    qi.img = in->tokens;
    qi.txt = in->txt; qi.txt_len = in->txt_len; qi.txt_mask = NULL;
    qi.timestep = in->sigma;
    qi.training = in->training;
    qi.rng = in->rng;
    const int Cout = m->cfg.patch_size * m->cfg.patch_size * m->cfg.out_channels;
    if (N * Cout > d->cap) { free(d->out); d->cap = N * Cout; d->out = xmalloc(d->cap * sizeof(float)); free(d->dout); d->dout = xcalloc(d->cap, sizeof(float)); }
    if (qi_forward(m, &qi, d->out, NULL, e)) return -1;
    d->n_tok = N;
    d->n_target = (size_t)in->grid_h[0] * in->grid_w[0];
    memcpy(pred, d->out, d->n_target * Cout * sizeof(float));
    return 0;
}

static int bwd(void *self, const float *dpred, Err *e) {
    QiDenoiser *d = self;
    const int Cout = d->model->cfg.patch_size * d->model->cfg.patch_size * d->model->cfg.out_channels;
    memcpy(d->dout, dpred, d->n_target * Cout * sizeof(float));
    memset(d->dout + d->n_target * Cout, 0, (d->n_tok - d->n_target) * Cout * sizeof(float)); /* references are not predicted */
    return qi_backward(d->model, d->dout, NULL, NULL, e);
}

static int save(void *self, const char *path, Err *e) {
    QiDenoiser *d = self;
    if (d->model->train_full) return qi_save(d->model, path, DT_BF16, e);
    return qi_lora_save(d->model, path, DT_F32, e);
}

void qi_denoiser_init(QiDenoiser *d, QiModel *m, Denoiser *out) {
    memset(d, 0, sizeof *d);
    d->model = m;
    qi_collect_params(m);
    *out = (Denoiser){d, fwd, bwd, save, m->params, m->n_params};
}

void qi_denoiser_free(QiDenoiser *d) { free(d->out); free(d->dout); d->out = d->dout = NULL; }
