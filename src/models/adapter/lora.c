/* lora.c — the LoRA adapter kind: Δ(x) = scale · (x·Aᵀ)·Bᵀ, A [r, in], B [out, r]; forward keeps
 * h = x·Aᵀ [n, r] per row for backward (the GEMMs are kernels/linear.c's lora_forward/backward). */
#include "models/adapter/adapter.h"
#include "base/error.h"
#include "base/rng.h"
#include "kernels/linear.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct Lora { int r; float *A, *B, *gA, *gB; } Lora;

static size_t acts_per_row(const Adapter *a) { return (size_t)((const Lora *)a->impl)->r; }
static size_t scratch_per_row(const Adapter *a) { return (size_t)((const Lora *)a->impl)->r; }

static void forward(const Adapter *a, const float *x, int ldx, int n, float *y, int ldy, float *acts) {
    const Lora *l = a->impl;
    lora_forward(x, ldx, n, a->in, a->out, l->r, l->A, l->B, a->scale, acts, y, ldy);
}

static void backward(Adapter *a, const float *dy, int lddy, const float *x, int ldx, int n, const float *acts,
                     float *dx, int lddx, float *scratch) {
    Lora *l = a->impl;
    lora_backward(dy, lddy, x, ldx, acts, n, a->in, a->out, l->r, l->A, l->B, a->scale, l->gA, l->gB, scratch, dx, lddx);
}

static void delta(const Adapter *a, float *dW) {
    const Lora *l = a->impl;
    for (int o = 0; o < a->out; o++)
        for (int i = 0; i < a->in; i++) {
            double s = 0;
            for (int k = 0; k < l->r; k++) s += (double)l->B[(size_t)o * l->r + k] * l->A[(size_t)k * a->in + i];
            dW[(size_t)o * a->in + i] = (float)(a->scale * s);
        }
}

static void free_impl(Adapter *a) {
    Lora *l = a->impl;
    free(l->A); free(l->B); free(l->gA); free(l->gB); free(l);
}

static const AdapterOps LORA_OPS = {"lora", acts_per_row, scratch_per_row, forward, backward, delta, free_impl};

int adapter_is_lora(const Adapter *a) { return a && a->ops == &LORA_OPS; }

int lora_adapter_factors(const Adapter *a, int *rank, float **A, float **B) {
    if (!adapter_is_lora(a)) return -1;
    Lora *l = a->impl;
    *rank = l->r; *A = l->A; *B = l->B;
    return 0;
}

static Adapter *make(const char *module, int in, int out, int rank, float scale) {
    Adapter *a = xcalloc(1, sizeof *a);
    Lora *l = xcalloc(1, sizeof *l);
    size_t na = (size_t)rank * in, nb = (size_t)out * rank;
    l->r = rank;
    l->A = xcalloc(na, sizeof(float)); l->gA = xcalloc(na, sizeof(float));
    l->B = xcalloc(nb, sizeof(float)); l->gB = xcalloc(nb, sizeof(float));
    *a = (Adapter){&LORA_OPS, in, out, scale, 0.0f, xcalloc(2, sizeof(TrainParam)), 2, l};
    a->params[0] = (TrainParam){xasprintf("%s.lora_A.weight", module), l->A, l->gA, na, 2, {rank, in}};
    a->params[1] = (TrainParam){xasprintf("%s.lora_B.weight", module), l->B, l->gB, nb, 2, {out, rank}};
    return a;
}

Adapter *lora_adapter_new(const char *module, int in, int out, int rank, float alpha, float dropout, uint64_t seed) {
    Adapter *a = make(module, in, out, rank, alpha / (float)rank);
    a->dropout = dropout;
    /* PEFT: kaiming_uniform(a=√5) on A is U(±1/√in); B starts at zero so the adapter starts as a no-op.
     * One stream per module name: the init does not depend on the order modules are visited. */
    Rng r;
    rng_seed_stream(&r, seed, hash64(module, strlen(module), 0));
    float bound = 1.0f / sqrtf((float)in);
    rng_fill_uniform(&r, ((Lora *)a->impl)->A, (size_t)rank * in, -bound, bound);
    return a;
}

Adapter *lora_adapter_from(const char *module, int in, int out, int rank, float scale, const float *A, const float *B) {
    Adapter *a = make(module, in, out, rank, scale);
    Lora *l = a->impl;
    memcpy(l->A, A, (size_t)rank * in * sizeof(float));
    memcpy(l->B, B, (size_t)out * rank * sizeof(float));
    return a;
}

void adapter_free(Adapter *a) {
    if (!a) return;
    for (int i = 0; i < a->n_params; i++) free((char *)a->params[i].name);
    free(a->params);
    if (a->ops && a->ops->free_impl) a->ops->free_impl(a);
    free(a);
}
