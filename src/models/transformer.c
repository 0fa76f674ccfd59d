/* transformer.c — what every family's transformer shares (see transformer.h): the Denoiser over
 * a family's all-token forward (the prediction is the target tokens' rows; references are clean
 * conditioning and get no gradient from the loss), saving the trainable weights, lifetime. */
#include "models/transformer.h"
#include <stdlib.h>
#include <string.h>

int transformer_load(Transformer *t, const TransformerOps *ops, const char *dir, Err *e) {
    memset(t, 0, sizeof *t);
    t->ops = ops;
    if (ops->load(t, dir, e)) { transformer_free(t); return -1; }
    return 0;
}

int transformer_init_random(Transformer *t, const TransformerOps *ops, const cJSON *config, uint64_t seed, DType dt, Err *e) {
    memset(t, 0, sizeof *t);
    t->ops = ops;
    if (ops->init_random(t, config, seed, dt, e)) { transformer_free(t); return -1; }
    return 0;
}

void transformer_free(Transformer *t) {
    if (t->model && t->ops) t->ops->free_model(t);
    free(t->out); free(t->dout);
    memset(t, 0, sizeof *t);
}

int transformer_enable_full_training(Transformer *t, Err *e) {
    if (t->linears->qs)
        return err_setc(e, EXIT_USAGE, "model_type=full trains every weight in f32; it cannot be combined with a quantised base (base_model_precision)");
    if (t->ops->enable_full_training(t, e)) return -1;
    t->full = 1;
    return 0;
}

static int den_forward(void *self, const DenoiseInput *in, float *pred, Err *e) {
    Transformer *t = self;
    if (in->channels != t->in_channels)
        return err_set(e, "packed latents have %d features, the transformer expects %d", in->channels, t->in_channels);
    if (in->txt_dim != t->txt_dim)
        return err_set(e, "the prompt embedding has width %d, the transformer expects joint_attention_dim %d (cache made with another text encoder?)",
                       in->txt_dim, t->txt_dim);
    size_t N = 0;
    for (int k = 0; k < in->n_img; k++) N += (size_t)in->grid_h[k] * in->grid_w[k];
    size_t need = N * (size_t)t->out_channels;
    if (need > t->cap) {
        free(t->out); free(t->dout);
        t->out = xmalloc(need * sizeof(float)); t->dout = xcalloc(need, sizeof(float));
        t->cap = need;
    }
    if (t->ops->forward(t, in, t->out, e)) return -1;
    t->n_tok = N;
    t->n_target = (size_t)in->grid_h[0] * in->grid_w[0];
    memcpy(pred, t->out, t->n_target * t->out_channels * sizeof(float));
    return 0;
}

static int den_backward(void *self, const float *dpred, Err *e) {
    Transformer *t = self;
    const size_t C = (size_t)t->out_channels;
    memcpy(t->dout, dpred, t->n_target * C * sizeof(float));
    memset(t->dout + t->n_target * C, 0, (t->n_tok - t->n_target) * C * sizeof(float)); /* references are not predicted */
    return t->ops->backward(t, t->dout, e);
}

int transformer_save_trainable(Transformer *t, const char *path, Err *e) {
    if (t->full) return t->ops->save_full(t, path, DT_BF16, e);
    return linear_set_save_adapters(t->linears, path, DT_F32, e);
}

static int den_save(void *self, const char *path, Err *e) { return transformer_save_trainable(self, path, e); }

void transformer_bind_denoiser(Transformer *t) {
    int n = 0;
    const TrainParam *p = t->full ? t->ops->full_params(t, &n) : linear_set_params(t->linears, &n);
    t->den = (Denoiser){t, den_forward, den_backward, den_save, (TrainParam *)p, n};
}
