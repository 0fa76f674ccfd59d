/* lc_transformer.c — the LongCat transformer behind models/transformer.h: target tokens then
 * reference tokens with the position ids of spec §1.4 (text (0, i, i), target (1, L+r, L+c),
 * references (2, L+r, L+c)).
 *
 * Timesteps: every token gets σ, as the diffusers pipelines sample and the official trainer trains;
 * with refs_t0_in_training (longcat_reference_timestep=zero) a training forward gives reference
 * tokens t = 0 and modulates the text stream by the mean of the image tokens' embeddings
 * (SimpleTuner's edit conditioning, spec §4). The per-token timesteps are traced as
 * "token_timesteps" [N]. */
#include "models/longcat_image/longcat.h"
#include "models/transformer.h"
#include <stdlib.h>
#include <string.h>

/* The model and the per-sample buffers of its inputs. */
typedef struct LcTransformer {
    LcModel m;
    float *t, *img_ids, *txt_ids;
    size_t cap, txt_cap;
} LcTransformer;

static LcTransformer *lt(const Transformer *t) { return t->model; }

static void bind(Transformer *t, LcTransformer *x) {
    t->model = x;
    t->linears = &x->m.linears;
    t->in_channels = x->m.cfg.in_ch;
    t->out_channels = x->m.cfg.out_ch;
    t->txt_dim = x->m.cfg.joint_dim;
}

static int load(Transformer *t, const char *dir, Err *e) {
    LcTransformer *x = xcalloc(1, sizeof *x);
    if (lc_load(&x->m, dir, e)) { free(x); return -1; }
    bind(t, x);
    return 0;
}

static int init_random(Transformer *t, const cJSON *config, uint64_t seed, DType dt, Err *e) {
    LcTransformer *x = xcalloc(1, sizeof *x);
    if (lc_init_random(&x->m, config, seed, dt, e)) { free(x); return -1; }
    bind(t, x);
    return 0;
}

static int write_random(const cJSON *config, uint64_t seed, DType dt, DType file_dt, const char *path, Err *e) {
    return lc_write_random(config, seed, dt, file_dt == DT_COUNT ? DT_F32 : file_dt, path, e);   /* save_full: f32 */
}

static int save_full(const Transformer *t, const char *path, DType dt, Err *e) {
    (void)dt;   /* LongCat's full weights are written in f32, as trained */
    return lc_save_full(&lt(t)->m, path, e);
}

static int enable_full(Transformer *t, Err *e) { (void)e; lc_enable_full_grads(&lt(t)->m); return 0; }
static const TrainParam *full_params(Transformer *t, int *n) { return lc_train_params(&lt(t)->m, n); }

static int forward(Transformer *t, const DenoiseInput *in, float *out, Err *e) {
    LcTransformer *x = lt(t);
    LcModel *m = &x->m;
    int N = 0, L = in->txt_len;
    for (int k = 0; k < in->n_img; k++) N += in->grid_h[k] * in->grid_w[k];
    if ((size_t)N > x->cap) {
        free(x->t); free(x->img_ids);
        x->cap = (size_t)N;
        x->t = xmalloc((size_t)N * sizeof(float)); x->img_ids = xmalloc((size_t)N * 3 * sizeof(float));
    }
    if ((size_t)L > x->txt_cap) { free(x->txt_ids); x->txt_cap = (size_t)L; x->txt_ids = xmalloc((size_t)L * 3 * sizeof(float) + 1); }
    lc_txt_ids(L, x->txt_ids);
    int off = 0, n_target = in->grid_h[0] * in->grid_w[0];
    for (int k = 0; k < in->n_img; k++) {
        lc_img_ids(k == 0 ? 1 : 2, L, in->grid_h[k], in->grid_w[k], x->img_ids + (size_t)off * 3);
        off += in->grid_h[k] * in->grid_w[k];
    }
    if (trace_on(in->trace)) { int64_t sh[2] = {N, 3}; trace_f32(in->trace, "img_ids", 2, sh, x->img_ids); }
    /* drawn only when some adapter drops, so runs without dropout consume no random numbers here */
    if (in->training && in->rng && linear_set_has_dropout(&m->linears)) m->dropout_seed = rng_u64(in->rng);
    const int refs_t0 = in->training && t->refs_t0_in_training;
    for (int i = 0; i < N; i++) x->t[i] = refs_t0 && i >= n_target ? 0.0f : in->sigma;
    if (trace_on(in->trace)) { int64_t sh[1] = {N}; trace_f32(in->trace, "token_timesteps", 1, sh, x->t); }
    m->checkpointing = t->checkpointing;
    LcInput li = { .B = 1, .L = L, .N = N, .x = in->tokens, .ctx = in->txt, .timestep = x->t, .per_token = 1,
                   .txt_ids = x->txt_ids, .img_ids = x->img_ids };
    return lc_forward(m, &li, in->training, out, NULL, e);
}

static int backward(Transformer *t, const float *dout, Err *e) { return lc_backward(&lt(t)->m, dout, NULL, NULL, e); }

static void free_model(Transformer *t) {
    LcTransformer *x = lt(t);
    lc_free(&x->m);
    free(x->t); free(x->img_ids); free(x->txt_ids);
    free(x);
    t->model = NULL;
}

const TransformerOps LONGCAT_IMAGE_TRANSFORMER = {load, init_random, write_random, save_full, enable_full, full_params, forward, backward, free_model};
