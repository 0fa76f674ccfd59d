/* model.c — Qwen2.5-VL configuration, weight table and loading (see model.h). */
#include "models/qwen25vl/model.h"
#include "models/vae/vae_config.h"
#include "base/rng.h"
#include "base/files.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- config */

static int cfg_str(const cJSON *c, const char *key, const char *def, const char **out, Err *e) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(c, key);
    if (!it || cJSON_IsNull(it)) { *out = def; return 0; }
    if (!cJSON_IsString(it)) return err_setc(e, EXIT_USAGE, "config key \"%s\": expected a string", key);
    *out = it->valuestring;
    return 0;
}

/* An integer read from the first object that has the key (text_config, then the top level). */
static int cfg_int2(const cJSON *a, const cJSON *b, const char *key, int def, int *out, Err *e) {
    if (a && cJSON_GetObjectItemCaseSensitive(a, key)) return vae_cfg_int(a, key, def, out, e);
    return vae_cfg_int(b, key, def, out, e);
}

static int parse_vision(const cJSON *v, QvVisionConfig *c, Err *e) {
    const char *act;
    int in_ch_present = cJSON_GetObjectItemCaseSensitive(v, "in_channels") != NULL;
    /* defaults: transformers Qwen2_5_VLVisionConfig */
    if (vae_cfg_int(v, "depth", 32, &c->depth, e) || vae_cfg_int(v, "hidden_size", 3584, &c->hidden, e) ||
        vae_cfg_int(v, "num_heads", 16, &c->heads, e) || vae_cfg_int(v, "intermediate_size", 3420, &c->intermediate, e) ||
        vae_cfg_int(v, "out_hidden_size", 3584, &c->out_hidden, e) || vae_cfg_int(v, "patch_size", 14, &c->patch, e) ||
        vae_cfg_int(v, "temporal_patch_size", 2, &c->temporal_patch, e) ||
        vae_cfg_int(v, in_ch_present ? "in_channels" : "in_chans", 3, &c->in_ch, e) ||
        vae_cfg_int(v, "spatial_merge_size", 2, &c->merge, e) || vae_cfg_int(v, "window_size", 112, &c->window_size, e) ||
        cfg_str(v, "hidden_act", "silu", &act, e))
        return err_prefix(e, "vision_config");
    if (strcmp(act, "silu")) return err_setc(e, EXIT_USAGE, "vision_config.hidden_act \"%s\": not supported yet (silu only)", act);
    double fa[QV_MAX_FULLATT];
    if (!cJSON_GetObjectItemCaseSensitive(v, "fullatt_block_indexes")) {
        static const int def[4] = { 7, 15, 23, 31 };
        c->n_fullatt = 4; memcpy(c->fullatt, def, sizeof def);
    } else {
        if (vae_cfg_numbers(v, "fullatt_block_indexes", fa, QV_MAX_FULLATT, &c->n_fullatt, e)) return err_prefix(e, "vision_config");
        for (int i = 0; i < c->n_fullatt; i++) c->fullatt[i] = (int)fa[i];
    }
    if (c->depth < 0 || c->hidden <= 0 || c->heads <= 0 || c->hidden % c->heads || (c->hidden / c->heads) % 4 ||
        c->intermediate <= 0 || c->out_hidden <= 0 || c->patch <= 0 || c->temporal_patch <= 0 || c->in_ch <= 0 ||
        c->merge <= 0 || c->window_size <= 0)
        return err_setc(e, EXIT_USAGE, "vision_config: inconsistent sizes (hidden_size %d, num_heads %d: head size must be a multiple of 4; "
                        "all sizes positive)", c->hidden, c->heads);
    c->head_dim = c->hidden / c->heads;
    c->eps = 1e-6f;
    return 0;
}

int qv_config_parse(const cJSON *cfg, QvConfig *c, Err *e) {
    memset(c, 0, sizeof *c);
    if (!cJSON_IsObject(cfg)) return err_setc(e, EXIT_USAGE, "text encoder config: expected a JSON object");
    const cJSON *tc = cJSON_GetObjectItemCaseSensitive(cfg, "text_config");
    if (tc && !cJSON_IsObject(tc)) return err_setc(e, EXIT_USAGE, "config key \"text_config\": expected an object");
    const cJSON *t = tc ? tc : cfg;    /* newer saves nest the language-model keys */
    QvTextConfig *x = &c->text;
    /* defaults: transformers Qwen2_5_VLTextConfig */
    if (vae_cfg_int(t, "hidden_size", 8192, &x->hidden, e) || vae_cfg_int(t, "num_hidden_layers", 80, &x->layers, e) ||
        vae_cfg_int(t, "num_attention_heads", 64, &x->heads, e) || vae_cfg_int(t, "intermediate_size", 29568, &x->intermediate, e) ||
        vae_cfg_int(t, "vocab_size", 152064, &x->vocab, e))
        return tc ? err_prefix(e, "text_config") : -1;
    if (vae_cfg_int(t, "num_key_value_heads", x->heads, &x->kv_heads, e)) return -1;
    double eps, theta;
    if (vae_cfg_number(t, "rms_norm_eps", 1e-6, &eps, NULL, e) || vae_cfg_number(t, "rope_theta", 1e6, &theta, NULL, e)) return -1;
    x->eps = (float)eps; x->rope_theta = theta;
    if (cJSON_GetObjectItemCaseSensitive(cfg, "tie_word_embeddings")) { if (vae_cfg_bool(cfg, "tie_word_embeddings", 0, &x->tie_word_embeddings, e)) return -1; }
    else if (vae_cfg_bool(t, "tie_word_embeddings", 0, &x->tie_word_embeddings, e)) return -1;
    const char *act;
    if (cfg_str(t, "hidden_act", "silu", &act, e)) return -1;
    if (strcmp(act, "silu")) return err_setc(e, EXIT_USAGE, "config hidden_act \"%s\": not supported yet (silu only)", act);
    int sliding = 0;
    if (vae_cfg_bool(t, "use_sliding_window", 0, &sliding, e)) return -1;
    if (sliding) return err_setc(e, EXIT_USAGE, "config use_sliding_window true: not supported yet (Qwen2.5-VL uses full attention)");
    if (x->hidden <= 0 || x->layers < 0 || x->heads <= 0 || x->kv_heads <= 0 || x->hidden % x->heads ||
        x->heads % x->kv_heads || x->intermediate <= 0 || x->vocab <= 0 || (x->hidden / x->heads) % 2)
        return err_setc(e, EXIT_USAGE, "text encoder config: inconsistent sizes (hidden_size %d, num_attention_heads %d, "
                        "num_key_value_heads %d: heads must divide hidden_size and be a multiple of the kv heads)",
                        x->hidden, x->heads, x->kv_heads);
    x->head_dim = x->hidden / x->heads;
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(t, "rope_scaling");
    if (!rs && tc) rs = cJSON_GetObjectItemCaseSensitive(cfg, "rope_scaling");
    double sec[4]; int ns = 0;
    if (!rs || !cJSON_IsObject(rs) || vae_cfg_numbers(rs, "mrope_section", sec, 4, &ns, e) || ns != 3)
        return err_setc(e, EXIT_USAGE, "config key \"rope_scaling.mrope_section\": expected 3 integers (t, h, w frequency counts)");
    int sum = 0;
    for (int i = 0; i < 3; i++) { x->mrope_section[i] = (int)sec[i]; sum += x->mrope_section[i]; if (sec[i] < 0) sum = -1000000; }
    if (sum != x->head_dim / 2)
        return err_setc(e, EXIT_USAGE, "config key \"rope_scaling.mrope_section\": [%d, %d, %d] must sum to head_dim/2 = %d",
                        x->mrope_section[0], x->mrope_section[1], x->mrope_section[2], x->head_dim / 2);
    if (cfg_int2(tc, cfg, "image_token_id", 151655, &c->image_token_id, e) ||
        cfg_int2(tc, cfg, "video_token_id", 151656, &c->video_token_id, e) ||
        cfg_int2(tc, cfg, "vision_start_token_id", 151652, &c->vision_start_token_id, e) ||
        cfg_int2(tc, cfg, "vision_end_token_id", 151653, &c->vision_end_token_id, e))
        return -1;
    const cJSON *vc = cJSON_GetObjectItemCaseSensitive(cfg, "vision_config");
    if (!vc || !cJSON_IsObject(vc)) return err_setc(e, EXIT_USAGE, "text encoder config: missing \"vision_config\" object");
    if (parse_vision(vc, &c->vision, e)) return -1;
    /* the merger's outputs replace image-token embeddings in place: their widths must agree */
    if (c->vision.out_hidden != x->hidden)
        return err_setc(e, EXIT_USAGE, "text encoder config: vision_config.out_hidden_size %d must equal hidden_size %d "
                        "(image features take the place of token embeddings)", c->vision.out_hidden, x->hidden);
    return 0;
}

/* ---------------------------------------------------------------- weight table */

static int param_add(QwenVL *m, QvRole role, int optional, int ndim, const int64_t *shape, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static int param_add(QwenVL *m, QvRole role, int optional, int ndim, const int64_t *shape, const char *fmt, ...) {
    if (m->np == m->cap) { m->cap = m->cap ? 2 * m->cap : 256; m->p = xrealloc(m->p, (size_t)m->cap * sizeof *m->p); }
    QvParam *p = &m->p[m->np];
    memset(p, 0, sizeof *p);
    char buf[256];
    va_list ap; va_start(ap, fmt); vsnprintf(buf, sizeof buf, fmt, ap); va_end(ap);
    p->name = xstrdup(buf);
    p->role = role; p->optional = optional; p->ndim = ndim;
    for (int i = 0; i < ndim; i++) p->shape[i] = shape[i];
    return m->np++;
}

static QvLinear linear_add(QwenVL *m, const char *prefix, int in, int out, int bias) {
    QvLinear l = { .in = in, .out = out, .b = -1 };
    int64_t ws[2] = { out, in }, bs[1] = { out };
    l.w = param_add(m, QV_ROLE_LINEAR, 0, 2, ws, "%s.weight", prefix);
    if (bias) l.b = param_add(m, QV_ROLE_BIAS, 0, 1, bs, "%s.bias", prefix);
    return l;
}

static int norm_add(QwenVL *m, const char *name, int C) {
    int64_t s[1] = { C };
    return param_add(m, QV_ROLE_NORM, 0, 1, s, "%s", name);
}

int qwenvl_build(QwenVL *m, const cJSON *config, Err *e) {
    memset(m, 0, sizeof *m);
    if (qv_config_parse(config, &m->cfg, e)) return -1;
    const QvVisionConfig *v = &m->cfg.vision;
    const QvTextConfig *t = &m->cfg.text;
    char pre[128];
    int k = v->in_ch * v->temporal_patch * v->patch * v->patch;
    int64_t pe[5] = { v->hidden, v->in_ch, v->temporal_patch, v->patch, v->patch };
    m->patch_embed = (QvLinear){ .w = param_add(m, QV_ROLE_LINEAR, 0, 5, pe, "visual.patch_embed.proj.weight"), .b = -1, .in = k, .out = v->hidden };
    m->vblocks = xcalloc((size_t)(v->depth ? v->depth : 1), sizeof *m->vblocks);
    for (int b = 0; b < v->depth; b++) {
        QvVisionBlock *B = &m->vblocks[b];
        snprintf(pre, sizeof pre, "visual.blocks.%d.norm1.weight", b); B->norm1 = norm_add(m, pre, v->hidden);
        snprintf(pre, sizeof pre, "visual.blocks.%d.norm2.weight", b); B->norm2 = norm_add(m, pre, v->hidden);
        snprintf(pre, sizeof pre, "visual.blocks.%d.attn.qkv", b); B->qkv = linear_add(m, pre, v->hidden, 3 * v->hidden, 1);
        snprintf(pre, sizeof pre, "visual.blocks.%d.attn.proj", b); B->proj = linear_add(m, pre, v->hidden, v->hidden, 1);
        snprintf(pre, sizeof pre, "visual.blocks.%d.mlp.gate_proj", b); B->gate = linear_add(m, pre, v->hidden, v->intermediate, 1);
        snprintf(pre, sizeof pre, "visual.blocks.%d.mlp.up_proj", b); B->up = linear_add(m, pre, v->hidden, v->intermediate, 1);
        snprintf(pre, sizeof pre, "visual.blocks.%d.mlp.down_proj", b); B->down = linear_add(m, pre, v->intermediate, v->hidden, 1);
    }
    int mh = v->hidden * v->merge * v->merge;
    m->merger_norm = norm_add(m, "visual.merger.ln_q.weight", v->hidden);
    m->merger_fc1 = linear_add(m, "visual.merger.mlp.0", mh, mh, 1);
    m->merger_fc2 = linear_add(m, "visual.merger.mlp.2", mh, v->out_hidden, 1);
    int64_t es[2] = { t->vocab, t->hidden };
    m->embed = param_add(m, QV_ROLE_EMBED, 0, 2, es, "model.embed_tokens.weight");
    m->layers = xcalloc((size_t)(t->layers ? t->layers : 1), sizeof *m->layers);
    int kvd = t->kv_heads * t->head_dim;
    for (int l = 0; l < t->layers; l++) {
        QvTextLayer *L = &m->layers[l];
        snprintf(pre, sizeof pre, "model.layers.%d.input_layernorm.weight", l); L->in_norm = norm_add(m, pre, t->hidden);
        snprintf(pre, sizeof pre, "model.layers.%d.post_attention_layernorm.weight", l); L->post_norm = norm_add(m, pre, t->hidden);
        snprintf(pre, sizeof pre, "model.layers.%d.self_attn.q_proj", l); L->q = linear_add(m, pre, t->hidden, t->hidden, 1);
        snprintf(pre, sizeof pre, "model.layers.%d.self_attn.k_proj", l); L->k = linear_add(m, pre, t->hidden, kvd, 1);
        snprintf(pre, sizeof pre, "model.layers.%d.self_attn.v_proj", l); L->v = linear_add(m, pre, t->hidden, kvd, 1);
        snprintf(pre, sizeof pre, "model.layers.%d.self_attn.o_proj", l); L->o = linear_add(m, pre, t->hidden, t->hidden, 0);
        snprintf(pre, sizeof pre, "model.layers.%d.mlp.gate_proj", l); L->gate = linear_add(m, pre, t->hidden, t->intermediate, 0);
        snprintf(pre, sizeof pre, "model.layers.%d.mlp.up_proj", l); L->up = linear_add(m, pre, t->hidden, t->intermediate, 0);
        snprintf(pre, sizeof pre, "model.layers.%d.mlp.down_proj", l); L->down = linear_add(m, pre, t->intermediate, t->hidden, 0);
    }
    m->final_norm = norm_add(m, "model.norm.weight", t->hidden);
    m->lm_head = (QvLinear){ .w = param_add(m, QV_ROLE_LINEAR, 1, 2, es, "lm_head.weight"), .b = -1, .in = t->hidden, .out = t->vocab };
    return 0;
}

/* The same tensor under the newer layout: visual.X -> model.visual.X, model.X -> model.language_model.X. */
static void alt_name(const char *canon, char *out, size_t n) {
    if (!strncmp(canon, "visual.", 7)) snprintf(out, n, "model.%s", canon);
    else if (!strncmp(canon, "model.", 6)) snprintf(out, n, "model.language_model.%s", canon + 6);
    else snprintf(out, n, "%s", canon);
}

static int is_float(DType d) { return d == DT_F32 || d == DT_BF16 || d == DT_F16; }

int qwenvl_bind(QwenVL *m, const StSet *s, Err *e) {
    char alt[300];
    for (int i = 0; i < m->np; i++) {
        QvParam *p = &m->p[i];
        const StTensor *t = stset_find(s, p->name);
        if (!t) { alt_name(p->name, alt, sizeof alt); t = stset_find(s, alt); }
        if (!t) {
            if (p->optional) { p->data = NULL; continue; }
            return err_set(e, "text encoder checkpoint: missing tensor '%s' (also looked for '%s')%s", p->name, alt,
                           s->n ? "" : " (no safetensors files)");
        }
        if (!is_float(t->dtype))
            return err_set(e, "%s: tensor '%s' has dtype %s; expected F32, BF16 or F16", t->file, t->name, dtype_name(t->dtype));
        if (st_expect_shape(t, p->ndim, p->shape, e)) return err_prefix(e, "%s", t->file);
        p->dtype = t->dtype; p->data = t->data;
    }
    /* lm_head: tied configs reuse the embedding; otherwise logits are unavailable without it */
    if (!m->p[m->lm_head.w].data) m->lm_head.w = m->cfg.text.tie_word_embeddings ? m->embed : -1;
    return 0;
}

int qwenvl_load_from(QwenVL *m, const cJSON *config, const StSet *s, Err *e) {
    if (qwenvl_build(m, config, e)) { qwenvl_free(m); return -1; }
    if (qwenvl_bind(m, s, e)) { qwenvl_free(m); return -1; }
    return 0;
}

int qwenvl_load(QwenVL *m, const char *dir, Err *e) {
    char *cpath = path_join(dir, "config.json");
    size_t len = 0;
    char *text = file_read_all(cpath, &len, e);
    if (!text) { free(cpath); return -1; }
    cJSON *cfg = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cfg) { err_setc(e, EXIT_USAGE, "%s: not valid JSON", cpath); free(cpath); return -1; }
    int rc = qwenvl_build(m, cfg, e);
    if (rc) err_prefix(e, "%s", cpath);
    cJSON_Delete(cfg);
    free(cpath);
    if (rc) { qwenvl_free(m); return -1; }
    if (stset_open(&m->set, dir, e)) { qwenvl_free(m); return -1; }
    m->own_set = 1;
    if (qwenvl_bind(m, &m->set, e)) { qwenvl_free(m); return -1; }
    return 0;
}

static uint64_t name_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) { h ^= (unsigned char)*s; h *= 1099511628211ull; }
    return h;
}

static size_t param_numel(const QvParam *p) {
    size_t n = 1;
    for (int i = 0; i < p->ndim; i++) n *= (size_t)p->shape[i];
    return n;
}

/* A parameter's seeded random values stored as dt into dst (depends only on seed and name). */
static void random_fill(const QvParam *p, uint64_t seed, DType dt, void *dst) {
    size_t n = param_numel(p), es = dtype_size(dt);
    float scale = p->role == QV_ROLE_LINEAR ? 1.0f / sqrtf((float)(n / (size_t)p->shape[0])) : 0.02f;
    float base = p->role == QV_ROLE_NORM ? 1.0f : 0.0f;
    /* chunks with their own stream so the fill runs in parallel and stays deterministic */
    const size_t chunk = 1u << 20;
    long nchunks = (long)((n + chunk - 1) / chunk);
    uint64_t h = name_hash(p->name) ^ seed;
    #pragma omp parallel for schedule(dynamic, 1)
    for (long c = 0; c < nchunks; c++) {
        Rng r; rng_seed_stream(&r, h, (uint64_t)c);
        size_t i0 = (size_t)c * chunk, i1 = i0 + chunk < n ? i0 + chunk : n;
        float tmp[1024];
        for (size_t j = i0; j < i1; j += 1024) {
            size_t nb = i1 - j < 1024 ? i1 - j : 1024;
            for (size_t q = 0; q < nb; q++) tmp[q] = base + scale * (2.0f * rng_uniformf(&r) - 1.0f);
            dtype_from_f32(dt, tmp, (char *)dst + j * es, nb);
        }
    }
}

int qwenvl_init_random(QwenVL *m, const cJSON *config, uint64_t seed, DType dt, Err *e) {
    if (dt != DT_F32 && dt != DT_BF16) return err_set(e, "qwenvl_init_random: dtype %s not supported yet (F32 or BF16)", dtype_name(dt));
    if (qwenvl_build(m, config, e)) { qwenvl_free(m); return -1; }
    int tied = m->cfg.text.tie_word_embeddings;
    size_t total = 0;
    for (int i = 0; i < m->np; i++) if (!(tied && i == m->lm_head.w)) total += param_numel(&m->p[i]);
    size_t es = dtype_size(dt);
    char *block = xmalloc(total * es + 1);
    m->owned = block;
    size_t off = 0;
    for (int i = 0; i < m->np; i++) {
        QvParam *p = &m->p[i];
        if (tied && i == m->lm_head.w) continue;
        random_fill(p, seed, dt, block + off * es);
        p->dtype = dt; p->data = block + off * es;
        off += param_numel(p);
    }
    if (tied) m->lm_head.w = m->embed;
    return 0;
}

int qwenvl_write_random(const cJSON *config, uint64_t seed, DType dt, const char *path, Err *e) {
    if (dt != DT_F32 && dt != DT_BF16) return err_set(e, "qwenvl_write_random: dtype %s not supported yet (F32 or BF16)", dtype_name(dt));
    QwenVL m;
    if (qwenvl_build(&m, config, e)) { qwenvl_free(&m); return -1; }
    int tied = m.cfg.text.tie_word_embeddings;
    StStream s; sts_init(&s);
    sts_set_meta(&s, "format", "pt");
    for (int i = 0; i < m.np; i++) if (!(tied && i == m.lm_head.w)) sts_declare(&s, m.p[i].name, dt, m.p[i].ndim, m.p[i].shape);
    int rc = sts_begin(&s, path, e);
    for (int i = 0; i < m.np && !rc; i++) {
        if (tied && i == m.lm_head.w) continue;
        void *v = xmalloc(param_numel(&m.p[i]) * dtype_size(dt) + 1);
        random_fill(&m.p[i], seed, dt, v);
        rc = sts_write(&s, m.p[i].name, v, e);
        free(v);
    }
    if (!rc) rc = sts_finish(&s, e); else sts_abort(&s);
    qwenvl_free(&m);
    return rc;
}

int qwenvl_save(const QwenVL *m, const char *path, Err *e) {
    StWriter w; stw_init(&w);
    stw_set_meta(&w, "format", "pt");
    for (int i = 0; i < m->np; i++) {
        const QvParam *p = &m->p[i];
        if (p->data && m->qw && m->qw[i].quant != QUANT_NONE) { stw_free(&w); return err_set(e, "%s: a quantised text encoder cannot be saved", path); }
        if (p->data) stw_add(&w, p->name, p->dtype, p->ndim, p->shape, p->data);   /* tied lm_head: absent, as upstream saves it */
    }
    int rc = stw_write(&w, path, e);
    stw_free(&w);
    return rc;
}

int qwenvl_quantize(QwenVL *m, QuantKind k, Err *e) {
    if (k == QUANT_NONE) return 0;
    if (!m->qw) { m->qw = xcalloc((size_t)m->np, sizeof *m->qw); m->qs = xcalloc((size_t)m->np, sizeof *m->qs); }
    for (int i = 0; i < m->np; i++) {
        QvParam *p = &m->p[i];
        if (p->role != QV_ROLE_LINEAR || p->ndim != 2 || !p->data || m->qw[i].quant != QUANT_NONE) continue;
        if (i == m->lm_head.w) continue;
        Weight w = {p->dtype, p->data, (int)p->shape[0], (int)p->shape[1], QUANT_NONE, NULL, 0};
        if (weight_quantize_mapped(&w, k, &m->qs[i], m->own_set ? &m->set : NULL, e)) return err_prefix(e, "text encoder %s", p->name);
        m->qw[i] = w;
    }
    return 0;
}

void qwenvl_free(QwenVL *m) {
    for (int i = 0; m->qs && i < m->np; i++) quant_storage_free(&m->qs[i]);
    free(m->qw); free(m->qs);
    for (int i = 0; i < m->np; i++) free(m->p[i].name);
    free(m->p); free(m->vblocks); free(m->layers);
    if (m->own_set) stset_close(&m->set);
    free(m->owned);
    memset(m, 0, sizeof *m);
}

size_t qwenvl_numel(const QwenVL *m) {
    size_t n = 0;
    for (int i = 0; i < m->np; i++) if (m->p[i].data) n += param_numel(&m->p[i]);
    return n;
}
