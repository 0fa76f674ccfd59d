/* locon.c — LyCORIS' LoRA/LoCon kind for Linear layers: ΔW = c · up·down, down [r, in]
 * (lora_down.weight), up [out, r] (lora_up.weight). It differs from the PEFT LoRA kind (lora.c) in
 * what LyCORIS adds: the trainable scalar, module dropout, rank dropout — over the rank components
 * in bypass mode, over the output rows of ΔW otherwise — and dropout of the output in bypass mode,
 * and in its file keys. Forward keeps h = x·downᵀ [n, r] per row:
 *   y += c · omask ⊙ ((h ⊙ rmask)·upᵀ)
 *   dup += c·dZᵀ·hm,  dh = c·(dZ·up) ⊙ rmask,  ddown += dhᵀ·x,  dx += dh·down,  ds = scale·⟨dZ·up, hm⟩
 * with dZ = dy ⊙ omask, hm = h ⊙ rmask. */
#include "models/adapter/lycoris_internal.h"
#include "base/error.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct Locon {
    LycoCommon k;
    float *down, *up, *gdown, *gup;
} Locon;

static size_t acts_per_row(const Adapter *a) { return (size_t)((const Locon *)a->impl)->k.r; }

/* The masked output Z / dZ [rows, out] is formed a chunk of rows at a time (LYCO_CHUNK_FLOATS). */
static int chunk_rows(const Locon *m, int out, int n) { return (int)lyco_chunk_rows(&m->k, (size_t)out, n); }

static size_t scratch_floats(const Adapter *a, int n, int backward) {
    const Locon *m = a->impl;
    size_t r = (size_t)m->k.r;
    /* masks (rank + output rows), hm [n, r], Z or dZ [chunk, out], dh [n, r] */
    return r + (size_t)a->out + (size_t)n * r + (size_t)chunk_rows(m, a->out, n) * a->out + (backward ? (size_t)n * r : 0);
}

typedef struct Masks { float *rank, *rows; int has_rank, has_rows, od; } Masks;

static Masks masks(const Locon *m, const Adapter *a, const AdapterCall *c, float **sc) {
    Masks k = {0};
    k.rank = *sc; *sc += m->k.r;
    k.rows = *sc; *sc += a->out;
    if (m->k.bypass) k.has_rank = lyco_rank_mask(&m->k, c, m->k.r, k.rank);
    else k.has_rows = lyco_rank_mask(&m->k, c, a->out, k.rows);
    k.od = lyco_out_dropout_on(&m->k, c);
    return k;
}

/* hm = h ⊙ rank mask (or h itself) */
static const float *masked_h(const Locon *m, const Masks *k, const float *h, int n, float **sc) {
    if (!k->has_rank) return h;
    const int r = m->k.r;
    float *hm = *sc; *sc += (size_t)n * r;
    for (int i = 0; i < n; i++) for (int j = 0; j < r; j++) hm[(size_t)i * r + j] = h[(size_t)i * r + j] * k->rank[j];
    return hm;
}

static float out_factor(const Locon *m, const Masks *k, const AdapterCall *c, int row, int o, int out) {
    float f = k->has_rows ? k->rows[o] : 1.0f;
    return k->od ? f * lyco_out_keep(&m->k, c, row, o, out) : f;
}

static void forward(const Adapter *a, const float *x, int ldx, int n, float *y, int ldy, float *h, const AdapterCall *c) {
    const Locon *m = a->impl;
    const int r = m->k.r, out = a->out;
    lyco_gemm(0, 1, n, r, a->in, 1.0f, x, ldx, m->down, a->in, 0.0f, h, r);
    const float cs = a->scale * m->k.s;
    if (cs == 0.0f || lyco_module_dropped(&m->k, c)) return;
    float *sc = c->scratch;
    Masks k = masks(m, a, c, &sc);
    const float *hm = masked_h(m, &k, h, n, &sc);
    if (!k.has_rows && !k.od) { lyco_gemm(0, 1, n, out, r, cs, hm, r, m->up, r, 1.0f, y, ldy); return; }
    float *Z = sc;
    const int nc = chunk_rows(m, out, n);
    for (int r0 = 0; r0 < n; r0 += nc) {
        const int nb = n - r0 < nc ? n - r0 : nc;
        lyco_gemm(0, 1, nb, out, r, cs, hm + (size_t)r0 * r, r, m->up, r, 0.0f, Z, out);
        for (int i = 0; i < nb; i++)
            for (int o = 0; o < out; o++) y[(size_t)(r0 + i) * ldy + o] += Z[(size_t)i * out + o] * out_factor(m, &k, c, r0 + i, o, out);
    }
}

static void backward(Adapter *a, const float *dy, int lddy, const float *x, int ldx, int n, const float *h,
                     float *dx, int lddx, const AdapterCall *c) {
    Locon *m = a->impl;
    if (lyco_module_dropped(&m->k, c)) return;
    const int r = m->k.r, out = a->out, in = a->in;
    const float cs = a->scale * m->k.s;
    float *sc = c->scratch;
    Masks k = masks(m, a, c, &sc);
    const float *hm = masked_h(m, &k, h, n, &sc);
    const int nc = chunk_rows(m, out, n);
    float *Z = sc, *dh = sc + (size_t)nc * out;
    /* dh = dZ·up (unscaled), dup += c·dZᵀ·hm; dZ = dy ⊙ masks, formed by chunks of rows when masked */
    for (int r0 = 0; r0 < n; r0 += nc) {
        const int nb = n - r0 < nc ? n - r0 : nc;
        const float *dZ = dy + (size_t)r0 * lddy;
        int ldz = lddy;
        if (k.has_rows || k.od) {
            for (int i = 0; i < nb; i++)
                for (int o = 0; o < out; o++) Z[(size_t)i * out + o] = dy[(size_t)(r0 + i) * lddy + o] * out_factor(m, &k, c, r0 + i, o, out);
            dZ = Z; ldz = out;
        }
        lyco_gemm(0, 0, nb, r, out, 1.0f, dZ, ldz, m->up, r, 0.0f, dh + (size_t)r0 * r, r);
        if (cs != 0.0f) lyco_gemm(1, 0, out, r, nb, cs, dZ, ldz, hm + (size_t)r0 * r, r, 1.0f, m->gup, r);
    }
    if (m->k.use_scalar) {
        double d = 0;
        for (size_t i = 0; i < (size_t)n * r; i++) d += (double)dh[i] * hm[i];
        m->k.gs += (float)(a->scale * d);
    }
    if (cs == 0.0f) return;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < r; j++) dh[(size_t)i * r + j] *= cs * (k.has_rank ? k.rank[j] : 1.0f);
    lyco_gemm(1, 0, r, in, n, 1.0f, dh, r, x, ldx, 1.0f, m->gdown, in);
    if (dx) lyco_gemm(0, 0, n, in, r, 1.0f, dh, r, m->down, in, 1.0f, dx, lddx);
}

static void delta(const Adapter *a, float *dW) {
    const Locon *m = a->impl;
    lyco_gemm(0, 0, a->out, a->in, m->k.r, a->scale * m->k.s, m->up, m->k.r, m->down, a->in, 0.0f, dW, a->in);
}

const AdapterOps LYCO_LORA_OPS = {"locon", acts_per_row, scratch_floats, forward, backward, delta, lyco_free_impl};

/* ---- construction ---- */

static Adapter *make(const char *module, int in, int out, int r, LycoCommon *k0) {
    Locon *m = xcalloc(1, sizeof *m);
    m->k = *k0;
    m->k.r = r;
    static const char *const SUF[2] = {"lora_down.weight", "lora_up.weight"};
    int rows[2] = {r, out}, cols[2] = {in, r};
    float *v[2], *g[2];
    Adapter *a = lyco_make(&LYCO_LORA_OPS, module, in, out, m, &m->k, 2, SUF, rows, cols, v, g);
    m->down = v[0]; m->up = v[1]; m->gdown = g[0]; m->gup = g[1];
    return a;
}

Adapter *lyco_lora_new(const char *module, int in, int out, const LycorisModuleSpec *s, uint64_t seed) {
    const int r = s->dim;
    double alpha = s->alpha == 0 ? r : s->alpha, rf = s->rs_lora ? sqrt((double)r) : r;
    LycoCommon k = {0};
    lyco_common_init(&k, s, r, (float)(alpha / rf), (float)(alpha * (r / rf)));
    Adapter *a = make(module, in, out, r, &k);
    Locon *m = a->impl;
    /* LyCORIS' init (Microsoft's): down kaiming, up = 0, or kaiming with use_scalar (s = 0) */
    Rng rng;
    lyco_init_rng(&rng, seed, module);
    lyco_kaiming(&rng, m->down, r, in);
    if (s->use_scalar) lyco_kaiming(&rng, m->up, out, r);
    return a;
}

Adapter *lyco_lora_import(const char *module, int in, int out, const LycorisTensors *t, float strength, const char *where, Err *e) {
    int rd, cd, ru, cu;
    const float *down = lyco_find(t, "lora_down.weight", &rd, &cd), *up = lyco_find(t, "lora_up.weight", &ru, &cu);
    if (!down || !up) {
        err_set(e, "%s: LoRA module '%s' has only one of lora_down.weight and lora_up.weight", where, module);
        return NULL;
    }
    if (cd != in || ru != out || rd != cu) {
        err_set(e, "%s: LoRA module '%s': lora_down %dx%d and lora_up %dx%d do not make the layer's %dx%d (a LoRA for another model?)",
                where, module, rd, cd, ru, cu, out, in);
        return NULL;
    }
    LycoCommon k = {0};
    k.algo = LYCO_LORA;
    k.file_scale = t->has_alpha ? t->alpha / rd : 1.0f;
    k.multiplier = strength;
    k.has_alpha = t->has_alpha;
    k.alpha_saved = t->alpha;
    k.s = 1.0f;
    Adapter *a = make(module, in, out, rd, &k);
    Locon *m = a->impl;
    memcpy(m->down, down, (size_t)rd * in * sizeof(float));
    memcpy(m->up, up, (size_t)out * rd * sizeof(float));
    return a;
}

void lyco_lora_export(const Adapter *a, LycorisTensors *t) {
    const Locon *m = a->impl;
    lyco_put(t, "lora_down.weight", m->k.r, a->in, m->down, 1.0f);
    lyco_put(t, "lora_up.weight", a->out, m->k.r, m->up, m->k.s);
}
