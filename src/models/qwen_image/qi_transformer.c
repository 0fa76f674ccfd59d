/* qi_transformer.c — QwenImageTransformer2DModel behind models/transformer.h: one sample's
 * target tokens then reference tokens (one img_shapes entry each: RoPE frames 0, 1, 2 ...), the
 * prompt embedding all valid (cached per sample), zero_cond_t from the model's config. */
#include "models/qwen_image/qwen_image.h"
#include "models/transformer.h"
#include <stdlib.h>
#include <string.h>

static QiModel *qm(const Transformer *t) { return t->model; }

static void bind(Transformer *t, QiModel *m) {
    t->model = m;
    t->linears = &m->linears;
    t->in_channels = m->cfg.in_channels;
    t->out_channels = m->cfg.patch_size * m->cfg.patch_size * m->cfg.out_channels;
    t->txt_dim = m->cfg.joint_attention_dim;
}

static int load(Transformer *t, const char *dir, Err *e) {
    QiModel *m = xcalloc(1, sizeof *m);
    if (qi_load(m, dir, e)) { free(m); return -1; }
    bind(t, m);
    return 0;
}

static int init_random(Transformer *t, const cJSON *config, uint64_t seed, DType dt, Err *e) {
    QiConfig c;
    if (qi_config_parse(config, &c, "transformer config", e)) return -1;
    QiModel *m = xcalloc(1, sizeof *m);
    if (qi_init_random(m, &c, seed, dt, e)) { free(m); return -1; }
    bind(t, m);
    return 0;
}

static int write_random(const cJSON *config, uint64_t seed, DType dt, DType file_dt, const char *path, Err *e) {
    if (file_dt != DT_COUNT && file_dt != dt) return err_set(e, "%s: Qwen-Image random weights are stored in the dtype they are drawn in", path);
    QiConfig c;
    if (qi_config_parse(config, &c, "transformer config", e)) return -1;
    return qi_write_random(&c, seed, dt, path, e);
}

static int save_full(const Transformer *t, const char *path, DType dt, Err *e) { return qi_save(qm(t), path, dt, e); }
static int enable_full(Transformer *t, Err *e) { return qi_train_full(qm(t), e); }
static const TrainParam *full_params(Transformer *t, int *n) { return qi_full_params(qm(t), n); }

static int forward(Transformer *t, const DenoiseInput *in, float *out, Err *e) {
    QiModel *m = qm(t);
    if (in->n_img > QI_MAX_IMAGES) return err_set(e, "%d images per sample; at most %d", in->n_img, QI_MAX_IMAGES);
    QiInput qi = {0};
    qi.n_img = in->n_img;
    for (int k = 0; k < in->n_img; k++) { qi.img_h[k] = in->grid_h[k]; qi.img_w[k] = in->grid_w[k]; }
    qi.img = in->tokens;
    qi.txt = in->txt; qi.txt_len = in->txt_len; qi.txt_mask = NULL;
    qi.timestep = in->sigma;
    qi.training = in->training;
    /* drawn only when some adapter drops, so runs without dropout consume no random numbers here */
    qi.dropout_seed = in->training && in->rng && linear_set_has_dropout(&m->linears) ? rng_u64(in->rng) : 0;
    m->checkpointing = t->checkpointing;
    return qi_forward(m, &qi, out, NULL, e);
}

static int backward(Transformer *t, const float *dout, Err *e) { return qi_backward(qm(t), dout, NULL, NULL, e); }

static void free_model(Transformer *t) { qi_free(qm(t)); free(t->model); t->model = NULL; }

const TransformerOps QWEN_IMAGE_TRANSFORMER = {load, init_random, write_random, save_full, enable_full, full_params, forward, backward, free_model};
