/* linear.h — y = x·Wᵀ + b with the frozen weight in its storage dtype, and the LoRA branch.
 *
 * A frozen base weight (bf16 / f16 from the checkpoint, or f32) is never copied whole into f32:
 * the GEMMs dequantise a tile of rows of W at a time (about LINEAR_TILE_VALUES values, at least
 * LINEAR_TILE_MIN_ROWS rows) into a scratch buffer and call sgemm on it.
 * Trainable (full fine-tune) weights are f32 and go straight to sgemm. Activations are f32,
 * token-major: x [n, in], y [n, out], both with their own row strides (ld). */
#ifndef ST_KERNELS_LINEAR_H
#define ST_KERNELS_LINEAR_H
#include <stddef.h>
#include <stdint.h>
#include "tensor/weight.h"

/* Tall tiles because every sgemm call packs all of x (or streams all of dx) again: with 256-row tiles
 * a 12288-row MLP weight re-read x 48 times and the step ran at ~0.65 of a plain sgemm. 4 Mi values
 * (16 MiB of f32 scratch, freed after the call) keeps that to a few passes per weight. */
#define LINEAR_TILE_VALUES (4L << 20)
#define LINEAR_TILE_MIN_ROWS 64


/* y[n, out] = x[n, in]·Wᵀ (+ bias[out] when non-NULL); beta = 0 overwrites y, 1 accumulates. */
void linear_forward(const float *x, int ldx, int n, const Weight *w, const float *bias, float *y, int ldy, float beta);
/* dx[n, in] (+)= dy[n, out]·W   (beta as above). */
void linear_backward_input(const float *dy, int lddy, int n, const Weight *w, float *dx, int lddx, float beta);
/* dW[out, in] += dyᵀ·x and db[out] += Σ_rows dy (db may be NULL). dW is f32. */
void linear_backward_weight(const float *dy, int lddy, const float *x, int ldx, int n, int out, int in,
                            float *dW, float *db);

/* LoRA: y += scale·(x·Aᵀ)·Bᵀ with A [r, in], B [out, r] f32. h [n, r] receives x·Aᵀ (kept for
 * backward). xd is the input the branch sees (dropout already applied by the caller, or x). */
void lora_forward(const float *xd, int ldx, int n, int in, int out, int r, const float *A, const float *B,
                  float scale, float *h, float *y, int ldy);
/* LoRA dropout (PEFT's dropout on the adapter input): out[n, in] = x ∘ mask / (1 − p), the mask drawn
 * element by element, row by row, from seed; lora_dropout_grad adds mask / (1 − p) ∘ g[n, in] to dx,
 * redrawing the same mask from the seed (nothing is stored between forward and backward). */
void lora_dropout_apply(const float *x, int ldx, int n, int in, float p, uint64_t seed, float *out);
void lora_dropout_grad(const float *g, int n, int in, float p, uint64_t seed, float *dx, int lddx);
/* Backward of the branch: dA += (scale·dy·B)ᵀ·xd, dB += scale·dyᵀ·h, dx += scale·(dy·B)·A (dx may be
 * NULL). dh is scratch [n, r]. When dropout was applied, the caller multiplies dx by the mask. */
void lora_backward(const float *dy, int lddy, const float *xd, int ldx, const float *h, int n, int in, int out,
                   int r, const float *A, const float *B, float scale, float *dA, float *dB, float *dh,
                   float *dx, int lddx);

#endif
