/* lycoris.h — the LyCORIS adapter kinds (KohakuBlueleaf/LyCORIS, as SimpleTuner's lora_type=lycoris
 * trains them) behind the adapter interface: LoKr, LoHa and LoRA/LoCon, for Linear layers.
 *
 *   LoKr   ΔW = c · W1 ⊗ W2             W1 [out_l, in_m] = lokr_w1 or lokr_w1_a·lokr_w1_b,
 *                                        W2 [out_k, in_n] = lokr_w2 or lokr_w2_a·lokr_w2_b,
 *                                        (out_l, out_k), (in_m, in_n) = lycoris_factorization(out|in, factor)
 *   LoHa   ΔW = c · (w1_a·w1_b) ⊙ (w2_a·w2_b)        hada_w1_a [out, r], hada_w1_b [r, in], ...
 *   LoRA   ΔW = c · up·down                          lora_up.weight [out, r], lora_down.weight [r, in]
 *
 * with c = multiplier · scale · s: scale = alpha / r (alpha 0 means r; √r with rs_lora; LoKr with
 * both factors full: 1), s the optional trainable scalar (use_scalar; starts at 0, otherwise 1).
 * The branch is applied without ever forming ΔW for LoKr (y = W1·X·W2ᵀ per row, X = x as [in_m, in_n]),
 * by blocks of output rows for LoHa, and through the rank for LoRA.
 *
 * Training-only randomness, as LyCORIS draws it: module_dropout skips the whole branch for a call;
 * rank_dropout zeroes output rows of ΔW (LoRA in bypass mode: rank components), ×1/mean with
 * rank_dropout_scale; dropout (bypass mode only) is element-wise dropout on the branch's output.
 * Saved files follow LyCORIS' state dict: the scalar is folded into lokr_w1 / lokr_w1_a / hada_w1_a /
 * lora_up, `alpha` is alpha·r/r_f so that a reader's alpha/r is the scale. */
#ifndef ST_MODELS_LYCORIS_H
#define ST_MODELS_LYCORIS_H
#include "base/error.h"
#include "models/adapter/adapter.h"

typedef enum { LYCO_LORA, LYCO_LOHA, LYCO_LOKR } LycorisAlgo;

/* One module's settings, resolved from a lycoris_config (lycoris_select.h). */
typedef struct LycorisModuleSpec {
    LycorisAlgo algo;
    int dim;                    /* rank r */
    float alpha;                /* 0: r */
    float multiplier;
    int factor;                 /* LoKr: split factor (< 0: the most balanced split) */
    int full_matrix, decompose_both, unbalanced_factorization;   /* LoKr */
    int use_scalar, rs_lora, bypass_mode, rank_dropout_scale;
    float dropout, rank_dropout, module_dropout;
} LycorisModuleSpec;

/* LyCORIS' factorization(dim, factor): (m, n) with m·n = dim, m <= n — {factor, dim/factor} when
 * factor divides dim, else the pair of divisors walked up from (1, dim) while m <= factor. */
void lycoris_factorization(int dim, int factor, int *m, int *n);

/* A new trainable adapter with LyCORIS' init, drawn from a stream of (seed, module name). Params
 * are named "<module>.<tensor>" ("<module>.lokr_w1", ..., "<module>.scalar"). */
Adapter *lycoris_adapter_new(const char *module, int in, int out, const LycorisModuleSpec *s, uint64_t seed);

int adapter_is_lycoris(const Adapter *a);
LycorisAlgo lycoris_adapter_algo(const Adapter *a);
const char *lycoris_algo_name(LycorisAlgo algo);   /* "lokr", "loha", "lora" */
/* The LyCORIS multiplier an adapter was built with (strengths: scale = multiplier · alpha/r). */
void lycoris_adapter_set_multiplier(Adapter *a, float multiplier);

/* Rows are processed in chunks of about `floats` floats a buffer (0: the default, 4M); tests use
 * tiny chunks to cross chunk boundaries on small inputs. */
void lycoris_adapter_set_chunk(Adapter *a, size_t floats);

/* The tensors of one module in a LyCORIS file: suffix ("lokr_w1", "lora_up.weight", ...), shape
 * and f32 values; alpha when the file has one. */
#define LYCO_MAX_TENSORS 6
typedef struct LycorisTensors {
    int n;
    const char *suffix[LYCO_MAX_TENSORS];
    int rows[LYCO_MAX_TENSORS], cols[LYCO_MAX_TENSORS];
    float *data[LYCO_MAX_TENSORS];
    int has_alpha;
    float alpha;
} LycorisTensors;
void lycoris_tensors_free(LycorisTensors *t);   /* the data arrays */

/* The tensors a file stores for this adapter (malloc'd copies; scalar folded in). */
void lycoris_adapter_export(const Adapter *a, LycorisTensors *t);
/* An adapter from a file's tensors: the kind from the suffixes (lokr_w1 | lokr_w1_a: LoKr,
 * hada_w1_a: LoHa, lora_down/lora_up: LoRA), shapes checked against the layer [out, in], the scale
 * as ComfyUI applies the file (alpha / rank when both are known, else 1) times `strength`. It is
 * trainable (init_lora) with no dropout. `where` names the file for errors. */
Adapter *lycoris_adapter_import(const char *module, int in, int out, const LycorisTensors *t, float strength,
                                const char *where, Err *e);

/* SimpleTuner's init_lokr_norm: lokr_w1 = 1 and lokr_w2 = normal noise with the norm, mean and
 * standard deviation of the base weight W [out, in], times `scale`. Needs full lokr_w1 and lokr_w2. */
int lycoris_adapter_init_lokr_norm(Adapter *a, const float *W, float scale, uint64_t seed, const char *module, Err *e);

#endif
