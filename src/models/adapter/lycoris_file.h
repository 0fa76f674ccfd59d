/* lycoris_file.h — LyCORIS adapter files as LyCORIS (and SimpleTuner's lora_type=lycoris) write them
 * and ComfyUI, A1111-style UIs and LyCORIS read them.
 *
 * Keys: "<prefix>_<module path with '.' → '_'>.<tensor>", prefix "lycoris" by default, e.g.
 *   lycoris_transformer_blocks_0_attn_to_q.lokr_w1   [out_l, in_m]
 *   lycoris_transformer_blocks_0_attn_to_q.lokr_w2   [out_k, in_n]   (or lokr_w2_a / lokr_w2_b)
 *   lycoris_transformer_blocks_0_attn_to_q.alpha     0-dim
 * (LoHa: hada_w1_a, hada_w1_b, hada_w2_a, hada_w2_b; LoRA: lora_down.weight, lora_up.weight). The
 * metadata names the algorithm (ss_network_module "lycoris.kohya", ss_network_args {"algo": ...})
 * and carries the lycoris_config it was trained with (SimpleTuner's "lycoris_config" field).
 *
 * Reading resolves the flattened names against the model's module paths (the longest path that
 * ends the name; one prefix per file), accepts every LyCORIS kind per module, F32/F16/BF16 values,
 * and refuses what it cannot apply (Tucker/conv tensors, DoRA's dora_scale) by name. */
#ifndef ST_MODELS_LYCORIS_FILE_H
#define ST_MODELS_LYCORIS_FILE_H
#include "base/error.h"
#include "models/adapter/lycoris.h"
#include "tensor/dtype.h"

/* Writes the adapters (LyCORIS kinds) of modules[i] to path atomically. config_json: the
 * lycoris_config text for the metadata (NULL: none). */
int lycoris_save(const char *const *modules, const Adapter *const *ads, int n, const char *prefix, const char *config_json,
                 DType dt, const char *path, Err *e);

typedef struct LycorisFileModule {
    const char *module;      /* one of the known names */
    LycorisTensors t;
} LycorisFileModule;

/* 1 when the file is a LyCORIS file (LoKr or LoHa tensors, or SimpleTuner's lycoris_config
 * metadata), 0 when not, -1 on a read error. */
int lycoris_file_detect(const char *path, Err *e);
/* Every module of the file, resolved against known[] (the model's linear layers). A key naming no
 * module, a tensor that is not a LyCORIS one, a non-finite value: an error naming file and key. */
int lycoris_file_read(const char *path, const char *const *known, int n_known, LycorisFileModule **out, int *n, Err *e);
void lycoris_file_free(LycorisFileModule *v, int n);

#endif
