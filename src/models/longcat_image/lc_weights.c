/* weights.c — the declared weight table of the LongCat transformer (spec §1.2): names, shapes and
 * roles, declared once; binding to a checkpoint, seeded random weights, full-gradient buffers. */
#include "models/longcat_image/longcat.h"
#include "base/files.h"
#include "base/rng.h"
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t pnumel(const LcParam *p) { return p->ndim == 1 ? (size_t)p->shape[0] : (size_t)(p->shape[0] * p->shape[1]); }

static int param_add(LcModel *m, LcRole role, int rows, int cols, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int param_add(LcModel *m, LcRole role, int rows, int cols, const char *fmt, ...) {
    if (m->np == m->cap) { m->cap = m->cap ? 2 * m->cap : 128; m->p = xrealloc(m->p, (size_t)m->cap * sizeof *m->p); }
    LcParam *p = &m->p[m->np];
    memset(p, 0, sizeof *p);
    char buf[256];
    va_list ap; va_start(ap, fmt); vsnprintf(buf, sizeof buf, fmt, ap); va_end(ap);
    p->name = xstrdup(buf);
    p->role = role;
    p->ndim = cols ? 2 : 1;
    p->shape[0] = rows; p->shape[1] = cols;
    p->w.rows = cols ? rows : 1; p->w.cols = cols ? cols : rows;
    return m->np++;
}

static LcLinear lin(LcModel *m, const char *prefix, int in, int out) {
    LcLinear l = { .in = in, .out = out };
    l.w = param_add(m, LC_ROLE_LINEAR, out, in, "%s.weight", prefix);
    l.b = param_add(m, LC_ROLE_BIAS, out, 0, "%s.bias", prefix);
    return l;
}

static int norm(LcModel *m, const char *name, int C) { return param_add(m, LC_ROLE_NORM, C, 0, "%s", name); }

/* Every linear of the model (pointers into m): top level, then the double and single blocks. */
static int all_linears(LcModel *m, LcLinear **out) {
    int n = 0;
    LcLinear *top[] = { &m->x_emb, &m->ctx_emb, &m->t1, &m->t2, &m->norm_out, &m->proj_out };
    for (size_t i = 0; i < sizeof top / sizeof *top; i++) out[n++] = top[i];
    for (int i = 0; i < m->cfg.layers; i++) {
        LcDouble *b = &m->dbl[i];
        LcLinear *l[] = { &b->norm1, &b->norm1_ctx, &b->q, &b->k, &b->v, &b->out, &b->add_q, &b->add_k, &b->add_v,
                          &b->add_out, &b->ff0, &b->ff2, &b->ffc0, &b->ffc2 };
        for (size_t j = 0; j < sizeof l / sizeof *l; j++) out[n++] = l[j];
    }
    for (int i = 0; i < m->cfg.single_layers; i++) {
        LcSingle *b = &m->sgl[i];
        LcLinear *l[] = { &b->norm, &b->q, &b->k, &b->v, &b->mlp, &b->out };
        for (size_t j = 0; j < sizeof l / sizeof *l; j++) out[n++] = l[j];
    }
    return n;
}

/* The shared layers view the table: weight, f32 bias and, when training in full, their gradients.
 * Called whenever those move (binding, random init, full gradients). */
static void sync_linears(LcModel *m) {
    for (int i = 0; i < m->linears.n; i++) {
        LcLinear *l = (LcLinear *)((char *)m->linears.l[i] - offsetof(LcLinear, lin));
        l->lin.w = &m->p[l->w].w;
        l->lin.b = m->p[l->b].w.dtype == DT_F32 ? (const float *)m->p[l->b].w.data : NULL;
        l->lin.gw = m->p[l->w].grad;
        l->lin.gb = m->p[l->b].grad;
    }
}

static void register_linears(LcModel *m) {
    LcLinear **ls = xmalloc((size_t)(6 + 14 * m->cfg.layers + 6 * m->cfg.single_layers) * sizeof *ls);
    int n = all_linears(m, ls);
    for (int i = 0; i < n; i++) {
        const char *wn = m->p[ls[i]->w].name;              /* "<module>.weight" */
        ls[i]->lin = (Linear){ .name = xasprintf("%.*s", (int)strlen(wn) - 7, wn), .in = ls[i]->in, .out = ls[i]->out };
        linear_set_add(&m->linears, &ls[i]->lin);
    }
    free(ls);
    sync_linears(m);
}

int lc_build(LcModel *m, const cJSON *config, Err *e) {
    memset(m, 0, sizeof *m);
    if (lc_config_parse(config, &m->cfg, e)) return -1;
    const LcConfig *c = &m->cfg;
    int D = c->dim, F = c->ff, hd = c->head_dim;
    char s[160];
    m->x_emb = lin(m, "x_embedder", c->in_ch, D);
    m->ctx_emb = lin(m, "context_embedder", c->joint_dim, D);
    m->t1 = lin(m, "time_embed.timestep_embedder.linear_1", LC_TIME_CH, D);
    m->t2 = lin(m, "time_embed.timestep_embedder.linear_2", D, D);
    m->dbl = xcalloc((size_t)c->layers + 1, sizeof *m->dbl);
    m->sgl = xcalloc((size_t)c->single_layers + 1, sizeof *m->sgl);
    for (int i = 0; i < c->layers; i++) {
        LcDouble *b = &m->dbl[i];
#define P(suffix) (snprintf(s, sizeof s, "transformer_blocks.%d.%s", i, suffix), s)
        b->norm1 = lin(m, P("norm1.linear"), D, 6 * D);
        b->norm1_ctx = lin(m, P("norm1_context.linear"), D, 6 * D);
        b->q = lin(m, P("attn.to_q"), D, D);
        b->k = lin(m, P("attn.to_k"), D, D);
        b->v = lin(m, P("attn.to_v"), D, D);
        b->out = lin(m, P("attn.to_out.0"), D, D);
        b->norm_q = norm(m, P("attn.norm_q.weight"), hd);
        b->norm_k = norm(m, P("attn.norm_k.weight"), hd);
        b->add_q = lin(m, P("attn.add_q_proj"), D, D);
        b->add_k = lin(m, P("attn.add_k_proj"), D, D);
        b->add_v = lin(m, P("attn.add_v_proj"), D, D);
        b->add_out = lin(m, P("attn.to_add_out"), D, D);
        b->norm_added_q = norm(m, P("attn.norm_added_q.weight"), hd);
        b->norm_added_k = norm(m, P("attn.norm_added_k.weight"), hd);
        b->ff0 = lin(m, P("ff.net.0.proj"), D, F);
        b->ff2 = lin(m, P("ff.net.2"), F, D);
        b->ffc0 = lin(m, P("ff_context.net.0.proj"), D, F);
        b->ffc2 = lin(m, P("ff_context.net.2"), F, D);
#undef P
    }
    for (int i = 0; i < c->single_layers; i++) {
        LcSingle *b = &m->sgl[i];
#define P(suffix) (snprintf(s, sizeof s, "single_transformer_blocks.%d.%s", i, suffix), s)
        b->norm = lin(m, P("norm.linear"), D, 3 * D);
        b->mlp = lin(m, P("proj_mlp"), D, F);
        b->out = lin(m, P("proj_out"), D + F, D);
        b->q = lin(m, P("attn.to_q"), D, D);
        b->k = lin(m, P("attn.to_k"), D, D);
        b->v = lin(m, P("attn.to_v"), D, D);
        b->norm_q = norm(m, P("attn.norm_q.weight"), hd);
        b->norm_k = norm(m, P("attn.norm_k.weight"), hd);
#undef P
    }
    m->norm_out = lin(m, "norm_out.linear", D, 2 * D);
    m->proj_out = lin(m, "proj_out", D, c->out_ch);
    register_linears(m);
    return 0;
}

int lc_find(const LcModel *m, const char *name) {
    for (int i = 0; i < m->np; i++) if (!strcmp(m->p[i].name, name)) return i;
    return -1;
}

/* Biases and norm weights are small and the kernels take them as f32: convert once. */
static void small_to_f32(LcModel *m) {
    for (int i = 0; i < m->np; i++) {
        LcParam *p = &m->p[i];
        if (p->ndim != 1 || p->owned) continue;
        p->owned = xmalloc(pnumel(p) * sizeof(float));
        dtype_to_f32(p->w.dtype, p->w.data, p->owned, pnumel(p));
        p->w.dtype = DT_F32; p->w.data = p->owned;
    }
}

int lc_bind(LcModel *m, const StSet *s, Err *e) {
    for (int i = 0; i < m->np; i++) {
        LcParam *p = &m->p[i];
        const StTensor *t = stset_find(s, p->name);
        if (!t) return err_set(e, "transformer checkpoint: missing tensor '%s' (expected shape [%lld%s%lld])", p->name,
                               (long long)p->shape[0], p->ndim == 2 ? ", " : "", p->ndim == 2 ? (long long)p->shape[1] : 0LL);
        if (t->dtype != DT_F32 && t->dtype != DT_BF16 && t->dtype != DT_F16)
            return err_set(e, "%s: tensor '%s' has dtype %s (expected F32, BF16 or F16)", t->file, p->name, dtype_name(t->dtype));
        if (st_expect_shape(t, p->ndim, p->shape, e)) return err_prefix(e, "%s", t->file);
        p->w.dtype = t->dtype; p->w.data = t->data;
    }
    small_to_f32(m);
    sync_linears(m);
    return 0;
}

int lc_load(LcModel *m, const char *dir, Err *e) {
    char *cp = path_join(dir, "config.json");
    size_t n; char *text = file_read_all(cp, &n, e);
    if (!text) { free(cp); return -1; }
    cJSON *cfg = cJSON_Parse(text);
    free(text);
    if (!cfg) { err_setc(e, EXIT_USAGE, "%s: not valid JSON", cp); free(cp); return -1; }
    int rc = lc_build(m, cfg, e);
    cJSON_Delete(cfg);
    if (rc) { err_prefix(e, "%s", cp); free(cp); lc_free(m); return -1; }
    free(cp);
    if (stset_open(&m->set, dir, e)) { lc_free(m); return -1; }
    m->own_set = 1;
    m->linears.mapped = &m->set;   /* quantising releases the checkpoint's pages */
    if (lc_bind(m, &m->set, e)) { lc_free(m); return -1; }
    return 0;
}

/* A parameter's seeded random values stored as dt into dst; each tensor depends only on (seed, name):
 * linears ~ U(±1/√in); biases and norm weights near their usual values so every path is exercised. */
static void random_fill(const LcParam *p, uint64_t seed, DType dt, void *dst) {
    size_t n = pnumel(p), es = dtype_size(dt);
    float scale = p->role == LC_ROLE_LINEAR ? 1.0f / sqrtf((float)p->shape[1]) : 0.1f;
    float base = p->role == LC_ROLE_NORM ? 1.0f : 0.0f;
    Rng r; rng_seed_stream(&r, seed, hash64(p->name, strlen(p->name), 0));
    float tmp[1024];
    for (size_t j = 0; j < n; j += 1024) {
        size_t nb = n - j < 1024 ? n - j : 1024;
        for (size_t q = 0; q < nb; q++) tmp[q] = base + scale * (2.0f * rng_uniformf(&r) - 1.0f);
        dtype_from_f32(dt, tmp, (char *)dst + j * es, nb);
    }
}

int lc_init_random(LcModel *m, const cJSON *config, uint64_t seed, DType dt, Err *e) {
    if (dt != DT_F32 && dt != DT_BF16) return err_set(e, "lc_init_random: dtype %s not supported yet (F32 or BF16)", dtype_name(dt));
    if (lc_build(m, config, e)) { lc_free(m); return -1; }
    size_t total = 0, es = dtype_size(dt);
    for (int i = 0; i < m->np; i++) total += pnumel(&m->p[i]);
    char *block = xmalloc(total * es + 1);
    m->owned = block;
    size_t off = 0;
    for (int i = 0; i < m->np; i++) {
        LcParam *p = &m->p[i];
        random_fill(p, seed, dt, block + off * es);
        p->w.dtype = dt; p->w.data = block + off * es;
        off += pnumel(p);
    }
    small_to_f32(m);
    sync_linears(m);
    return 0;
}

int lc_write_random(const cJSON *config, uint64_t seed, DType dt, DType file_dt, const char *path, Err *e) {
    if ((dt != DT_F32 && dt != DT_BF16) || (file_dt != DT_F32 && file_dt != DT_BF16))
        return err_set(e, "lc_write_random: dtypes %s/%s not supported (F32 or BF16)", dtype_name(dt), dtype_name(file_dt));
    LcModel m;
    if (lc_build(&m, config, e)) { lc_free(&m); return -1; }
    StStream s; sts_init(&s);
    for (int i = 0; i < m.np; i++) sts_declare(&s, m.p[i].name, file_dt, m.p[i].ndim, m.p[i].shape);
    sts_set_meta(&s, "format", "pt");
    int rc = sts_begin(&s, path, e);
    for (int i = 0; i < m.np && !rc; i++) {
        size_t n = pnumel(&m.p[i]);
        void *v = xmalloc(n * dtype_size(dt)), *out = v;
        random_fill(&m.p[i], seed, dt, v);
        if (file_dt != dt) { out = xmalloc(n * dtype_size(file_dt)); float *f = xmalloc(n * sizeof(float));
                             dtype_to_f32(dt, v, f, n); dtype_from_f32(file_dt, f, out, n); free(f); }
        rc = sts_write(&s, m.p[i].name, out, e);
        if (out != v) free(out);
        free(v);
    }
    if (!rc) rc = sts_finish(&s, e); else sts_abort(&s);
    lc_free(&m);
    return rc;
}

void lc_enable_full_grads(LcModel *m) {
    if (m->full_grads) return;
    m->full_grads = 1;
    lc_run_free(m);
    for (int i = 0; i < m->np; i++) {
        LcParam *p = &m->p[i];
        size_t n = pnumel(p);
        if (!p->owned) {
            p->owned = xmalloc(n * sizeof(float));
            weight_rows_f32(&p->w, 0, p->w.rows, p->owned);
            p->w.dtype = DT_F32; p->w.data = p->owned;
        }
        p->grad = xcalloc(n, sizeof(float));
    }
    sync_linears(m);
}

void lc_zero_grads(LcModel *m) {
    for (int i = 0; i < m->np; i++) if (m->p[i].grad) memset(m->p[i].grad, 0, pnumel(&m->p[i]) * sizeof(float));
    int n;
    const TrainParam *tp = linear_set_params(&m->linears, &n);
    for (int i = 0; i < n; i++) memset(tp[i].grad, 0, tp[i].numel * sizeof(float));
}

const TrainParam *lc_train_params(LcModel *m, int *n) {
    free(m->tp); m->tp = NULL; m->n_tp = 0;
    if (linear_set_n_adapters(&m->linears)) return linear_set_params(&m->linears, n);
    if (m->full_grads) {
        m->tp = xcalloc((size_t)m->np, sizeof *m->tp);
        for (int i = 0; i < m->np; i++)
            m->tp[m->n_tp++] = (TrainParam){ m->p[i].name, m->p[i].owned, m->p[i].grad, pnumel(&m->p[i]), m->p[i].ndim, { m->p[i].shape[0], m->p[i].shape[1] } };
    }
    *n = m->n_tp;
    return m->tp;
}

int lc_save_full(const LcModel *m, const char *path, Err *e) {
    StWriter w; stw_init(&w);
    for (int i = 0; i < m->np; i++) {
        const LcParam *p = &m->p[i];
        size_t n = pnumel(p);
        float *v = xmalloc(n * sizeof(float));
        weight_rows_f32(&p->w, 0, p->w.rows, v);
        stw_add_f32(&w, p->name, p->ndim, p->shape, v);
        free(v);
    }
    stw_set_meta(&w, "format", "pt");
    int rc = stw_write(&w, path, e);
    stw_free(&w);
    return rc;
}

void lc_free(LcModel *m) {
    lc_run_free(m);
    for (int i = 0; i < m->linears.n; i++) free((char *)m->linears.l[i]->name);
    linear_set_free(&m->linears);
    linear_scratch_free(&m->scratch);
    for (int i = 0; i < m->np; i++) { free(m->p[i].name); free(m->p[i].grad); free(m->p[i].owned); }
    free(m->p); free(m->dbl); free(m->sgl); free(m->tp);
    if (m->own_set) stset_close(&m->set);
    free(m->owned);
    memset(m, 0, sizeof *m);
}
