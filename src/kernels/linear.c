#include "kernels/linear.h"
#include "base/rng.h"
#include "base/error.h"
#include "tensor/quant.h"
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

/* An f32 weight BLAS may read in place: unquantised and float-aligned (else it goes by tiles). */
static int f32_in_place(const Weight *w) {
    return w->dtype == DT_F32 && w->quant == QUANT_NONE && (uintptr_t)w->data % sizeof(float) == 0;
}

/* Rows of W per dequantised tile (linear.h). */
static int tile_rows(const Weight *w) {
    long r = LINEAR_TILE_VALUES / (w->cols > 0 ? w->cols : 1);
    if (r < LINEAR_TILE_MIN_ROWS) r = LINEAR_TILE_MIN_ROWS;
    return r > w->rows ? w->rows : (int)r;
}

static void add_bias(float *y, int ldy, int n, int out, const float *bias) {
    if (!bias) return;
    #pragma omp parallel for schedule(static) if ((size_t)n * out > 65536)
    for (int i = 0; i < n; i++) {
        float *row = y + (size_t)i * ldy;
        for (int o = 0; o < out; o++) row[o] += bias[o];
    }
}

void linear_forward(const float *x, int ldx, int n, const Weight *w, const float *bias, float *y, int ldy, float beta) {
    if (n <= 0) return;
    if (f32_in_place(w)) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, w->rows, w->cols, 1.0f, x, ldx,
                    (const float *)w->data, w->cols, beta, y, ldy);
    } else {
        int tile = tile_rows(w);
        float *t = xmalloc((size_t)tile * w->cols * sizeof(float));
        for (int r0 = 0; r0 < w->rows; r0 += tile) {
            int nr = w->rows - r0 < tile ? w->rows - r0 : tile;
            weight_rows_f32(w, r0, nr, t);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, nr, w->cols, 1.0f, x, ldx, t, w->cols,
                        beta, y + r0, ldy);
        }
        free(t);
    }
    add_bias(y, ldy, n, w->rows, bias);
}

void linear_backward_input(const float *dy, int lddy, int n, const Weight *w, float *dx, int lddx, float beta) {
    if (n <= 0) return;
    if (f32_in_place(w)) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, w->cols, w->rows, 1.0f, dy, lddy,
                    (const float *)w->data, w->cols, beta, dx, lddx);
        return;
    }
    int tile = tile_rows(w);
    float *t = xmalloc((size_t)tile * w->cols * sizeof(float));
    for (int r0 = 0; r0 < w->rows; r0 += tile) {
        int nr = w->rows - r0 < tile ? w->rows - r0 : tile;
        weight_rows_f32(w, r0, nr, t);
        /* dx += dy[:, r0:r0+nr] · W[r0:r0+nr, :] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, w->cols, nr, 1.0f, dy + r0, lddy, t, w->cols,
                    r0 == 0 ? beta : 1.0f, dx, lddx);
    }
    free(t);
}

void linear_backward_weight(const float *dy, int lddy, const float *x, int ldx, int n, int out, int in,
                            float *dW, float *db) {
    if (n <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, n, 1.0f, dy, lddy, x, ldx, 1.0f, dW, in);
    if (db) {
        #pragma omp parallel for schedule(static) if ((size_t)n * out > 65536)
        for (int o = 0; o < out; o++) {
            float s = 0;
            for (int i = 0; i < n; i++) s += dy[(size_t)i * lddy + o];
            db[o] += s;
        }
    }
}

void lora_forward(const float *xd, int ldx, int n, int in, int out, int r, const float *A, const float *B,
                  float scale, float *h, float *y, int ldy) {
    if (n <= 0 || r <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, r, in, 1.0f, xd, ldx, A, in, 0.0f, h, r);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, r, scale, h, r, B, r, 1.0f, y, ldy);
}

void lora_backward(const float *dy, int lddy, const float *xd, int ldx, const float *h, int n, int in, int out,
                   int r, const float *A, const float *B, float scale, float *dA, float *dB, float *dh,
                   float *dx, int lddx) {
    if (n <= 0 || r <= 0) return;
    /* dB[out, r] += scale · dyᵀ · h */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, r, n, scale, dy, lddy, h, r, 1.0f, dB, r);
    /* dh[n, r] = scale · dy · B */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, r, out, scale, dy, lddy, B, r, 0.0f, dh, r);
    /* dA[r, in] += dhᵀ · xd */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r, in, n, 1.0f, dh, r, xd, ldx, 1.0f, dA, in);
    /* dx[n, in] += dh · A */
    if (dx) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, r, 1.0f, dh, r, A, in, 1.0f, dx, lddx);
}

void lora_dropout_apply(const float *x, int ldx, int n, int in, float p, uint64_t seed, float *out) {
    Rng r; rng_seed(&r, seed);
    const float keep = 1.0f / (1.0f - p);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < in; j++) out[(size_t)i * in + j] = rng_uniformf(&r) >= p ? x[(size_t)i * ldx + j] * keep : 0.0f;
}

void lora_dropout_grad(const float *g, int n, int in, float p, uint64_t seed, float *dx, int lddx) {
    Rng r; rng_seed(&r, seed);
    const float keep = 1.0f / (1.0f - p);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < in; j++)
            if (rng_uniformf(&r) >= p) dx[(size_t)i * lddx + j] += g[(size_t)i * in + j] * keep;
}
