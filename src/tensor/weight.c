/* weight.c — reading rows of a frozen weight as f32 (see weight.h). */
#include "tensor/weight.h"
#include "tensor/dtype.h"
#include <string.h>

/* Mapped tensors may start at any byte (a safetensors header length need not be a multiple of 8), so
 * the data is read with memcpy loads: the compiler turns them into the same plain (unaligned-capable)
 * vector loads as a uint16_t* loop, at the same speed, without the undefined misaligned access. */
static inline uint16_t load_u16(const unsigned char *p) { uint16_t h; memcpy(&h, p, 2); return h; }

void weight_rows_f32(const Weight *w, int r0, int nr, float *out) {
    if (w->quant != QUANT_NONE) { quant_rows_f32(w, r0, nr, out); return; }
    size_t n = (size_t)nr * w->cols, off = (size_t)r0 * w->cols;
    const unsigned char *base = w->data;
    switch (w->dtype) {
    case DT_F32: memcpy(out, base + off * sizeof(float), n * sizeof(float)); break;
    case DT_BF16: {
        const unsigned char *s = base + off * 2;
        #pragma omp parallel for schedule(static) if (n > 65536)
        for (size_t i = 0; i < n; i++) out[i] = bf16_to_f32(load_u16(s + 2 * i));
        break;
    }
    default: dtype_to_f32(w->dtype, base + off * dtype_size(w->dtype), out, n); break;
    }
}
