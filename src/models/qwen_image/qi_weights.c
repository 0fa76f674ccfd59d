/* qi_weights.c — the declared weight table of QwenImageTransformer2DModel, and everything it
 * drives: loading from a checkpoint, random init, saving, LoRA targeting, trainable parameters. */
#include "models/qwen_image/qwen_image.h"
#include "base/files.h"
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { QD_DIM, QD_DIM2, QD_DIM6, QD_MLP, QD_HEAD, QD_TXT, QD_IN, QD_OUT, QD_TEMB } QiDim;
typedef enum { QE_LINEAR, QE_NORM } QiKind;
typedef struct QiEntry { const char *name; QiKind kind; size_t off; QiDim out, in; } QiEntry;

#define TOP(n, k, f, o, i) {n, k, offsetof(QiModel, f), o, i}
static const QiEntry TOP_ENTRIES[] = {
    TOP("time_text_embed.timestep_embedder.linear_1", QE_LINEAR, t_lin1, QD_DIM, QD_TEMB),
    TOP("time_text_embed.timestep_embedder.linear_2", QE_LINEAR, t_lin2, QD_DIM, QD_DIM),
    TOP("txt_norm", QE_NORM, txt_norm, QD_TXT, QD_TXT),
    TOP("img_in", QE_LINEAR, img_in, QD_DIM, QD_IN),
    TOP("txt_in", QE_LINEAR, txt_in, QD_DIM, QD_TXT),
    TOP("norm_out.linear", QE_LINEAR, norm_out, QD_DIM2, QD_DIM),
    TOP("proj_out", QE_LINEAR, proj_out, QD_OUT, QD_DIM),
};
#define BLK(n, k, f, o, i) {n, k, offsetof(QiBlock, f), o, i}
static const QiEntry BLOCK_ENTRIES[] = {
    BLK("img_mod.1", QE_LINEAR, img_mod, QD_DIM6, QD_DIM),
    BLK("txt_mod.1", QE_LINEAR, txt_mod, QD_DIM6, QD_DIM),
    BLK("attn.to_q", QE_LINEAR, to_q, QD_DIM, QD_DIM),
    BLK("attn.to_k", QE_LINEAR, to_k, QD_DIM, QD_DIM),
    BLK("attn.to_v", QE_LINEAR, to_v, QD_DIM, QD_DIM),
    BLK("attn.add_q_proj", QE_LINEAR, add_q, QD_DIM, QD_DIM),
    BLK("attn.add_k_proj", QE_LINEAR, add_k, QD_DIM, QD_DIM),
    BLK("attn.add_v_proj", QE_LINEAR, add_v, QD_DIM, QD_DIM),
    BLK("attn.to_out.0", QE_LINEAR, to_out, QD_DIM, QD_DIM),
    BLK("attn.to_add_out", QE_LINEAR, to_add_out, QD_DIM, QD_DIM),
    BLK("img_mlp.net.0.proj", QE_LINEAR, img_fc1, QD_MLP, QD_DIM),
    BLK("img_mlp.net.2", QE_LINEAR, img_fc2, QD_DIM, QD_MLP),
    BLK("txt_mlp.net.0.proj", QE_LINEAR, txt_fc1, QD_MLP, QD_DIM),
    BLK("txt_mlp.net.2", QE_LINEAR, txt_fc2, QD_DIM, QD_MLP),
    BLK("attn.norm_q", QE_NORM, norm_q, QD_HEAD, QD_HEAD),
    BLK("attn.norm_k", QE_NORM, norm_k, QD_HEAD, QD_HEAD),
    BLK("attn.norm_added_q", QE_NORM, norm_added_q, QD_HEAD, QD_HEAD),
    BLK("attn.norm_added_k", QE_NORM, norm_added_k, QD_HEAD, QD_HEAD),
};
#define N_TOP ((int)(sizeof TOP_ENTRIES / sizeof *TOP_ENTRIES))
#define N_BLK ((int)(sizeof BLOCK_ENTRIES / sizeof *BLOCK_ENTRIES))

static int dim_of(const QiConfig *c, QiDim d) {
    switch (d) {
    case QD_DIM: return c->dim;
    case QD_DIM2: return 2 * c->dim;
    case QD_DIM6: return 6 * c->dim;
    case QD_MLP: return 4 * c->dim;
    case QD_HEAD: return c->head_dim;
    case QD_TXT: return c->joint_attention_dim;
    case QD_IN: return c->in_channels;
    case QD_OUT: return c->patch_size * c->patch_size * c->out_channels;
    default: return 256;
    }
}

static int cfg_int(const cJSON *j, const char *k, int def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    return cJSON_IsNumber(v) ? v->valueint : def;
}

int qi_config_parse(const cJSON *j, QiConfig *c, const char *source, Err *e) {
    memset(c, 0, sizeof *c);
    c->in_channels = cfg_int(j, "in_channels", 64);
    c->out_channels = cfg_int(j, "out_channels", 16);
    c->patch_size = cfg_int(j, "patch_size", 2);
    c->num_layers = cfg_int(j, "num_layers", 60);
    c->head_dim = cfg_int(j, "attention_head_dim", 128);
    c->heads = cfg_int(j, "num_attention_heads", 24);
    c->joint_attention_dim = cfg_int(j, "joint_attention_dim", 3584);
    c->dim = c->heads * c->head_dim;
    int axes[3] = {16, 56, 56};
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "axes_dims_rope");
    if (cJSON_IsArray(a)) {
        if (cJSON_GetArraySize(a) != 3) return err_set(e, "%s: axes_dims_rope must have 3 entries", source);
        for (int i = 0; i < 3; i++) axes[i] = cJSON_GetArrayItem(a, i)->valueint;
    }
    memcpy(c->axes, axes, sizeof axes);
    c->zero_cond_t = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "zero_cond_t"));
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "guidance_embeds")))
        return err_set(e, "%s: not supported yet: guidance_embeds=true", source);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "use_additional_t_cond")) ||
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "use_layer3d_rope")))
        return err_set(e, "%s: not supported yet: Qwen-Image-Layered (use_additional_t_cond / use_layer3d_rope)", source);
    if (c->axes[0] + c->axes[1] + c->axes[2] != c->head_dim || c->head_dim % 2)
        return err_set(e, "%s: axes_dims_rope must add up to attention_head_dim (%d)", source, c->head_dim);
    if (c->num_layers < 1 || c->heads < 1 || c->in_channels < 1)
        return err_set(e, "%s: num_layers, num_attention_heads and in_channels must be positive", source);
    return 0;
}

static void *entry_ptr(QiModel *m, int block, const QiEntry *en) {
    return block < 0 ? (char *)m + en->off : (char *)&m->blocks[block] + en->off;
}

static char *entry_name(int block, const QiEntry *en) {
    return block < 0 ? xstrdup(en->name) : xasprintf("transformer_blocks.%d.%s", block, en->name);
}

/* Visits every table entry: top level (block -1) then each block. */
typedef int (*EntryFn)(QiModel *m, int block, const QiEntry *en, void *ctx, Err *e);
static int for_each_entry(QiModel *m, EntryFn fn, void *ctx, Err *e) {
    for (int i = 0; i < N_TOP; i++) if (fn(m, -1, &TOP_ENTRIES[i], ctx, e)) return -1;
    for (int b = 0; b < m->cfg.num_layers; b++)
        for (int i = 0; i < N_BLK; i++) if (fn(m, b, &BLOCK_ENTRIES[i], ctx, e)) return -1;
    return 0;
}

static int name_entry(QiModel *m, int block, const QiEntry *en, void *ctx, Err *e) {
    (void)ctx; (void)e;
    char *name = entry_name(block, en);
    if (en->kind == QE_LINEAR) {
        QiLinear *l = entry_ptr(m, block, en);
        l->w.rows = dim_of(&m->cfg, en->out); l->w.cols = dim_of(&m->cfg, en->in);
        l->lin = (Linear){.name = name, .in = l->w.cols, .out = l->w.rows, .w = &l->w};
        linear_set_add(&m->linears, &l->lin);
    } else {
        QiNorm *nm = entry_ptr(m, block, en);
        nm->name = name;
        nm->n = dim_of(&m->cfg, en->out);
    }
    return 0;
}

static int build(QiModel *m, const QiConfig *c, Err *e) {
    memset(m, 0, sizeof *m);
    m->cfg = *c;
    m->blocks = xcalloc((size_t)c->num_layers, sizeof *m->blocks);
    return for_each_entry(m, name_entry, NULL, e);
}

static float *tensor_f32(const StTensor *t) { return st_to_f32(t); }

static int bind_entry(QiModel *m, int block, const QiEntry *en, void *ctx, Err *e) {
    const StSet *s = ctx;
    const char *name = en->kind == QE_LINEAR ? ((QiLinear *)entry_ptr(m, block, en))->lin.name : ((QiNorm *)entry_ptr(m, block, en))->name;
    char key[512];
    snprintf(key, sizeof key, "%s.weight", name);
    const StTensor *t = stset_find(s, key);
    if (!t) return err_set(e, "transformer checkpoint: missing tensor '%s'", key);
    if (en->kind == QE_NORM) {
        QiNorm *nm = entry_ptr(m, block, en);
        int64_t shape[1] = {nm->n};
        if (st_expect_shape(t, 1, shape, e)) return -1;
        nm->w = tensor_f32(t);
        return 0;
    }
    QiLinear *l = entry_ptr(m, block, en);
    int64_t shape[2] = {l->w.rows, l->w.cols};
    if (st_expect_shape(t, 2, shape, e)) return -1;
    if (t->dtype != DT_F32 && t->dtype != DT_BF16 && t->dtype != DT_F16)
        return err_set(e, "%s: tensor '%s' has dtype %s; expected F32, BF16 or F16", t->file, key, dtype_name(t->dtype));
    l->w.dtype = t->dtype;
    l->w.data = t->data;
    snprintf(key, sizeof key, "%s.bias", name);
    const StTensor *b = stset_find(s, key);
    if (!b) return err_set(e, "transformer checkpoint: missing tensor '%s'", key);
    int64_t bs[1] = {l->w.rows};
    if (st_expect_shape(b, 1, bs, e)) return -1;
    l->b = tensor_f32(b);
    l->lin.b = l->b;
    return 0;
}

int qi_load_from(QiModel *m, const cJSON *config, const StSet *weights, Err *e) {
    QiConfig c;
    if (qi_config_parse(config, &c, "transformer/config.json", e)) return -1;
    if (build(m, &c, e) || for_each_entry(m, bind_entry, (void *)weights, e)) { qi_free(m); return -1; }
    return 0;
}

int qi_load(QiModel *m, const char *dir, Err *e) {
    char *cp = path_join(dir, "config.json");
    char *txt = file_read_all(cp, NULL, e);
    free(cp);
    if (!txt) return -1;
    cJSON *j = cJSON_Parse(txt);
    free(txt);
    if (!j) return err_set(e, "%s/config.json: not valid JSON", dir);
    StSet s;
    if (stset_open(&s, dir, e)) { cJSON_Delete(j); return -1; }
    int rc = qi_load_from(m, j, &s, e);
    cJSON_Delete(j);
    if (rc) { stset_close(&s); return err_prefix(e, "%s", dir); }
    m->weights = s;
    m->own_weights = 1;
    m->linears.mapped = &m->weights;   /* quantising releases the checkpoint's pages */
    return 0;
}

/* ---- random init ---- */
/* One draw order for every consumer (in-memory init, streamed files): entry by entry in table
 * order, a linear's weight then its bias, so the same seed gives the same values either way. */
static void random_linear(Rng *rng, int rows, int cols, float *w, float *b) {
    /* nn.Linear's default bound 1/√in, so activations keep their scale through depth */
    rng_fill_uniform(rng, w, (size_t)rows * cols, -1.0f / sqrtf((float)cols), 1.0f / sqrtf((float)cols));
    rng_fill_uniform(rng, b, (size_t)rows, -0.02f, 0.02f);
}
static void random_norm(Rng *rng, int n, float *w) {
    for (int i = 0; i < n; i++) w[i] = 1.0f + 0.05f * (float)rng_normal(rng);
}

typedef struct InitCtx { Rng rng; DType dt; unsigned char **bufs; int n; } InitCtx;

static int init_entry(QiModel *m, int block, const QiEntry *en, void *ctx, Err *e) {
    (void)e;
    InitCtx *ic = ctx;
    if (en->kind == QE_NORM) {
        QiNorm *nm = entry_ptr(m, block, en);
        nm->w = xmalloc((size_t)nm->n * sizeof(float));
        random_norm(&ic->rng, nm->n, nm->w);
        return 0;
    }
    QiLinear *l = entry_ptr(m, block, en);
    size_t n = (size_t)l->w.rows * l->w.cols;
    float *tmp = xmalloc(n * sizeof(float));
    l->b = xmalloc((size_t)l->w.rows * sizeof(float));
    random_linear(&ic->rng, l->w.rows, l->w.cols, tmp, l->b);
    unsigned char *buf = xmalloc(n * dtype_size(ic->dt));
    dtype_from_f32(ic->dt, tmp, buf, n);
    free(tmp);
    ic->bufs = xrealloc(ic->bufs, (size_t)(ic->n + 1) * sizeof *ic->bufs);
    ic->bufs[ic->n++] = buf;
    l->w.dtype = ic->dt;
    l->w.data = buf;
    l->lin.b = l->b;
    return 0;
}

typedef struct Owned { unsigned char **bufs; int n; } Owned;

int qi_init_random(QiModel *m, const QiConfig *c, uint64_t seed, DType dt, Err *e) {
    if (dt != DT_F32 && dt != DT_BF16) return err_set(e, "random transformer weights must be F32 or BF16");
    QiConfig cc = *c;
    cc.dim = cc.heads * cc.head_dim;
    if (build(m, &cc, e)) return -1;
    InitCtx ic = {{{0}}, dt, NULL, 0};
    rng_seed(&ic.rng, seed);
    for_each_entry(m, init_entry, &ic, e);
    Owned *o = xmalloc(sizeof *o);
    o->bufs = ic.bufs; o->n = ic.n;
    m->owned = o;
    return 0;
}

/* Streaming: declare every tensor (qi_save's names and order), then draw and write one at a time. */
typedef struct StreamCtx { StStream *s; Rng rng; DType dt; int pass; } StreamCtx;

static int stream_entry(QiModel *m, int block, const QiEntry *en, void *ctx, Err *e) {
    StreamCtx *sc = ctx;
    char key[512];
    if (en->kind == QE_NORM) {
        QiNorm *nm = entry_ptr(m, block, en);
        int64_t shape[1] = {nm->n};
        snprintf(key, sizeof key, "%s.weight", nm->name);
        if (sc->pass == 0) { sts_declare(sc->s, key, sc->dt, 1, shape); return 0; }
        float *w = xmalloc((size_t)nm->n * sizeof(float));
        void *buf = xmalloc((size_t)nm->n * dtype_size(sc->dt));
        random_norm(&sc->rng, nm->n, w);
        dtype_from_f32(sc->dt, w, buf, (size_t)nm->n);
        int rc = sts_write(sc->s, key, buf, e);
        free(w); free(buf);
        return rc;
    }
    QiLinear *l = entry_ptr(m, block, en);
    int64_t shape[2] = {l->w.rows, l->w.cols}, bs[1] = {l->w.rows};
    char bkey[512];
    snprintf(key, sizeof key, "%s.weight", l->lin.name);
    snprintf(bkey, sizeof bkey, "%s.bias", l->lin.name);
    if (sc->pass == 0) { sts_declare(sc->s, key, sc->dt, 2, shape); sts_declare(sc->s, bkey, sc->dt, 1, bs); return 0; }
    size_t n = (size_t)l->w.rows * l->w.cols;
    float *w = xmalloc(n * sizeof(float)), *b = xmalloc((size_t)l->w.rows * sizeof(float));
    random_linear(&sc->rng, l->w.rows, l->w.cols, w, b);
    void *buf = xmalloc(n * dtype_size(sc->dt));
    dtype_from_f32(sc->dt, w, buf, n);
    int rc = sts_write(sc->s, key, buf, e);
    dtype_from_f32(sc->dt, b, buf, (size_t)l->w.rows);
    if (!rc) rc = sts_write(sc->s, bkey, buf, e);
    free(w); free(b); free(buf);
    return rc;
}

int qi_write_random(const QiConfig *c, uint64_t seed, DType dt, const char *path, Err *e) {
    if (dt != DT_F32 && dt != DT_BF16) return err_set(e, "random transformer weights must be F32 or BF16");
    QiConfig cc = *c;
    cc.dim = cc.heads * cc.head_dim;
    QiModel m;
    if (build(&m, &cc, e)) { qi_free(&m); return -1; }
    StStream s; sts_init(&s);
    sts_set_meta(&s, "format", "pt");
    StreamCtx sc = {&s, {{0}}, dt, 0};
    rng_seed(&sc.rng, seed);
    int rc = for_each_entry(&m, stream_entry, &sc, e);
    if (!rc) rc = sts_begin(&s, path, e);
    sc.pass = 1;
    if (!rc) rc = for_each_entry(&m, stream_entry, &sc, e);
    if (!rc) rc = sts_finish(&s, e); else sts_abort(&s);
    qi_free(&m);
    return rc;
}

/* ---- saving ---- */
typedef struct SaveCtx { StWriter *w; DType dt; } SaveCtx;

static int save_entry(QiModel *m, int block, const QiEntry *en, void *ctx, Err *e) {
    (void)e;
    SaveCtx *s = ctx;
    char key[512];
    if (en->kind == QE_NORM) {
        QiNorm *nm = entry_ptr(m, block, en);
        int64_t shape[1] = {nm->n};
        snprintf(key, sizeof key, "%s.weight", nm->name);
        void *buf = xmalloc((size_t)nm->n * dtype_size(s->dt));
        dtype_from_f32(s->dt, nm->w, buf, (size_t)nm->n);
        stw_add(s->w, key, s->dt, 1, shape, buf);
        free(buf);
        return 0;
    }
    QiLinear *l = entry_ptr(m, block, en);
    size_t n = (size_t)l->w.rows * l->w.cols;
    float *f = xmalloc(n * sizeof(float));
    weight_rows_f32(&l->w, 0, l->w.rows, f);
    void *buf = xmalloc(n * dtype_size(s->dt));
    dtype_from_f32(s->dt, f, buf, n);
    int64_t shape[2] = {l->w.rows, l->w.cols}, bs[1] = {l->w.rows};
    snprintf(key, sizeof key, "%s.weight", l->lin.name);
    stw_add(s->w, key, s->dt, 2, shape, buf);
    dtype_from_f32(s->dt, l->b, buf, (size_t)l->w.rows);
    snprintf(key, sizeof key, "%s.bias", l->lin.name);
    stw_add(s->w, key, s->dt, 1, bs, buf);
    free(buf); free(f);
    return 0;
}

int qi_save(const QiModel *m, const char *path, DType dt, Err *e) {
    StWriter w; stw_init(&w);
    stw_set_meta(&w, "format", "pt");
    SaveCtx s = {&w, dt};
    for_each_entry((QiModel *)m, save_entry, &s, e);
    int rc = stw_write(&w, path, e);
    stw_free(&w);
    return rc;
}

/* ---- full training ---- */
static QiLinear *linear_of(QiModel *m, int i) { return (QiLinear *)m->linears.l[i]; }   /* lin is the first member */

int qi_train_full(QiModel *m, Err *e) {
    (void)e;
    m->train_full = 1;
    for (int i = 0; i < m->linears.n; i++) {
        QiLinear *l = linear_of(m, i);
        size_t nw = (size_t)l->w.rows * l->w.cols;
        l->wf = xmalloc(nw * sizeof(float));
        weight_rows_f32(&l->w, 0, l->w.rows, l->wf);
        l->w.dtype = DT_F32; l->w.data = l->wf;
        l->lin.gw = xcalloc(nw, sizeof(float));
        l->lin.gb = xcalloc((size_t)l->w.rows, sizeof(float));
    }
    m->txt_norm.gw = xcalloc((size_t)m->txt_norm.n, sizeof(float));
    for (int b = 0; b < m->cfg.num_layers; b++) {
        QiNorm *ns[4] = {&m->blocks[b].norm_q, &m->blocks[b].norm_k, &m->blocks[b].norm_added_q, &m->blocks[b].norm_added_k};
        for (int k = 0; k < 4; k++) ns[k]->gw = xcalloc((size_t)ns[k]->n, sizeof(float));
    }
    return 0;
}

static void add_param(QiModel *m, char *name, float *v, float *g, int64_t rows, int64_t cols) {
    m->params = xrealloc(m->params, (size_t)(m->n_params + 1) * sizeof *m->params);
    m->params[m->n_params++] = (TrainParam){name, v, g, (size_t)(rows * cols), cols > 1 ? 2 : 1, {rows, cols > 1 ? cols : 0}};
}

static void free_params(QiModel *m) {
    for (int i = 0; i < m->n_params; i++) free((char *)m->params[i].name);
    free(m->params); m->params = NULL; m->n_params = 0;
}

const TrainParam *qi_full_params(QiModel *m, int *n) {
    free_params(m);
    for (int i = 0; i < m->linears.n; i++) {
        QiLinear *l = linear_of(m, i);
        if (!l->lin.gw) continue;
        add_param(m, xasprintf("%s.weight", l->lin.name), l->wf, l->lin.gw, l->w.rows, l->w.cols);
        add_param(m, xasprintf("%s.bias", l->lin.name), l->b, l->lin.gb, l->w.rows, 1);
    }
    if (m->txt_norm.gw) add_param(m, xasprintf("%s.weight", m->txt_norm.name), m->txt_norm.w, m->txt_norm.gw, m->txt_norm.n, 1);
    for (int b = 0; b < m->cfg.num_layers; b++) {
        QiNorm *ns[4] = {&m->blocks[b].norm_q, &m->blocks[b].norm_k, &m->blocks[b].norm_added_q, &m->blocks[b].norm_added_k};
        for (int k = 0; k < 4; k++) if (ns[k]->gw) add_param(m, xasprintf("%s.weight", ns[k]->name), ns[k]->w, ns[k]->gw, ns[k]->n, 1);
    }
    *n = m->n_params;
    return m->params;
}

static void free_linear(QiLinear *l) {
    free((char *)l->lin.name); free(l->b); free(l->wf); free(l->lin.gw); free(l->lin.gb);
}

void qi_state_free(struct QiState *st);

void qi_free(QiModel *m) {
    for (int i = 0; i < m->linears.n; i++) free_linear(linear_of(m, i));
    linear_set_free(&m->linears);
    linear_scratch_free(&m->scratch);
    free(m->txt_norm.w); free(m->txt_norm.gw); free(m->txt_norm.name);
    for (int b = 0; m->blocks && b < m->cfg.num_layers; b++) {
        QiNorm *ns[4] = {&m->blocks[b].norm_q, &m->blocks[b].norm_k, &m->blocks[b].norm_added_q, &m->blocks[b].norm_added_k};
        for (int k = 0; k < 4; k++) { free(ns[k]->w); free(ns[k]->gw); free(ns[k]->name); }
    }
    free(m->blocks);
    if (m->owned) { Owned *o = m->owned; for (int i = 0; i < o->n; i++) free(o->bufs[i]); free(o->bufs); free(o); }
    if (m->own_weights) stset_close(&m->weights);
    free_params(m);
    qi_state_free(m->st);
    memset(m, 0, sizeof *m);
}
