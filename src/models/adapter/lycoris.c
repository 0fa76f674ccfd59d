/* lycoris.c — what the LyCORIS kinds share (lycoris_internal.h) and the dispatch of lycoris.h by
 * kind: factorization, construction, the training-only random decisions, file tensors. */
#include "models/adapter/lycoris_internal.h"
#include "base/error.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void lycoris_factorization(int dim, int factor, int *m_out, int *n_out) {
    if (factor > 0 && dim % factor == 0) {
        int m = factor, n = dim / factor;
        if (m > n) { int t = m; m = n; n = t; }
        *m_out = m; *n_out = n;
        return;
    }
    if (factor < 0) factor = dim;   /* factor 0 keeps (1, dim) */
    /* walk the divisors m of dim upwards from (1, dim) while m <= factor and m < n (LyCORIS compares
     * m + n with the starting 1 + dim, which a divisor pair never exceeds) */
    int m = 1, n = dim;
    const long length = 1L + dim;
    while (m < n) {
        int nm = m + 1;
        while (dim % nm) nm++;
        int nn = dim / nm;
        if ((long)nm + nn > length || nm > factor) break;
        m = nm; n = nn;
    }
    if (m > n) { int t = m; m = n; n = t; }
    *m_out = m; *n_out = n;
}

/* ---- training-only random decisions ---- */

int lyco_module_dropped(const LycoCommon *k, const AdapterCall *c) {
    return c && c->training && k->module_dropout > 0 && lyco_uniform(c->seed ^ 0x6D6F64756C65ull, 0) < k->module_dropout;
}

int lyco_rank_mask(const LycoCommon *k, const AdapterCall *c, int len, float *mask) {
    if (!c || !c->training || !(k->rank_dropout > 0)) return 0;
    double sum = 0;
    for (int i = 0; i < len; i++) { mask[i] = lyco_uniform(c->seed ^ 0x72616E6Bull, (uint64_t)i) > k->rank_dropout ? 1.0f : 0.0f; sum += mask[i]; }
    /* drop /= drop.mean(); an all-zero mask stays zero (upstream would divide by 0) */
    if (k->rank_dropout_scale && sum > 0) {
        float inv = (float)(len / sum);
        for (int i = 0; i < len; i++) mask[i] *= inv;
    }
    return 1;
}

int lyco_out_dropout_on(const LycoCommon *k, const AdapterCall *c) { return c && c->training && k->bypass && k->dropout > 0; }

/* ---- construction ---- */

void lyco_gemm(int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda, const float *B, int ldb,
               float beta, float *C, int ldc) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {   /* sgemm with k = 0 is C = beta·C */
        for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) C[(size_t)i * ldc + j] *= beta;
        return;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, A, lda, B,
                ldb, beta, C, ldc);
}

size_t lyco_chunk_rows(const LycoCommon *k, size_t floats_per_row, int n) {
    size_t c = (k->chunk_floats ? k->chunk_floats : LYCO_CHUNK_FLOATS) / (floats_per_row ? floats_per_row : 1);
    return c < 1 ? 1 : c > (size_t)(n > 0 ? n : 1) ? (size_t)(n > 0 ? n : 1) : c;
}

void lycoris_adapter_set_chunk(Adapter *a, size_t floats) { ((LycoCommon *)a->impl)->chunk_floats = floats; }

void lyco_common_init(LycoCommon *k, const LycorisModuleSpec *s, int r, float file_scale, float alpha_saved) {
    k->algo = s->algo;
    k->r = r;
    k->file_scale = file_scale;
    k->multiplier = s->multiplier;
    k->alpha_saved = alpha_saved;
    k->has_alpha = 1;
    k->use_scalar = s->use_scalar;
    k->s = s->use_scalar ? 0.0f : 1.0f;
    k->bypass = s->bypass_mode;
    k->rank_dropout_scale = s->rank_dropout_scale;
    k->dropout = s->dropout;
    k->rank_dropout = s->rank_dropout;
    k->module_dropout = s->module_dropout;
}

void lyco_update_scale(Adapter *a) {
    LycoCommon *k = a->impl;
    a->scale = k->multiplier * k->file_scale;
    a->stochastic = k->module_dropout > 0 || k->rank_dropout > 0 || (k->bypass && k->dropout > 0);
}

Adapter *lyco_make(const AdapterOps *ops, const char *module, int in, int out, void *impl, LycoCommon *k, int n,
                   const char *const *suffix, const int *rows, const int *cols, float **values, float **grads) {
    Adapter *a = xcalloc(1, sizeof *a);
    a->ops = ops; a->in = in; a->out = out; a->impl = impl;
    a->n_params = n + (k->use_scalar ? 1 : 0);
    a->params = xcalloc((size_t)a->n_params, sizeof *a->params);
    for (int i = 0; i < n; i++) {
        size_t numel = (size_t)rows[i] * cols[i];
        values[i] = xcalloc(numel, sizeof(float));
        grads[i] = xcalloc(numel, sizeof(float));
        k->buf[k->nbuf++] = values[i]; k->buf[k->nbuf++] = grads[i];
        a->params[i] = (TrainParam){xasprintf("%s.%s", module, suffix[i]), values[i], grads[i], numel, 2, {rows[i], cols[i]}};
    }
    if (k->use_scalar) a->params[n] = (TrainParam){xasprintf("%s.scalar", module), &k->s, &k->gs, 1, 1, {1, 0}};
    lyco_update_scale(a);
    return a;
}

void lyco_free_impl(Adapter *a) {
    LycoCommon *k = a->impl;
    for (int i = 0; i < k->nbuf; i++) free(k->buf[i]);
    free(k);
}

void lyco_kaiming(Rng *r, float *w, int rows, int cols) {
    float bound = 1.0f / sqrtf((float)cols);
    rng_fill_uniform(r, w, (size_t)rows * cols, -bound, bound);
}

void lyco_init_rng(Rng *r, uint64_t seed, const char *module) { rng_seed_stream(r, seed, hash64(module, strlen(module), 0x6C79636Full)); }

/* ---- file tensors ---- */

const float *lyco_find(const LycorisTensors *t, const char *suffix, int *rows, int *cols) {
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->suffix[i], suffix)) { if (rows) *rows = t->rows[i]; if (cols) *cols = t->cols[i]; return t->data[i]; }
    return NULL;
}

void lyco_put(LycorisTensors *t, const char *suffix, int rows, int cols, const float *data, float mul) {
    size_t n = (size_t)rows * cols;
    float *d = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) d[i] = data[i] * mul;
    t->suffix[t->n] = suffix; t->rows[t->n] = rows; t->cols[t->n] = cols; t->data[t->n] = d;
    t->n++;
}

void lycoris_tensors_free(LycorisTensors *t) {
    for (int i = 0; i < t->n; i++) free(t->data[i]);
    memset(t, 0, sizeof *t);
}

/* ---- lycoris.h ---- */

Adapter *lycoris_adapter_new(const char *module, int in, int out, const LycorisModuleSpec *s, uint64_t seed) {
    switch (s->algo) {
    case LYCO_LOKR: return lyco_lokr_new(module, in, out, s, seed);
    case LYCO_LOHA: return lyco_loha_new(module, in, out, s, seed);
    default: return lyco_lora_new(module, in, out, s, seed);
    }
}

int adapter_is_lycoris(const Adapter *a) {
    return a && (a->ops == &LYCO_LOKR_OPS || a->ops == &LYCO_LOHA_OPS || a->ops == &LYCO_LORA_OPS);
}

LycorisAlgo lycoris_adapter_algo(const Adapter *a) { return ((const LycoCommon *)a->impl)->algo; }

const char *lycoris_algo_name(LycorisAlgo algo) { return algo == LYCO_LOKR ? "lokr" : algo == LYCO_LOHA ? "loha" : "lora"; }

void lycoris_adapter_set_multiplier(Adapter *a, float multiplier) {
    ((LycoCommon *)a->impl)->multiplier = multiplier;
    lyco_update_scale(a);
}

void lycoris_adapter_export(const Adapter *a, LycorisTensors *t) {
    memset(t, 0, sizeof *t);
    const LycoCommon *k = a->impl;
    switch (k->algo) {
    case LYCO_LOKR: lyco_lokr_export(a, t); break;
    case LYCO_LOHA: lyco_loha_export(a, t); break;
    default: lyco_lora_export(a, t); break;
    }
    t->has_alpha = k->has_alpha;
    t->alpha = k->alpha_saved;
}

Adapter *lycoris_adapter_import(const char *module, int in, int out, const LycorisTensors *t, float strength,
                                const char *where, Err *e) {
    if (lyco_find(t, "lokr_w1", NULL, NULL) || lyco_find(t, "lokr_w1_a", NULL, NULL)) return lyco_lokr_import(module, in, out, t, strength, where, e);
    if (lyco_find(t, "hada_w1_a", NULL, NULL)) return lyco_loha_import(module, in, out, t, strength, where, e);
    if (lyco_find(t, "lora_up.weight", NULL, NULL) || lyco_find(t, "lora_down.weight", NULL, NULL))
        return lyco_lora_import(module, in, out, t, strength, where, e);
    err_set(e, "%s: module '%s' has no LyCORIS weights it can use (expected lokr_w1 / lokr_w1_a, hada_w1_a or lora_up/lora_down)",
            where, module);
    return NULL;
}

int lycoris_adapter_init_lokr_norm(Adapter *a, const float *W, float scale, uint64_t seed, const char *module, Err *e) {
    if (!adapter_is_lycoris(a) || lycoris_adapter_algo(a) != LYCO_LOKR)
        return err_setc(e, EXIT_USAGE, "init_lokr_norm initialises LoKr adapters; '%s' is a %s adapter (set algo to lokr)", module,
                        adapter_is_lycoris(a) ? lycoris_algo_name(lycoris_adapter_algo(a)) : a->ops->kind);
    return lyco_lokr_init_norm(a, W, scale, seed, module, e);
}
