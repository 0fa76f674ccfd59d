/* quant.h — quantised storage of frozen base weights (SimpleTuner's base_model_precision):
 *   int8-quanto / int8-torchao   int8, symmetric, one scale per output channel (absmax/127)
 *   fp8-quanto / fp8-torchao     float8 e4m3, one scale per output channel (absmax/448)
 *   nf4-bnb                      4-bit NormalFloat levels, absmax scale per block of 64
 *   int4-quanto                  int4 in [-8, 7], scale per group of 64 (absmax/7)
 *   int2-quanto                  2-bit levels {±0.5, ±1.5}·s, s = absmax/1.5 per group of 64
 * The GEMMs dequantise tiles of rows into f32 (kernels/linear.c): memory holds only the packed
 * weights, never a whole f32 copy. Groups shrink to the row length when a row is shorter. */
#ifndef ST_QUANT_H
#define ST_QUANT_H
#include "base/error.h"
#include "tensor/safetensors.h"
#include "tensor/weight.h"

/* "no_change", "bf16" → QUANT_NONE; the names above → their kind; else an error naming the key
 * and the supported values (EXIT_USAGE). */
int quant_parse(const char *base_model_precision, QuantKind *out, Err *e);
const char *quant_name(QuantKind k);

/* Quantises w (any storage dtype) in place: w's data/scale point to new buffers, returned in
 * *storage (free both with quant_storage_free). */
typedef struct QuantStorage { void *data; float *scale; } QuantStorage;
int weight_quantize(Weight *w, QuantKind k, QuantStorage *storage, Err *e);
/* The same for a weight whose data lies in the memory-mapped files of `source` (a checkpoint opened
 * with stset_open): it is packed QUANT_RELEASE_BYTES of source rows at a time and each chunk's pages
 * are dropped from this process as soon as they are packed (stset_release), so quantising a whole
 * checkpoint never holds more than a chunk of its bf16 bytes resident besides the packed result.
 * source NULL (or data outside it): nothing is released — identical to weight_quantize. */
#define QUANT_RELEASE_BYTES ((size_t)4 << 20)
int weight_quantize_mapped(Weight *w, QuantKind k, QuantStorage *storage, const StSet *source, Err *e);
void quant_storage_free(QuantStorage *s);

#endif
