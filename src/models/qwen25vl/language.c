/* language.c — see language.h. */
#include "models/qwen25vl/language.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

int qv_embed_inputs(const QwenVL *m, const int64_t *ids, int L, const float *image_embeds, int64_t n_image_rows,
                    int64_t *next, float *x, Err *e) {
    if (qv_embed(m, ids, L, x, e)) return -1;
    int C = m->cfg.text.hidden;
    for (int i = 0; i < L; i++) {
        if (ids[i] != m->cfg.image_token_id) continue;
        if (*next >= n_image_rows)
            return err_set(e, "more <|image_pad|> tokens (id %d) than image features (%lld rows)", m->cfg.image_token_id, (long long)n_image_rows);
        memcpy(x + (size_t)i * C, image_embeds + (size_t)(*next)++ * C, (size_t)C * sizeof(float));
    }
    return 0;
}

void qv_mrope_tables(const QvTextConfig *c, const int64_t *pos, size_t pos_stride, int L, float *cos_t, float *sin_t) {
    int D = c->head_dim, half = D / 2;
    float *inv = xmalloc((size_t)half * sizeof(float));
    for (int j = 0; j < half; j++) inv[j] = 1.0f / powf((float)c->rope_theta, (float)(2 * j) / (float)D);
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < L; i++)
        for (int j = 0; j < half; j++) {
            int k = j < c->mrope_section[0] ? 0 : j < c->mrope_section[0] + c->mrope_section[1] ? 1 : 2;
            float a = (float)pos[(size_t)k * pos_stride + i] * inv[j];
            cos_t[(size_t)i * D + j] = cos_t[(size_t)i * D + j + half] = cosf(a);
            sin_t[(size_t)i * D + j] = sin_t[(size_t)i * D + j + half] = sinf(a);
        }
    free(inv);
}

void qv_language_forward(const QwenVL *m, float *x, int L, const int64_t *pos, size_t pos_stride,
                         const int *key_mask, QvHiddenFn fn, void *ctx) {
    const QvTextConfig *c = &m->cfg.text;
    int C = c->hidden, D = c->head_dim, Hq = c->heads, Hkv = c->kv_heads, I = c->intermediate, KV = Hkv * D;
    float *cos_t = xmalloc((size_t)L * D * sizeof(float)), *sin_t = xmalloc((size_t)L * D * sizeof(float));
    qv_mrope_tables(c, pos, pos_stride, L, cos_t, sin_t);
    float *h = xmalloc((size_t)L * C * sizeof(float)), *q = xmalloc((size_t)L * C * sizeof(float));
    float *k = xmalloc((size_t)L * KV * sizeof(float)), *v = xmalloc((size_t)L * KV * sizeof(float));
    float *att = xmalloc((size_t)L * C * sizeof(float));
    float *g = xmalloc((size_t)L * I * sizeof(float)), *u = xmalloc((size_t)L * I * sizeof(float));
    for (int l = 0; l < c->layers; l++) {
        const QvTextLayer *T = &m->layers[l];
        if (fn) fn(ctx, l, x, L);
        qv_rmsnorm(m, T->in_norm, x, L, C, c->eps, h);
        qv_linear(m, T->q, h, L, C, q, C);
        qv_linear(m, T->k, h, L, C, k, KV);
        qv_linear(m, T->v, h, L, C, v, KV);
        qv_rope_apply(q, L, Hq, D, C, cos_t, sin_t);
        qv_rope_apply(k, L, Hkv, D, KV, cos_t, sin_t);
        QvAttn a = { .L = L, .Hq = Hq, .Hkv = Hkv, .D = D, .q = q, .k = k, .v = v, .ldq = C, .ldk = KV,
                     .o = att, .ldo = C, .causal = 1, .key_mask = key_mask };
        qv_attention(&a);
        qv_linear(m, T->o, att, L, C, h, C);
        qv_add_into(x, h, (size_t)L * C);
        qv_rmsnorm(m, T->post_norm, x, L, C, c->eps, h);
        qv_linear(m, T->gate, h, L, C, g, I);
        qv_linear(m, T->up, h, L, C, u, I);
        qv_silu_mul(g, u, (size_t)L * I);
        qv_linear(m, T->down, g, L, I, h, C);
        qv_add_into(x, h, (size_t)L * C);
    }
    qv_rmsnorm(m, m->final_norm, x, L, C, c->eps, x);
    if (fn) fn(ctx, c->layers, x, L);
    free(cos_t); free(sin_t); free(h); free(q); free(k); free(v); free(att); free(g); free(u);
}

int qv_logits(const QwenVL *m, const float *h, int L, float *logits, Err *e) {
    if (m->lm_head.w < 0) return err_set(e, "logits need lm_head.weight, which the checkpoint does not have (and tie_word_embeddings is false)");
    qv_linear(m, m->lm_head, h, L, m->cfg.text.hidden, logits, m->cfg.text.vocab);
    return 0;
}
