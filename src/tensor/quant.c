#include "tensor/quant.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* bitsandbytes' NF4 code book (normal-distribution quantiles, scaled to [-1, 1]) */
static const float NF4[16] = {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
                              -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
                              0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
                              0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};

static const struct { const char *name; QuantKind k; } NAMES[] = {
    {"no_change", QUANT_NONE}, {"bf16", QUANT_NONE}, {"int8-quanto", QUANT_INT8}, {"int8-torchao", QUANT_INT8},
    {"fp8-quanto", QUANT_FP8}, {"fp8-torchao", QUANT_FP8}, {"nf4-bnb", QUANT_NF4}, {"int4-quanto", QUANT_INT4},
    {"int2-quanto", QUANT_INT2},
};

int quant_parse(const char *s, QuantKind *out, Err *e) {
    if (!s || !*s) { *out = QUANT_NONE; return 0; }
    for (size_t i = 0; i < sizeof NAMES / sizeof *NAMES; i++) if (!strcmp(s, NAMES[i].name)) { *out = NAMES[i].k; return 0; }
    return err_setc(e, EXIT_USAGE, "not supported yet: base_model_precision=%s (supported: no_change, int8-quanto, int8-torchao, "
                                   "fp8-quanto, fp8-torchao, nf4-bnb, int4-quanto, int2-quanto)", s);
}

const char *quant_name(QuantKind k) {
    static const char *n[] = {"none", "int8", "fp8-e4m3", "nf4", "int4", "int2"};
    return (unsigned)k < 6 ? n[k] : "?";
}

static int bits_of(QuantKind k) { return k == QUANT_NF4 || k == QUANT_INT4 ? 4 : k == QUANT_INT2 ? 2 : 8; }

/* The nearest code (the lowest one on a tie). The levels are sorted, so counting the midpoints below
 * x lands on it or a neighbour; the exact distance comparison among those three decides, as a full
 * search would. */
static int nearest_nf4(float x) {
    int c = 0;
    for (int i = 0; i < 15; i++) c += x > 0.5f * (NF4[i] + NF4[i + 1]);
    int lo = c > 0 ? c - 1 : 0, hi = c < 15 ? c + 1 : 15, best = lo;
    float bd = fabsf(x - NF4[lo]);
    for (int i = lo + 1; i <= hi; i++) { float d = fabsf(x - NF4[i]); if (d < bd) { bd = d; best = i; } }
    return best;
}

/* lrintf(fminf(fmaxf(x, -127), 127)) without the library calls: NaN goes to -127 as fmaxf sends it,
 * and adding and removing 1.5·2^23 rounds |x| <= 127 to the nearest integer, ties to even, as lrintf
 * does in the default rounding mode. */
static inline int round_int8(float x) {
    x = x > -127.0f ? x : -127.0f;
    x = x < 127.0f ? x : 127.0f;
    return (int)((x + 12582912.0f) - 12582912.0f);
}

/* Quantises rows [r0, r1) of w into q (row_bytes per row) and scale (ng per row). */
static void quantize_rows(const Weight *w, QuantKind k, int group, int r0, int r1, unsigned char *q, float *scale) {
    const int cols = w->cols, bits = bits_of(k), ng = cols / group;
    const size_t row_bytes = (size_t)cols * bits / 8;
    #pragma omp parallel if ((size_t)(r1 - r0) * cols > 65536)
    {
        float *f = xmalloc((size_t)cols * sizeof(float));
        #pragma omp for schedule(static)
        for (int r = r0; r < r1; r++) {
            weight_rows_f32(w, r, 1, f);
            unsigned char *qr = q + (size_t)r * row_bytes;
            for (int g = 0; g < ng; g++) {
                const float *v = f + (size_t)g * group;
                float amax = 0;
                for (int i = 0; i < group; i++) if (fabsf(v[i]) > amax) amax = fabsf(v[i]);
                float s;
                switch (k) {
                case QUANT_INT8: s = amax / 127.0f; break;
                case QUANT_FP8: s = amax / 448.0f; break;
                case QUANT_NF4: s = amax; break;
                case QUANT_INT4: s = amax / 7.0f; break;
                default: s = amax / 1.5f; break;
                }
                scale[(size_t)r * ng + g] = s;
                float inv = s > 0 ? 1.0f / s : 0.0f;
                unsigned char *qg = qr + (size_t)g * group * bits / 8;
                switch (k) {
                case QUANT_INT8:
                    for (int i = 0; i < group; i++) qg[i] = (unsigned char)(int8_t)round_int8(v[i] * inv);
                    break;
                case QUANT_FP8:
                    for (int i = 0; i < group; i++) qg[i] = f32_to_f8e4m3(v[i] * inv);
                    break;
                case QUANT_NF4:
                    for (int i = 0; i < group; i += 2)
                        qg[i / 2] = (unsigned char)(nearest_nf4(v[i] * inv) | nearest_nf4(v[i + 1] * inv) << 4);
                    break;
                case QUANT_INT4:
                    for (int i = 0; i < group; i += 2)
                        qg[i / 2] = (unsigned char)((lrintf(fminf(fmaxf(v[i] * inv, -8), 7)) & 15) | (lrintf(fminf(fmaxf(v[i + 1] * inv, -8), 7)) & 15) << 4);
                    break;
                default:   /* int2: levels -1.5, -0.5, 0.5, 1.5 */
                    for (int i = 0; i < group; i += 4) {
                        int byte = 0;
                        for (int j = 0; j < 4; j++) { float x = v[i + j] * inv; byte |= (x < -1.0f ? 0 : x < 0.0f ? 1 : x < 1.0f ? 2 : 3) << (2 * j); }
                        qg[i / 4] = (unsigned char)byte;
                    }
                    break;
                }
            }
        }
        free(f);
    }
}

int weight_quantize(Weight *w, QuantKind k, QuantStorage *st, Err *e) { return weight_quantize_mapped(w, k, st, NULL, e); }

int weight_quantize_mapped(Weight *w, QuantKind k, QuantStorage *st, const StSet *source, Err *e) {
    memset(st, 0, sizeof *st);
    if (k == QUANT_NONE) return 0;
    if (w->quant != QUANT_NONE) return err_set(e, "weight is already quantised");
    const int rows = w->rows, cols = w->cols, bits = bits_of(k);
    int group = k == QUANT_INT8 || k == QUANT_FP8 ? cols : (cols < 64 ? cols : 64);
    if (cols % group) return err_set(e, "cannot quantise a %dx%d weight in groups of %d", rows, cols, group);
    if ((size_t)cols * bits % 8) return err_set(e, "cannot pack a row of %d values at %d bits", cols, bits);
    const int ng = cols / group;
    const size_t row_bytes = (size_t)cols * bits / 8, src_row = (size_t)cols * dtype_size(w->dtype);
    unsigned char *q = xcalloc((size_t)rows * row_bytes, 1);
    float *scale = xmalloc((size_t)rows * ng * sizeof(float));
    /* a few MiB of source rows at a time; each chunk's mapped pages are dropped once it is packed */
    int chunk = (int)(QUANT_RELEASE_BYTES / (src_row ? src_row : 1));
    if (chunk < 1) chunk = 1;
    for (int r0 = 0; r0 < rows; r0 += chunk) {
        int r1 = rows - r0 < chunk ? rows : r0 + chunk;
        quantize_rows(w, k, group, r0, r1, q, scale);
        if (source) stset_release(source, (const unsigned char *)w->data + (size_t)r0 * src_row, (size_t)(r1 - r0) * src_row);
    }
    st->data = q; st->scale = scale;
    w->data = q; w->scale = scale; w->quant = k; w->group = group; w->dtype = DT_U8;
    return 0;
}

void quant_storage_free(QuantStorage *s) { free(s->data); free(s->scale); s->data = NULL; s->scale = NULL; }

/* Value of every code a byte holds, for the kind: 8-bit kinds one value per byte, 4-bit kinds two
 * (low nibble first), int2 four (lowest bits first). Tables are built per call (2–4 KiB, no global
 * state) so the dequantising loops below are a load and a multiply per value. */
typedef struct CodeTable { float v[256][4]; int per_byte; } CodeTable;

static void code_table(QuantKind k, CodeTable *t) {
    t->per_byte = k == QUANT_NF4 || k == QUANT_INT4 ? 2 : k == QUANT_INT2 ? 4 : 1;
    for (int b = 0; b < 256; b++)
        for (int j = 0; j < t->per_byte; j++) {
            int q = t->per_byte == 1 ? b : t->per_byte == 2 ? (b >> (4 * j)) & 15 : (b >> (2 * j)) & 3;
            float v;
            switch (k) {
            case QUANT_INT8: v = (float)(int8_t)q; break;
            case QUANT_FP8: v = f8e4m3_to_f32((uint8_t)q); break;
            case QUANT_NF4: v = NF4[q]; break;
            case QUANT_INT4: v = (float)(q >= 8 ? q - 16 : q); break;
            default: v = (float)q - 1.5f; break;
            }
            t->v[b][j] = v;
        }
}

void quant_rows_f32(const Weight *w, int r0, int nr, float *out) {
    const int cols = w->cols, bits = bits_of(w->quant), group = w->group, ng = cols / group;
    const size_t row_bytes = (size_t)cols * bits / 8;
    CodeTable t;
    code_table(w->quant, &t);
    const int pb = t.per_byte, gb = group / pb;   /* bytes per group (groups hold whole bytes: see weight_quantize) */
    #pragma omp parallel for schedule(static) if ((size_t)nr * cols > 65536)
    for (int r = 0; r < nr; r++) {
        const unsigned char *qr = (const unsigned char *)w->data + (size_t)(r0 + r) * row_bytes;
        const float *sc = w->scale + (size_t)(r0 + r) * ng;
        float *o = out + (size_t)r * cols;
        for (int g = 0; g < ng; g++) {
            const float s = sc[g];
            const unsigned char *qg = qr + (size_t)g * gb;
            float *og = o + (size_t)g * group;
            if (pb == 1) for (int i = 0; i < gb; i++) og[i] = t.v[qg[i]][0] * s;
            else if (pb == 2) for (int i = 0; i < gb; i++) { const float *v = t.v[qg[i]]; og[2 * i] = v[0] * s; og[2 * i + 1] = v[1] * s; }
            else for (int i = 0; i < gb; i++) { const float *v = t.v[qg[i]]; for (int j = 0; j < 4; j++) og[4 * i + j] = v[j] * s; }
        }
    }
}
