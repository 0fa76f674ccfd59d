/* linear_layer.h — the linear layer both transformers are built from: a frozen base weight (its
 * stored dtype, or quantised; f32 when trained in full), an optional f32 bias, and an optional
 * adapter (adapter.h) with PEFT-style dropout on the adapter's input.
 *
 *   y[n, out] = x[n, in]·Wᵀ + b + adapter(dropout(x))
 *
 * One memory strategy for every model: what backward needs of the adapter (e.g. LoRA's x·Aᵀ) is
 * kept by the caller in `acts` (linear_acts_floats(l, n) floats, laid out per row); dropout masks
 * are never stored but redrawn from a seed that depends only on (the forward's seed, the layer's
 * id, the first row), so a checkpointed recompute and the backward see the same masks; temporary
 * buffers come from a LinearScratch the model owns, which grows and is then reused (no malloc in a
 * steady-state step). Rows are contiguous: a caller with strided groups of rows (LongCat's
 * per-sample text/image spans) calls once per group with that group's first row. */
#ifndef ST_MODELS_LINEAR_LAYER_H
#define ST_MODELS_LINEAR_LAYER_H
#include <stddef.h>
#include <stdint.h>
#include "models/adapter/adapter.h"
#include "tensor/weight.h"

typedef struct Linear {
    const char *name;     /* module path in diffusers naming, e.g. "transformer_blocks.0.attn.to_q" */
    int in, out;
    Weight *w;            /* the model's weight (quantised in place by linear_set_quantize) */
    const float *b;       /* [out] f32, or NULL */
    float *gw, *gb;       /* full fine-tuning gradients [out, in] and [out]; NULL when frozen */
    Adapter *ad;          /* NULL: none (owned by the layer once attached) */
    uint32_t id;          /* the layer's index in its model (dropout streams) */
} Linear;

typedef struct LinearScratch { float *buf; size_t cap; } LinearScratch;
void linear_scratch_free(LinearScratch *s);

/* Dropout of a training forward: seed drawn once per forward; row0 = index of the call's first row
 * within the forward (so that every group of rows gets its own mask). on = 0: no dropout. */
typedef struct LinearDrop { int on; uint64_t seed; int row0; } LinearDrop;

/* Floats of `acts` that n rows need (0 without an adapter). */
size_t linear_acts_floats(const Linear *l, int n);

/* y[n, out] (row stride ldy) = x·Wᵀ + b + adapter; acts [n, acts/row] receives what backward needs
 * (may be NULL when no backward follows). */
void linear_layer_forward(const Linear *l, const float *x, int ldx, int n, float *y, int ldy, float *acts,
                          const LinearDrop *drop, LinearScratch *s);
/* From dy[n, out]: dx (beta 0 overwrites, 1 adds; NULL: not wanted), the base's gradients when
 * trained in full (gw, gb +=) and the adapter's (+=). x and acts are the forward's. */
void linear_layer_backward(const Linear *l, const float *dy, int lddy, const float *x, int ldx, int n, const float *acts,
                           float *dx, int lddx, float beta, const LinearDrop *drop, LinearScratch *s);

/* W + ΔW of the layer as f32 [out, in] (tests: a forward with the adapter equals one with it merged). */
void linear_merged_weight(const Linear *l, float *W);

#endif
