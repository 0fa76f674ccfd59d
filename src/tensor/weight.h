/* weight.h — a frozen weight matrix as the GEMMs see it: in its storage dtype (f32, bf16, f16 from
 * the checkpoint, usually memory-mapped) or quantised (base_model_precision, see tensor/quant.h).
 * Activations are always f32; the GEMMs in kernels/linear.c dequantise tiles of rows on the fly. */
#ifndef ST_TENSOR_WEIGHT_H
#define ST_TENSOR_WEIGHT_H
#include "tensor/dtype.h"

/* Frozen-base quantisation (base_model_precision); see tensor/quant.h. */
typedef enum { QUANT_NONE = 0, QUANT_INT8, QUANT_FP8, QUANT_NF4, QUANT_INT4, QUANT_INT2 } QuantKind;

/* A weight matrix [rows = out, cols = in], row-major, in its storage dtype, or quantised:
 * INT8 / FP8 (e4m3): one byte per value and one scale per row; NF4 / INT4: two values per byte,
 * INT2: four per byte, with one scale per `group` values of a row. */
typedef struct Weight {
    DType dtype;          /* DT_F32, DT_BF16, DT_F16 (quant = QUANT_NONE) */
    const void *data;
    int rows, cols;
    QuantKind quant;
    const float *scale;   /* [rows] (INT8, FP8) or [rows, cols/group] */
    int group;
} Weight;

/* Rows [r0, r0+nr) of w as f32 into out [nr, cols]. */
void weight_rows_f32(const Weight *w, int r0, int nr, float *out);
/* The same for a quantised weight (its decoder lives with the encoders in tensor/quant.c). */
void quant_rows_f32(const Weight *w, int r0, int nr, float *out);

#endif
