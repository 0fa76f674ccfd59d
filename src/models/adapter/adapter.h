/* adapter.h — a trainable low-rank (or Kronecker, Hadamard ...) update of a frozen linear layer,
 * behind one small interface so that a new adapter kind never touches the transformers.
 *
 * An adapter adds Δ(x) = x·ΔWᵀ to the layer's output, with ΔW [out, in] given by its own factors.
 * The layer (linear_layer.h) owns the frozen base, the input dropout and the scratch memory; an
 * adapter kind provides the forward and backward of its branch on contiguous rows:
 *
 *   forward   y[n, out] += scale · Δ(x[n, in]); keeps acts[n, acts_per_row] for backward
 *   backward  grads += d/dθ, dx[n, in] += dΔ/dx (dx may be NULL); scratch [n, scratch_per_row]
 *   delta     the dense ΔW·scale [out, in] (merging, tests, LyCORIS-style formats)
 *
 * Trainable tensors are exposed as TrainParam (name, value, grad) under the names the adapter's file
 * format uses ("<module>.lora_A.weight" ...), so optimizers, EMA and checkpoints need nothing else. */
#ifndef ST_MODELS_ADAPTER_H
#define ST_MODELS_ADAPTER_H
#include <stddef.h>
#include "tensor/param.h"

typedef struct Adapter Adapter;

typedef struct AdapterOps {
    const char *kind;                                   /* "lora", ... */
    size_t (*acts_per_row)(const Adapter *a);           /* floats kept per input row by forward */
    size_t (*scratch_per_row)(const Adapter *a);        /* floats of scratch per row in backward */
    void (*forward)(const Adapter *a, const float *x, int ldx, int n, float *y, int ldy, float *acts);
    void (*backward)(Adapter *a, const float *dy, int lddy, const float *x, int ldx, int n, const float *acts,
                     float *dx, int lddx, float *scratch);
    void (*delta)(const Adapter *a, float *dW);         /* [out, in], scale included */
    void (*free_impl)(Adapter *a);
} AdapterOps;

struct Adapter {
    const AdapterOps *ops;
    int in, out;
    float scale;          /* multiplies the branch: alpha / rank for LoRA, × a load strength */
    float dropout;        /* probability of PEFT-style dropout on the branch's input (training only) */
    TrainParam *params;   /* trainable tensors with their gradients (owned by the adapter) */
    int n_params;
    void *impl;           /* the kind's factors */
};

void adapter_free(Adapter *a);   /* NULL-safe; frees params (names included) and the adapter */

/* ---- LoRA: ΔW = scale · B·A with A [r, in], B [out, r] ---- */

/* A new LoRA adapter for module `module` with PEFT's init: A kaiming-uniform (±1/√in) from a
 * stream of (seed, module name), B = 0. Params "<module>.lora_A.weight", "<module>.lora_B.weight". */
Adapter *lora_adapter_new(const char *module, int in, int out, int rank, float alpha, float dropout, uint64_t seed);
/* A LoRA adapter holding the given factors (copied); scale as given. */
Adapter *lora_adapter_from(const char *module, int in, int out, int rank, float scale, const float *A, const float *B);
/* The factors of a LoRA adapter (NULL when a is another kind). */
int lora_adapter_factors(const Adapter *a, int *rank, float **A, float **B);
int adapter_is_lora(const Adapter *a);

#endif
