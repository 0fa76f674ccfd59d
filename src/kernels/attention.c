#include "kernels/attention.h"
#include "base/error.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
                    float *sr = s + (size_t)i * nk, mx = m[i];
                    for (int j = 0; j < nk; j++) {
                        if (key_valid && !key_valid[j0 + j]) sr[j] = -INFINITY;
                        if (sr[j] > mx) mx = sr[j];
                    }
                    if (mx == -INFINITY) { for (int j = 0; j < nk; j++) sr[j] = 0; continue; }
                    float corr = expf(m[i] - mx), sum = 0;
                    for (int j = 0; j < nk; j++) { sr[j] = expf(sr[j] - mx); sum += sr[j]; }
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
                        float L = lse[(size_t)h * S + i0 + i];
                        for (int j = 0; j < nk; j++) {
                            float *pr = p + (size_t)i * nk + j;
                            *pr = (key_valid && !key_valid[j0 + j]) || L == INFINITY ? 0.0f : expf(*pr - L);
                        }
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
