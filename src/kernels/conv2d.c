/* conv2d.c — im2col + sgemm convolution, banded over output rows to bound memory. */
#include "kernels/conv2d.h"
#include "base/error.h"
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

int conv2d_out_h(const Conv2dShape *s) { return (s->h + s->pad_top + s->pad_bottom - s->k) / s->stride + 1; }
int conv2d_out_w(const Conv2dShape *s) { return (s->w + s->pad_left + s->pad_right - s->k) / s->stride + 1; }

/* col[(ci*k + ky)*k + kx][(oy - oy0)*ow + ox] for output rows [oy0, oy1), then one row of ones
 * (row K) so the bias rides in the GEMM as an extra weight column. */
static void im2col_band(const float *x, const Conv2dShape *s, int ow, int oy0, int oy1, float *col) {
    const int k = s->k, kk = k * k, ncol = (oy1 - oy0) * ow, K = s->cin * kk;
    #pragma omp parallel for schedule(static)
    for (int r = 0; r <= K; r++) {
        float *dst = col + (size_t)r * ncol;
        if (r == K) { for (int i = 0; i < ncol; i++) dst[i] = 1.0f; continue; }
        int ci = r / kk, ky = (r % kk) / k, kx = r % k;
        const float *xc = x + (size_t)ci * s->h * s->w;
        /* output columns whose input column kx + ox*stride - pad_left lies inside the image */
        int first = s->pad_left - kx, lo = first > 0 ? (first + s->stride - 1) / s->stride : 0;
        int hi = (s->w - 1 + s->pad_left - kx) / s->stride + 1;
        if (s->w - 1 + s->pad_left - kx < 0) hi = 0;
        if (hi > ow) hi = ow;
        if (lo > hi) lo = hi;
        for (int oy = oy0; oy < oy1; oy++) {
            int iy = oy * s->stride + ky - s->pad_top;
            float *d = dst + (size_t)(oy - oy0) * ow;
            if (iy < 0 || iy >= s->h) { memset(d, 0, (size_t)ow * sizeof(float)); continue; }
            const float *xr = xc + (size_t)iy * s->w + kx - s->pad_left;
            for (int ox = 0; ox < lo; ox++) d[ox] = 0.0f;
            if (s->stride == 1) memcpy(d + lo, xr + lo, (size_t)(hi - lo) * sizeof(float));
            else for (int ox = lo; ox < hi; ox++) d[ox] = xr[ox * s->stride];
            for (int ox = hi; ox < ow; ox++) d[ox] = 0.0f;
        }
    }
}

static int is_pointwise(const Conv2dShape *s) {
    return s->k == 1 && s->stride == 1 && !s->pad_top && !s->pad_left && !s->pad_bottom && !s->pad_right;
}

size_t conv2d_col_floats_min(const Conv2dShape *s) {
    return is_pointwise(s) ? 0 : ((size_t)s->cin * s->k * s->k + 1) * conv2d_out_w(s);
}

size_t conv2d_col_floats(const Conv2dShape *s) {
    size_t row = conv2d_col_floats_min(s), all = row * conv2d_out_h(s);
    if (!row) return 0;
    if (all <= CONV2D_COL_FLOATS) return all;
    return row > CONV2D_COL_FLOATS ? row : CONV2D_COL_FLOATS / row * row;
}

void conv2d_forward(const float *x, const float *w, const float *b, const Conv2dShape *s, float *y) {
    size_t n = conv2d_col_floats(s);
    float *col = n ? xmalloc(n * sizeof(float)) : NULL;
    conv2d_forward_banded(x, w, b, s, col, n, y);
    free(col);
}

void conv2d_forward_banded(const float *x, const float *w, const float *b, const Conv2dShape *s,
                           float *col, size_t col_floats, float *y) {
    const int oh = conv2d_out_h(s), ow = conv2d_out_w(s), K = s->cin * s->k * s->k;
    const size_t ohw = (size_t)oh * ow;
    if (is_pointwise(s)) {   /* no im2col: start from the bias and accumulate */
        #pragma omp parallel for schedule(static)
        for (int co = 0; co < s->cout; co++) {
            float bv = b ? b[co] : 0.0f;
            float *yc = y + (size_t)co * ohw;
            for (size_t i = 0; i < ohw; i++) yc[i] = bv;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->cout, (int)ohw, s->cin,
                    1.0f, w, s->cin, x, (int)ohw, 1.0f, y, (int)ohw);
        return;
    }
    /* [cout, K + 1]: the weights with the bias as the last column (it meets im2col's row of ones) */
    float *wb = xmalloc((size_t)s->cout * (K + 1) * sizeof(float));
    for (int co = 0; co < s->cout; co++) {
        memcpy(wb + (size_t)co * (K + 1), w + (size_t)co * K, (size_t)K * sizeof(float));
        wb[(size_t)co * (K + 1) + K] = b ? b[co] : 0.0f;
    }
    size_t per_row = (size_t)(K + 1) * ow, rows_fit = col_floats / per_row;
    int band = rows_fit > (size_t)oh ? oh : (int)rows_fit;
    if (band < 1) band = 1;   /* callers provide at least conv2d_col_floats_min */
    for (int oy0 = 0; oy0 < oh; oy0 += band) {
        int oy1 = oy0 + band < oh ? oy0 + band : oh, n = (oy1 - oy0) * ow;
        im2col_band(x, s, ow, oy0, oy1, col);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->cout, n, K + 1,
                    1.0f, wb, K + 1, col, n, 0.0f, y + (size_t)oy0 * ow, (int)ohw);
    }
    free(wb);
}

/* dx[ci, iy, ix] += dcol[(ci*k + ky)*k + kx][(oy - oy0)*ow + ox] for every tap that read it:
 * the transpose of im2col_band. Parallel over input channels (each owns its dx plane). */
static void col2im_band(const float *col, const Conv2dShape *s, int ow, int oy0, int oy1, float *dx) {
    const int k = s->k, kk = k * k, ncol = (oy1 - oy0) * ow;
    #pragma omp parallel for schedule(static)
    for (int ci = 0; ci < s->cin; ci++) {
        float *xc = dx + (size_t)ci * s->h * s->w;
        for (int t = 0; t < kk; t++) {
            int ky = t / k, kx = t % k;
            const float *src = col + (size_t)(ci * kk + t) * ncol;
            int first = s->pad_left - kx, lo = first > 0 ? (first + s->stride - 1) / s->stride : 0;
            int hi = (s->w - 1 + s->pad_left - kx) / s->stride + 1;
            if (s->w - 1 + s->pad_left - kx < 0) hi = 0;
            if (hi > ow) hi = ow;
            for (int oy = oy0; oy < oy1; oy++) {
                int iy = oy * s->stride + ky - s->pad_top;
                if (iy < 0 || iy >= s->h) continue;
                float *xr = xc + (size_t)iy * s->w + kx - s->pad_left;
                const float *d = src + (size_t)(oy - oy0) * ow;
                for (int ox = lo; ox < hi; ox++) xr[ox * s->stride] += d[ox];
            }
        }
    }
}

void conv2d_backward(const float *x, const float *w, const float *dy, const Conv2dShape *s,
                     float *dx, float *dw, float *db) {
    size_t n = conv2d_col_floats(s);
    float *col = n ? xmalloc(n * sizeof(float)) : NULL;
    conv2d_backward_banded(x, w, dy, s, col, n, dx, dw, db);
    free(col);
}

void conv2d_backward_banded(const float *x, const float *w, const float *dy, const Conv2dShape *s,
                            float *col, size_t col_floats, float *dx, float *dw, float *db) {
    const int oh = conv2d_out_h(s), ow = conv2d_out_w(s), K = s->cin * s->k * s->k;
    const size_t ohw = (size_t)oh * ow;
    if (db) {
        #pragma omp parallel for schedule(static)
        for (int co = 0; co < s->cout; co++) {
            const float *d = dy + (size_t)co * ohw;
            double acc = 0.0;
            for (size_t i = 0; i < ohw; i++) acc += d[i];
            db[co] += (float)acc;
        }
    }
    if (is_pointwise(s)) {   /* col is x itself */
        if (dw) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->cout, s->cin, (int)ohw,
                            1.0f, dy, (int)ohw, x, (int)ohw, 1.0f, dw, s->cin);
        if (dx) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, s->cin, (int)ohw, s->cout,
                            1.0f, w, s->cin, dy, (int)ohw, 0.0f, dx, (int)ohw);
        return;
    }
    if (dx) memset(dx, 0, (size_t)s->cin * s->h * s->w * sizeof(float));
    size_t per_row = (size_t)(K + 1) * ow, rows_fit = col_floats / per_row;
    int band = rows_fit > (size_t)oh ? oh : (int)rows_fit;
    if (band < 1) band = 1;
    for (int oy0 = 0; oy0 < oh; oy0 += band) {
        int oy1 = oy0 + band < oh ? oy0 + band : oh, n = (oy1 - oy0) * ow;
        const float *dyb = dy + (size_t)oy0 * ow;
        if (dw) {
            im2col_band(x, s, ow, oy0, oy1, col);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->cout, K, n,
                        1.0f, dyb, (int)ohw, col, n, 1.0f, dw, K);
        }
        if (dx) {   /* the band's column gradients reuse the im2col buffer */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, n, s->cout,
                        1.0f, w, K, dyb, (int)ohw, 0.0f, col, n);
            col2im_band(col, s, ow, oy0, oy1, dx);
        }
    }
}
