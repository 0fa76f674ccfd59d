/* weight.c — reading rows of a frozen weight as f32 (see weight.h). */
#include "tensor/weight.h"
#include "tensor/quant.h"
#include <string.h>

void weight_rows_f32(const Weight *w, int r0, int nr, float *out) {
    if (w->quant != QUANT_NONE) { quant_rows_f32(w, r0, nr, out); return; }
    size_t n = (size_t)nr * w->cols, off = (size_t)r0 * w->cols;
    const unsigned char *base = w->data;
    switch (w->dtype) {
    case DT_F32: memcpy(out, (const float *)w->data + off, n * sizeof(float)); break;
    case DT_BF16: {
        const uint16_t *s = (const uint16_t *)(base + off * 2);
        #pragma omp parallel for schedule(static) if (n > 65536)
        for (size_t i = 0; i < n; i++) out[i] = bf16_to_f32(s[i]);
        break;
    }
    default: dtype_to_f32(w->dtype, base + off * dtype_size(w->dtype), out, n); break;
    }
}
