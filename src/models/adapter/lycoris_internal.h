/* lycoris_internal.h — what the LyCORIS kinds (lokr.c, loha.c, locon.c) share: the common part of
 * their state, the training-only random decisions, parameter naming and init helpers. */
#ifndef ST_MODELS_LYCORIS_INTERNAL_H
#define ST_MODELS_LYCORIS_INTERNAL_H
#include "models/adapter/lycoris.h"
#include "base/rng.h"
#include <stdint.h>

/* The first member of every LyCORIS kind's impl. */
typedef struct LycoCommon {
    LycorisAlgo algo;
    int r;                      /* rank (0: none, a LoKr with both factors full read from a file) */
    float file_scale;           /* alpha / r as the saved file states it (the scale without multiplier) */
    float multiplier;           /* scale = multiplier · file_scale (a->scale) */
    float alpha_saved;          /* the file's .alpha */
    int has_alpha;              /* a file without .alpha is saved without one */
    int use_scalar;
    float s, gs;                /* the scalar s and its gradient (s = 1, untrained, without use_scalar) */
    int bypass, rank_dropout_scale;
    float dropout, rank_dropout, module_dropout;
    size_t chunk_floats;        /* rows are processed in chunks of about this many floats a buffer */
    float *buf[2 * LYCO_MAX_TENSORS];   /* the params' values and grads (freed by lyco_free_common) */
    int nbuf;
} LycoCommon;

/* Each kind (lokr.c, loha.c, locon.c): its ops, a new adapter with LyCORIS' init, one from a file's
 * tensors (scale = file_scale · strength; shapes checked), the tensors a file stores. */
extern const AdapterOps LYCO_LOKR_OPS, LYCO_LOHA_OPS, LYCO_LORA_OPS;
Adapter *lyco_lokr_new(const char *module, int in, int out, const LycorisModuleSpec *s, uint64_t seed);
Adapter *lyco_loha_new(const char *module, int in, int out, const LycorisModuleSpec *s, uint64_t seed);
Adapter *lyco_lora_new(const char *module, int in, int out, const LycorisModuleSpec *s, uint64_t seed);
Adapter *lyco_lokr_import(const char *module, int in, int out, const LycorisTensors *t, float strength, const char *where, Err *e);
Adapter *lyco_loha_import(const char *module, int in, int out, const LycorisTensors *t, float strength, const char *where, Err *e);
Adapter *lyco_lora_import(const char *module, int in, int out, const LycorisTensors *t, float strength, const char *where, Err *e);
void lyco_lokr_export(const Adapter *a, LycorisTensors *t);
void lyco_loha_export(const Adapter *a, LycorisTensors *t);
void lyco_lora_export(const Adapter *a, LycorisTensors *t);
int lyco_lokr_init_norm(Adapter *a, const float *W, float scale, uint64_t seed, const char *module, Err *e);

/* The tensor of t with this suffix (NULL when absent); its index in *i. */
const float *lyco_find(const LycorisTensors *t, const char *suffix, int *rows, int *cols);
/* Appends a copy of a [rows, cols] tensor (× mul) to t. */
void lyco_put(LycorisTensors *t, const char *suffix, int rows, int cols, const float *data, float mul);

/* ---- randomness of a training call (counter-based: any order, any thread, same draw) ---- */

/* uniform [0, 1) number i of stream `seed` */
static inline float lyco_uniform(uint64_t seed, uint64_t i) {
    uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)(z >> 40) * (1.0f / 16777216.0f);
}

/* module_dropout: 1 when this training call skips the branch (torch.rand(1) < p). */
int lyco_module_dropped(const LycoCommon *k, const AdapterCall *c);
/* rank_dropout mask over `len` entries (keep when rand > p, ×1/mean with rank_dropout_scale) into
 * mask; 0 (mask untouched) when this call has none. */
int lyco_rank_mask(const LycoCommon *k, const AdapterCall *c, int len, float *mask);
/* nn.Dropout(p) on the branch's output (bypass mode): the factor of element (row, col) of a call's
 * rows — 0 or 1/(1-p); 1 when the call has none. */
int lyco_out_dropout_on(const LycoCommon *k, const AdapterCall *c);
static inline float lyco_out_keep(const LycoCommon *k, const AdapterCall *c, int row, int col, int ncols) {
    return lyco_uniform(c->row_seed, (uint64_t)row * (uint64_t)ncols + (uint64_t)col) >= k->dropout ? 1.0f / (1.0f - k->dropout) : 0.0f;
}

/* ---- construction ---- */

/* An adapter with its TrainParam list: n tensors named "<module>.<suffix[i]>" of shapes
 * rows[i] × cols[i] (values and grads zeroed), plus "<module>.scalar" when use_scalar. values[i] /
 * grads[i] receive the buffers. */
Adapter *lyco_make(const AdapterOps *ops, const char *module, int in, int out, void *impl, LycoCommon *k, int n,
                   const char *const *suffix, const int *rows, const int *cols, float **values, float **grads);
/* LYCO_CHUNK_FLOATS unless a test asked for smaller chunks (lycoris_adapter_set_chunk). */
#define LYCO_CHUNK_FLOATS ((size_t)1 << 22)
size_t lyco_chunk_rows(const LycoCommon *k, size_t floats_per_row, int n);
void lyco_common_init(LycoCommon *k, const LycorisModuleSpec *s, int r, float file_scale, float alpha_saved);
/* kaiming_uniform(a=√5) of a [rows, cols] tensor: U(±1/√cols) */
void lyco_kaiming(Rng *r, float *w, int rows, int cols);
/* The stream of module `module` for init. */
void lyco_init_rng(Rng *r, uint64_t seed, const char *module);
/* a->scale from the common part. */
void lyco_update_scale(Adapter *a);
/* Frees the params' buffers and the impl (free_impl of every kind). */
void lyco_free_impl(Adapter *a);

/* C[m, n] (+)= alpha · op(A)·op(B) on row-major matrices (cblas_sgemm with explicit leading dims). */
void lyco_gemm(int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda, const float *B, int ldb,
               float beta, float *C, int ldc);

#endif
