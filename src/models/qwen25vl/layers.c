/* layers.c — the layer helpers of model.h: tiled-dequant linear, RMSNorm, embedding gather,
 * segmented / causal / key-masked attention and rotary embedding on row-major f32 buffers. */
#include "models/qwen25vl/model.h"
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Weight rows converted per tile: 32 MiB of f32. Large tiles matter: every sgemm call re-packs the
 * activations, so small tiles spend as much time packing x as multiplying (measured 13 GFLOP/s with
 * 4 MiB tiles against 35-47 with 16-32 MiB on 284 rows). */
#define QV_TILE_FLOATS (1u << 23)

void qv_linear(const QwenVL *m, QvLinear l, const float *x, int n, int ldx, float *y, int ldy) {
    const QvParam *W = &m->p[l.w];
    const Weight *q = m->qw && m->qw[l.w].quant != QUANT_NONE ? &m->qw[l.w] : NULL;
    int in = l.in, out = l.out;
    if (n <= 0) return;
    if (!q && W->dtype == DT_F32 && ((uintptr_t)W->data % sizeof(float)) == 0) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, ldx,
                    (const float *)W->data, in, 0.0f, y, ldy);
    } else {
        int rows = (int)(QV_TILE_FLOATS / (unsigned)in);
        if (rows < 16) rows = 16;
        if (rows > out) rows = out;
        float *tile = xmalloc((size_t)rows * in * sizeof(float));
        size_t es = dtype_size(W->dtype);
        for (int o0 = 0; o0 < out; o0 += rows) {
            int nr = out - o0 < rows ? out - o0 : rows;
            #pragma omp parallel for schedule(static)
            for (int r = 0; r < nr; r++) {
                if (q) weight_rows_f32(q, o0 + r, 1, tile + (size_t)r * in);   /* text_encoder_1_precision */
                else dtype_to_f32(W->dtype, (const char *)W->data + ((size_t)(o0 + r) * in) * es, tile + (size_t)r * in, (size_t)in);
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, nr, in, 1.0f, x, ldx, tile, in, 0.0f, y + o0, ldy);
        }
        free(tile);
    }
    if (l.b >= 0) {
        const QvParam *B = &m->p[l.b];
        float *b = xmalloc((size_t)out * sizeof(float));
        dtype_to_f32(B->dtype, B->data, b, (size_t)out);
        #pragma omp parallel for schedule(static)
        for (int i = 0; i < n; i++) {
            float *yr = y + (size_t)i * ldy;
            for (int o = 0; o < out; o++) yr[o] += b[o];
        }
        free(b);
    }
}

void qv_rmsnorm(const QwenVL *m, int w, const float *x, int n, int C, float eps, float *y) {
    const QvParam *W = &m->p[w];
    float *g = xmalloc((size_t)C * sizeof(float));
    dtype_to_f32(W->dtype, W->data, g, (size_t)C);
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++) {
        const float *xr = x + (size_t)i * C;
        float *yr = y + (size_t)i * C;
        double ss = 0;
        for (int c = 0; c < C; c++) ss += (double)xr[c] * xr[c];
        float r = 1.0f / sqrtf((float)(ss / C) + eps);
        for (int c = 0; c < C; c++) yr[c] = g[c] * (xr[c] * r);
    }
    free(g);
}

int qv_embed(const QwenVL *m, const int64_t *ids, int n, float *y, Err *e) {
    const QvParam *E = &m->p[m->embed];
    int64_t V = E->shape[0], C = E->shape[1];
    size_t es = dtype_size(E->dtype);
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= V) return err_set(e, "token id %lld at position %d is outside the vocabulary (0..%lld)", (long long)ids[i], i, (long long)V - 1);
        dtype_to_f32(E->dtype, (const char *)E->data + (size_t)ids[i] * C * es, y + (size_t)i * C, (size_t)C);
    }
    return 0;
}

void qv_rope_apply(float *x, int L, int H, int D, int ldx, const float *cos_t, const float *sin_t) {
    int half = D / 2;
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < L; i++) {
        const float *c = cos_t + (size_t)i * D, *s = sin_t + (size_t)i * D;
        for (int h = 0; h < H; h++) {
            float *v = x + (size_t)i * ldx + (size_t)h * D;
            for (int d = 0; d < half; d++) {
                float a = v[d], b = v[d + half];
                v[d] = a * c[d] - b * s[d];
                v[d + half] = b * c[d + half] + a * s[d + half];
            }
        }
    }
}

/* Query rows handled per sgemm: bounds the score buffer to QB x segment length. */
#define QV_ATTN_QB 64

void qv_attention(const QvAttn *a) {
    int one[2] = { 0, a->L };
    const int *cu = a->cu ? a->cu : one;
    int nseg = a->cu ? a->nseg : 1;
    int D = a->D, group = a->Hq / a->Hkv;
    float scale = 1.0f / sqrtf((float)D);
    /* work items: (segment, head, query block) */
    int nitems = 0;
    int *item_seg = NULL, *item_q0 = NULL;
    for (int s = 0; s < nseg; s++)
        for (int q0 = cu[s]; q0 < cu[s + 1]; q0 += QV_ATTN_QB) {
            item_seg = xrealloc(item_seg, (size_t)(nitems + 1) * sizeof(int));
            item_q0 = xrealloc(item_q0, (size_t)(nitems + 1) * sizeof(int));
            item_seg[nitems] = s; item_q0[nitems] = q0; nitems++;
        }
    int maxseg = 0;
    for (int s = 0; s < nseg; s++) if (cu[s + 1] - cu[s] > maxseg) maxseg = cu[s + 1] - cu[s];
    long total = (long)nitems * a->Hq;
    #pragma omp parallel
    {
        float *S = xmalloc((size_t)QV_ATTN_QB * (maxseg ? maxseg : 1) * sizeof(float));
        #pragma omp for schedule(dynamic, 1)
        for (long it = 0; it < total; it++) {
            int item = (int)(it / a->Hq), h = (int)(it % a->Hq), g = h / group;
            int s = item_seg[item], q0 = item_q0[item];
            int s0 = cu[s], s1 = cu[s + 1];
            int nq = s1 - q0 < QV_ATTN_QB ? s1 - q0 : QV_ATTN_QB;
            int kend = a->causal ? (q0 + nq < s1 ? q0 + nq : s1) : s1;
            int nk = kend - s0;
            const float *Q = a->q + (size_t)q0 * a->ldq + (size_t)h * D;
            const float *K = a->k + (size_t)s0 * a->ldk + (size_t)g * D;
            const float *V = a->v + (size_t)s0 * a->ldk + (size_t)g * D;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, D, scale, Q, a->ldq, K, a->ldk, 0.0f, S, nk);
            for (int r = 0; r < nq; r++) {
                int i = q0 + r;
                float *row = S + (size_t)r * nk;
                float mx = -INFINITY;
                int any = 0;
                for (int j = 0; j < nk; j++) {
                    int ok = (!a->causal || s0 + j <= i) && (!a->key_mask || a->key_mask[s0 + j]);
                    if (ok) { any = 1; if (row[j] > mx) mx = row[j]; }
                    else row[j] = -INFINITY;
                }
                if (!any) { for (int j = 0; j < nk; j++) row[j] = 0.0f; continue; }   /* fixed below */
                float sum = 0;
                for (int j = 0; j < nk; j++) { float p = row[j] == -INFINITY ? 0.0f : expf(row[j] - mx); row[j] = p; sum += p; }
                float inv = 1.0f / sum;
                for (int j = 0; j < nk; j++) row[j] *= inv;
            }
            float *O = a->o + (size_t)q0 * a->ldo + (size_t)h * D;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, D, nk, 1.0f, S, nk, V, a->ldk, 0.0f, O, a->ldo);
            if (a->key_mask)
                for (int r = 0; r < nq; r++) {
                    int i = q0 + r, any = 0;
                    for (int j = s0; j < s1 && !any; j++) any = (!a->causal || j <= i) && a->key_mask[j];
                    if (any) continue;
                    /* upstream adds the dtype minimum to every masked score, so a query with no
                     * allowed key gets uniform weights over the whole segment */
                    float *orow = O + (size_t)r * a->ldo;
                    for (int d = 0; d < D; d++) {
                        double acc = 0;
                        for (int j = s0; j < s1; j++) acc += a->v[(size_t)j * a->ldk + (size_t)g * D + d];
                        orow[d] = (float)(acc / (s1 - s0));
                    }
                }
        }
        free(S);
    }
    free(item_seg); free(item_q0);
}

void qv_silu_mul(float *g, const float *u, size_t n) {
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

void qv_add_into(float *x, const float *y, size_t n) {
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}
