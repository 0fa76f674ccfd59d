/* image_resize.c — PIL-exact resampling (see image_resize.h). */
#include "image/image_resize.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

#define PRECISION_BITS (32 - 8 - 2)   /* Pillow's fixed-point weights for 8-bit images */

static double filter_bilinear(double x) {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}
static double filter_bicubic(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}
static double sinc(double x) {
    if (x == 0.0) return 1.0;
    x *= M_PI;
    return sin(x) / x;
}
static double filter_lanczos(double x) {
    return (-3.0 <= x && x < 3.0) ? sinc(x) * sinc(x / 3) : 0.0;
}

/* Per output index: first input index, tap count, and ksize fixed-point weights. */
typedef struct Taps { int ksize; int *first, *count; int32_t *w; } Taps;

static void taps_free(Taps *t) { free(t->first); free(t->count); free(t->w); }

static void taps_compute(int in_size, int out_size, ResampleFilter f, Taps *t) {
    double (*fn)(double) = f == RESAMPLE_BILINEAR ? filter_bilinear : f == RESAMPLE_BICUBIC ? filter_bicubic : filter_lanczos;
    double support = f == RESAMPLE_BILINEAR ? 1.0 : f == RESAMPLE_BICUBIC ? 2.0 : 3.0;
    double scale = (double)in_size / out_size, filterscale = scale < 1.0 ? 1.0 : scale;
    support *= filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    t->ksize = ksize;
    t->first = xmalloc((size_t)out_size * sizeof *t->first);
    t->count = xmalloc((size_t)out_size * sizeof *t->count);
    t->w = xcalloc((size_t)out_size * ksize, sizeof *t->w);
    double *k = xmalloc((size_t)ksize * sizeof *k);
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale, ss = 1.0 / filterscale, ww = 0.0;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        if (xmin < 0) xmin = 0;
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) { k[x] = fn((x + xmin - center + 0.5) * ss); ww += k[x]; }
        for (int x = 0; x < xmax; x++) {
            double v = ww != 0.0 ? k[x] / ww : k[x];
            t->w[(size_t)xx * ksize + x] = v < 0 ? (int32_t)(-0.5 + v * (1 << PRECISION_BITS)) : (int32_t)(0.5 + v * (1 << PRECISION_BITS));
        }
        t->first[xx] = xmin;
        t->count[xx] = xmax;
    }
    free(k);
}

static inline uint8_t clip8(int32_t v) {
    if (v >= (1 << PRECISION_BITS << 8)) return 255;
    if (v <= 0) return 0;
    return (uint8_t)(v >> PRECISION_BITS);
}

/* rows [0, rows) of out (w_out wide) from rows [row0, row0 + rows) of in (w_in wide). */
static void pass_horizontal(const uint8_t *in, int w_in, int row0, int rows, int c, const Taps *t, int w_out, uint8_t *out) {
    #pragma omp parallel for schedule(static)
    for (int y = 0; y < rows; y++) {
        const uint8_t *src = in + ((size_t)(row0 + y) * w_in) * c;
        uint8_t *dst = out + (size_t)y * w_out * c;
        for (int x = 0; x < w_out; x++) {
            const int32_t *k = t->w + (size_t)x * t->ksize;
            const uint8_t *s = src + (size_t)t->first[x] * c;
            const int n = t->count[x];
            int32_t acc[4] = {1 << (PRECISION_BITS - 1), 1 << (PRECISION_BITS - 1), 1 << (PRECISION_BITS - 1), 1 << (PRECISION_BITS - 1)};
            if (c == 3) {   /* the common case, all channels in one sweep over the taps */
                for (int i = 0; i < n; i++) { acc[0] += s[3 * i] * k[i]; acc[1] += s[3 * i + 1] * k[i]; acc[2] += s[3 * i + 2] * k[i]; }
            } else {
                for (int i = 0; i < n; i++) for (int ch = 0; ch < c; ch++) acc[ch] += s[i * c + ch] * k[i];
            }
            for (int ch = 0; ch < c; ch++) dst[x * c + ch] = clip8(acc[ch]);
        }
    }
}

/* out (w x h_out) from in (w x h_in rows, starting at row_offset subtracted from the tap starts).
 * Each output row accumulates whole input rows into an int32 row (contiguous, vectorisable). */
static void pass_vertical(const uint8_t *in, int w, int c, int row_offset, const Taps *t, int h_out, uint8_t *out) {
    size_t stride = (size_t)w * c;
    #pragma omp parallel
    {
        int32_t *acc = xmalloc(stride * sizeof *acc);
        #pragma omp for schedule(static)
        for (int y = 0; y < h_out; y++) {
            const int32_t *k = t->w + (size_t)y * t->ksize;
            const uint8_t *s = in + (size_t)(t->first[y] - row_offset) * stride;
            for (size_t x = 0; x < stride; x++) acc[x] = 1 << (PRECISION_BITS - 1);
            for (int i = 0; i < t->count[y]; i++) {
                const uint8_t *row = s + (size_t)i * stride;
                const int32_t ki = k[i];
                for (size_t x = 0; x < stride; x++) acc[x] += row[x] * ki;
            }
            uint8_t *dst = out + (size_t)y * stride;
            for (size_t x = 0; x < stride; x++) dst[x] = clip8(acc[x]);
        }
        free(acc);
    }
}

int image_resize(const Image *src, int w, int h, ResampleFilter filter, Image *out, Err *e) {
    if (!src->data || src->width <= 0 || src->height <= 0 || src->channels < 1 || src->channels > 4)
        return err_set(e, "resize: source image is empty or has %d channels (expected 1..4)", src->channels);
    if (w <= 0 || h <= 0) return err_set(e, "resize: target size %dx%d must be positive", w, h);
    if (filter != RESAMPLE_BILINEAR && filter != RESAMPLE_BICUBIC && filter != RESAMPLE_LANCZOS)
        return err_set(e, "resize: unknown filter %d (expected bilinear 2, bicubic 3 or lanczos 1)", (int)filter);
    const int c = src->channels;
    Image dst = { w, h, c, xmalloc((size_t)w * h * c) };
    const uint8_t *cur = src->data;
    uint8_t *tmp = NULL;
    int cur_w = src->width, row_offset = 0;
    Taps tv = {0};
    int need_h = w != src->width, need_v = h != src->height;
    if (need_v) taps_compute(src->height, h, filter, &tv);
    if (need_h) {
        Taps th;
        taps_compute(src->width, w, filter, &th);
        /* only the source rows the vertical pass reads */
        int first = need_v ? tv.first[0] : 0;
        int last = need_v ? tv.first[h - 1] + tv.count[h - 1] : src->height;
        uint8_t *target = need_v ? (tmp = xmalloc((size_t)w * (last - first) * c)) : dst.data;
        pass_horizontal(src->data, src->width, first, last - first, c, &th, w, target);
        taps_free(&th);
        cur = target; cur_w = w; row_offset = first;
    }
    if (need_v) pass_vertical(cur, cur_w, c, row_offset, &tv, h, dst.data);
    else if (!need_h) memcpy(dst.data, src->data, (size_t)w * h * c);
    taps_free(&tv);
    free(tmp);
    *out = dst;
    return 0;
}

int image_resize_lanczos(const Image *src, int w, int h, Image *out, Err *e) {
    return image_resize(src, w, h, RESAMPLE_LANCZOS, out, e);
}
int image_resize_bicubic(const Image *src, int w, int h, Image *out, Err *e) {
    return image_resize(src, w, h, RESAMPLE_BICUBIC, out, e);
}
