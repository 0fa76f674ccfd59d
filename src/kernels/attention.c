#include "kernels/attention.h"
#include "base/error.h"
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* exp(x) for x <= 0 (scores minus their running maximum) in straight-line arithmetic the compiler
 * vectorises: 2^n · e^r with n = round(x·log2 e), r = x − n·ln 2 (two-part constant), e^r by its
 * degree-7 Taylor polynomial on |r| <= ln2/2 (truncation 5e-9; about one float ulp in all, as libm's
 * expf), 2^n from the exponent bits; x < −87 (and −inf) give exactly 0. The scalar expf call was a
 * third of the time of long sequences with narrow heads.
 * Defined for every input (NaN scores reach here): x is clamped to −87.5 first, so n >= −126 and
 * 2^n is a normal float; the rounding constant 1.5·2^23 leaves n + 127 in the low bits of a float
 * whose bits are shifted as an unsigned integer (a float-to-int conversion is undefined for NaN and
 * ±inf); NaN stays NaN. The selects are bit masks: a float ?: is not vectorised (under the default
 * -ftrapping-math gcc does not speculate the arithmetic of the other arm). Bit-identical to the
 * previous version on every x in [−100, 0]. */
static inline float exp_nonpos(float x) {
    uint32_t low = 0u - (uint32_t)(x < -87.5f), zero = 0u - (uint32_t)(x < -87.0f);
    float xc = bits_f32((f32_bits(x) & ~low) | (f32_bits(-87.5f) & low));
    float rn = xc * 1.44269504088896341f + 12582912.0f;        /* 1.5·2^23 + round(x·log2 e) */
    float n = rn - 12582912.0f;
    float r = xc - n * 0.693145751953125f - n * 1.42860682030941723e-6f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720 + r * (1.0f / 5040)))))));
    float res = p * bits_f32((f32_bits(rn) + 127u) << 23);   /* · 2^n, n in −126..0 */
    return bits_f32(f32_bits(res) & ~zero);                  /* 0 below −87 */
}

/* One row of an online-softmax tile: the new running max over the valid keys, then
 * sr = exp(sr − max) (0 for masked keys) and their sum. Returns the sum; *mx is updated
 * (−inf when no key is valid yet; NaN, and the sum NaN, when a valid score is NaN). */
__attribute__((target_clones("avx2", "default")))   /* 8 lanes where the CPU has them */
static float softmax_row(float *sr, int nk, const unsigned char *valid, float *mx) {
    float m = *mx;
    if (valid) { for (int j = 0; j < nk; j++) if (valid[j] && sr[j] > m) m = sr[j]; }
    else {
        /* eight independent maxima: one running max is a chain of dependent max instructions */
        float a[8] = {m, m, m, m, m, m, m, m};
        int j = 0;
        for (; j + 8 <= nk; j += 8)
            for (int k = 0; k < 8; k++) a[k] = sr[j + k] > a[k] ? sr[j + k] : a[k];
        for (; j < nk; j++) a[0] = sr[j] > a[0] ? sr[j] : a[0];
        for (int k = 0; k < 8; k++) m = a[k] > m ? a[k] : m;
    }
    *mx = m;
    if (m == -INFINITY) {
        /* no valid key so far, or only NaN scores (no comparison selects a NaN): the second must come
         * out NaN, not pass for a fully masked row whose output is 0 */
        int nan = 0;
        for (int j = 0; j < nk; j++) nan |= (!valid || valid[j]) && isnan(sr[j]);
        if (nan) { for (int j = 0; j < nk; j++) sr[j] = NAN; *mx = NAN; return NAN; }
        memset(sr, 0, (size_t)nk * sizeof(float));
        return 0;
    }
    #pragma omp simd
    for (int j = 0; j < nk; j++) sr[j] = exp_nonpos(sr[j] - m);
    if (valid) for (int j = 0; j < nk; j++) if (!valid[j]) sr[j] = 0.0f;
    float sum = 0;   /* in vector lanes: a sequential float sum was a quarter of the time */
    #pragma omp simd reduction(+ : sum)
    for (int j = 0; j < nk; j++) sum += sr[j];
    return sum;
}

void attention_forward(const float *q, const float *k, const float *v, int ld, int S, int H, int D,
                       const unsigned char *key_valid, float *out, int ldo, float *lse) {
    const float scale = 1.0f / sqrtf((float)D);
    const int n_qt = (S + ATTN_TQ - 1) / ATTN_TQ;
    /* small problems run on one thread: a parallel region costs more than it saves there */
    #pragma omp parallel if ((double)S * S * D * H > 4e6)
    {
        float *s = xmalloc((size_t)ATTN_TQ * ATTN_TK * sizeof(float));
        float *acc = xmalloc((size_t)ATTN_TQ * D * sizeof(float));
        float m[ATTN_TQ], l[ATTN_TQ];
        #pragma omp for schedule(dynamic, 1)
        for (int task = 0; task < H * n_qt; task++) {
            int h = task / n_qt, i0 = (task % n_qt) * ATTN_TQ;
            int nq = S - i0 < ATTN_TQ ? S - i0 : ATTN_TQ;
            const float *qh = q + (size_t)i0 * ld + (size_t)h * D;
            for (int i = 0; i < nq; i++) { m[i] = -INFINITY; l[i] = 0; }
            memset(acc, 0, (size_t)nq * D * sizeof(float));
            for (int j0 = 0; j0 < S; j0 += ATTN_TK) {
                int nk = S - j0 < ATTN_TK ? S - j0 : ATTN_TK;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, D, scale, qh, ld,
                            k + (size_t)j0 * ld + (size_t)h * D, ld, 0.0f, s, nk);
                for (int i = 0; i < nq; i++) {
                    float mx = m[i];
                    float sum = softmax_row(s + (size_t)i * nk, nk, key_valid ? key_valid + j0 : NULL, &mx);
                    if (mx == -INFINITY) continue;
                    float corr = expf(m[i] - mx);
                    l[i] = l[i] * corr + sum;
                    m[i] = mx;
                    if (corr != 1.0f) for (int d = 0; d < D; d++) acc[(size_t)i * D + d] *= corr;
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, D, nk, 1.0f, s, nk,
                            v + (size_t)j0 * ld + (size_t)h * D, ld, 1.0f, acc, D);
            }
            for (int i = 0; i < nq; i++) {
                float inv = l[i] > 0 ? 1.0f / l[i] : 0.0f;
                float *o = out + (size_t)(i0 + i) * ldo + (size_t)h * D;
                for (int d = 0; d < D; d++) o[d] = acc[(size_t)i * D + d] * inv;
                lse[(size_t)h * S + i0 + i] = l[i] > 0 ? m[i] + logf(l[i]) : INFINITY;
            }
        }
        free(s); free(acc);
    }
}

void attention_backward(const float *dout, int ldo, const float *q, const float *k, const float *v, int ld,
                        const float *out, const float *lse, int S, int H, int D, const unsigned char *key_valid,
                        float *dq, float *dk, float *dv, int ldd) {
    const float scale = 1.0f / sqrtf((float)D);
    #pragma omp parallel if ((double)S * S * D * H > 2e6)
    {
        float *p = xmalloc((size_t)ATTN_TQ * ATTN_TK * sizeof(float));
        float *dp = xmalloc((size_t)ATTN_TQ * ATTN_TK * sizeof(float));
        float *delta = xmalloc((size_t)S * sizeof(float));
        #pragma omp for schedule(dynamic, 1)
        for (int h = 0; h < H; h++) {
            const size_t hc = (size_t)h * D;
            for (int i = 0; i < S; i++) {
                const float *o = out + (size_t)i * ldo + hc, *g = dout + (size_t)i * ldo + hc;
                float s = 0;
                for (int d = 0; d < D; d++) s += o[d] * g[d];
                delta[i] = s;
                memset(dq + (size_t)i * ldd + hc, 0, (size_t)D * sizeof(float));
                memset(dk + (size_t)i * ldd + hc, 0, (size_t)D * sizeof(float));
                memset(dv + (size_t)i * ldd + hc, 0, (size_t)D * sizeof(float));
            }
            for (int j0 = 0; j0 < S; j0 += ATTN_TK) {
                int nk = S - j0 < ATTN_TK ? S - j0 : ATTN_TK;
                const float *kj = k + (size_t)j0 * ld + hc, *vj = v + (size_t)j0 * ld + hc;
                for (int i0 = 0; i0 < S; i0 += ATTN_TQ) {
                    int nq = S - i0 < ATTN_TQ ? S - i0 : ATTN_TQ;
                    const float *qi = q + (size_t)i0 * ld + hc, *gi = dout + (size_t)i0 * ldo + hc;
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, D, scale, qi, ld, kj, ld, 0.0f, p, nk);
                    for (int i = 0; i < nq; i++) {
                        float L = lse[(size_t)h * S + i0 + i], *pr = p + (size_t)i * nk;
                        if (L == INFINITY) { memset(pr, 0, (size_t)nk * sizeof(float)); continue; }
                        #pragma omp simd
                        for (int j = 0; j < nk; j++) pr[j] = exp_nonpos(pr[j] - L);   /* s <= lse */
                        if (key_valid)
                            for (int j = 0; j < nk; j++) if (!key_valid[j0 + j]) pr[j] = 0.0f;
                    }
                    /* dV_j += Pᵀ dO_i */
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, D, nq, 1.0f, p, nk, gi, ldo, 1.0f,
                                dv + (size_t)j0 * ldd + hc, ldd);
                    /* dP = dO_i V_jᵀ;  dS = P ∘ (dP − delta_i) */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, D, 1.0f, gi, ldo, vj, ld, 0.0f, dp, nk);
                    for (int i = 0; i < nq; i++)
                        for (int j = 0; j < nk; j++) {
                            size_t t = (size_t)i * nk + j;
                            dp[t] = p[t] * (dp[t] - delta[i0 + i]);
                        }
                    /* dQ_i += scale·dS K_j;  dK_j += scale·dSᵀ Q_i */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, D, nk, scale, dp, nk, kj, ld, 1.0f,
                                dq + (size_t)i0 * ldd + hc, ldd);
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, D, nq, scale, dp, nk, qi, ld, 1.0f,
                                dk + (size_t)j0 * ldd + hc, ldd);
                }
            }
        }
        free(p); free(dp); free(delta);
    }
}
