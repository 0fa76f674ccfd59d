/* lora.h — LoRA files as the ecosystem writes and reads them.
 *
 * Saving (what diffusers' load_lora_weights and ComfyUI load identically): keys
 *   transformer.<module>.lora_A.weight [r, in]   transformer.<module>.lora_B.weight [out, r]
 * with the scale alpha/r folded into lora_B, no .alpha tensors, and the header field
 * lora_adapter_metadata = {"r": r, "lora_alpha": r, "target_modules": [...], ...} (scale 1 everywhere).
 *
 * Loading accepts: diffusers/PEFT (transformer. prefix, optional lora_adapter_metadata lora_alpha),
 * ComfyUI / bare / diffusion_model. prefixes, lora_up/lora_down and lora.up/lora.down names,
 * PEFT ".default" infixes, kohya "lora_unet_<module with underscores>" names (resolved against the
 * model's module list), and ".alpha" tensors (scale = alpha / r, as ComfyUI applies them). */
#ifndef ST_TRAIN_LORA_H
#define ST_TRAIN_LORA_H
#include "base/error.h"
#include "tensor/dtype.h"

typedef struct LoraModule {
    const char *name;      /* module name in diffusers naming, e.g. "transformer_blocks.0.attn.to_q" */
    int in, out, r;
    float scale;           /* alpha / r */
    const float *A, *B;    /* [r, in], [out, r] */
} LoraModule;

/* Writes mods to path atomically (dt: DT_F32 or DT_BF16). `prefix` is "transformer". */
int lora_save(const LoraModule *mods, int n, const char *prefix, DType dt, const char *path, Err *e);

typedef struct LoraEntry {
    char *module;          /* resolved module name */
    int in, out, r;
    float scale;           /* alpha / r (1 when no alpha is given) */
    float *A, *B;          /* owned */
} LoraEntry;

/* Reads every LoRA pair of a file; module names are resolved against known[] (the model's LoRA-able
 * modules). Unknown modules are an error naming the key; a file with no LoRA pair is an error. */
int lora_read(const char *path, const char *const *known, int n_known, LoraEntry **out, int *n, Err *e);
void lora_entries_free(LoraEntry *v, int n);

#endif
