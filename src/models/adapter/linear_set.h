/* linear_set.h — every linear layer of a transformer, as one list: what attaching adapters by
 * PEFT target names, quantising the frozen base, collecting trainable parameters and reading or
 * writing adapter files need, whatever the family. The model keeps its Linear structs; the set
 * points at them in the model's declared order (which is also each layer's id). */
#ifndef ST_MODELS_LINEAR_SET_H
#define ST_MODELS_LINEAR_SET_H
#include "base/error.h"
#include "models/adapter/linear_layer.h"
#include "models/adapter/lycoris_select.h"
#include "tensor/dtype.h"
#include "tensor/quant.h"

typedef struct LinearSet {
    Linear **l;
    int n, cap;
    QuantStorage *qs;     /* [n] packed base weights after linear_set_quantize (owned) */
    const StSet *mapped;  /* the checkpoint the base weights are mapped from (set by the family's load;
                           * NULL for weights in memory): quantising releases their pages */
    TrainParam *params;   /* adapter parameters, gathered by linear_set_params */
    int n_params;
    char *lycoris_meta;   /* the lycoris_config text saved with LyCORIS files (owned), or NULL */
    char lycoris_prefix[64];   /* their key prefix ("lycoris") */
    const char *model_class;   /* the transformer's diffusers class (LoRA files record it), or NULL */
} LinearSet;

void linear_set_add(LinearSet *s, Linear *l);   /* sets l->id to its position */
void linear_set_free(LinearSet *s);             /* adapters and quantised storage too (not the Linears) */
Linear *linear_set_find(const LinearSet *s, const char *module);

/* SimpleTuner's default LoRA targets (to_k, to_q, to_v, to_out.0, to_qkv), PEFT's suffix rule: a
 * module matches a target when its name equals it or ends with "." + target. */
int linear_matches_target(const char *module, const char *target);

typedef struct LoraSpec {
    int rank;
    float alpha;                   /* scale = alpha / rank */
    float dropout;                 /* lora_dropout */
    const char *const *targets;    /* NULL: the default targets */
    int n_targets;
    uint64_t seed;                 /* PEFT init of A, one stream per module name */
} LoraSpec;
/* Trainable LoRA adapters on every matching linear (replacing any adapters). Error (EXIT_USAGE)
 * naming the targets and example module names when nothing matches, or when rank < 1. */
int linear_set_attach_lora(LinearSet *s, const LoraSpec *spec, Err *e);
void linear_set_clear_adapters(LinearSet *s);
int linear_set_n_adapters(const LinearSet *s);
/* 1 when some adapter draws random numbers in training (PEFT input dropout, LyCORIS module/rank/output
 * dropout): a training forward then needs a dropout seed. */
int linear_set_has_dropout(const LinearSet *s);

/* lora_type=lycoris: adapters on the layers the lycoris_config selects (lycoris_select.h), with
 * LyCORIS' init from the seed (one stream per module), replacing any. `m` gives the family's class
 * names (its names/n fields are filled here). *counts receives the adapted layers per algorithm
 * (LYCO_LORA, LYCO_LOHA, LYCO_LOKR) when non-NULL. */
int linear_set_attach_lycoris(LinearSet *s, const LycorisConfig *c, LycorisModel m, uint64_t seed, int counts[3], Err *e);
/* init_lora with lora_type=lycoris (SimpleTuner's create_lycoris_from_weights): trainable adapters
 * made from a LyCORIS file — its modules, kinds, shapes and values — at this multiplier, replacing
 * any; c (may be NULL) gives the saved files' metadata and key prefix. */
int linear_set_init_lycoris(LinearSet *s, const char *path, float multiplier, const LycorisConfig *c, Err *e);
/* SimpleTuner's init_lokr_norm on every LoKr adapter (lycoris.h). */
int linear_set_init_lokr_norm(LinearSet *s, float scale, uint64_t seed, Err *e);
/* The LyCORIS multiplier of every LyCORIS adapter (validation_lycoris_strength). */
void linear_set_lycoris_multiplier(LinearSet *s, float multiplier);

/* Quantises every frozen base weight in place (base_model_precision), tensor by tensor; weights
 * mapped from s->mapped have their checkpoint pages released as they are packed (quant.h). */
int linear_set_quantize(LinearSet *s, QuantKind k, Err *e);

/* The adapters' trainable parameters in layer order (pointer valid until adapters change). */
const TrainParam *linear_set_params(LinearSet *s, int *n);

/* Adapter files, by kind: LoRA (models/adapter/lora_file.h: diffusers/PEFT, ComfyUI, kohya keys) or
 * LyCORIS (lycoris_file.h: LoKr, LoHa, LoRA under "lycoris_..." keys), told apart by their keys:
 *   save       the attached adapters, atomically (LoRA: scale folded into lora_B; LyCORIS: its own
 *              state dict); dt F32 or BF16
 *   load       adapters for inference from a file of either kind, replacing any (strength multiplies
 *              each delta); a key naming no module of this model is an error listing it
 *   init_from  init_lora with standard LoRA: the attached trainable adapters start from a LoRA
 *              file's weights (ranks must match; the file's scale is carried into B so the initial
 *              delta equals the file's); a LyCORIS file is an error pointing at lora_type=lycoris */
int linear_set_save_adapters(const LinearSet *s, const char *path, DType dt, Err *e);
int linear_set_load_adapters(LinearSet *s, const char *path, float strength, Err *e);
int linear_set_init_adapters(LinearSet *s, const char *path, Err *e);

#endif
