/* checkpoint.h — output_dir/checkpoint-<step>/ directories: written complete or not at all, rotated,
 * and found again for resume_from_checkpoint.
 *
 * Layout (SimpleTuner's names where it has them):
 *   checkpoint-<step>/pytorch_lora_weights.safetensors   written by the model's callback
 *   checkpoint-<step>/optimizer.safetensors              optim_state_save
 *   checkpoint-<step>/ema_model.safetensors              ema_state_save (with use_ema)
 *   checkpoint-<step>/<name>.bin                         opaque blobs: RNG, sampler state, …
 *   checkpoint-<step>/training_state.json                {"global_step", "epoch_step", "epoch",
 *                                                          "exhausted_backends": [..], "repeats": {..}}
 * Atomicity: everything is written into checkpoint-<step>.tmp.<pid>/, every file and the directory are
 * fsynced, then the directory is renamed to checkpoint-<step> and output_dir is fsynced. A directory
 * named exactly checkpoint-<digits> is therefore complete; *.tmp.* leftovers of a crash are ignored
 * and removed. Re-saving an existing step moves the old one aside (checkpoint-<step>.old.<pid>) until
 * the new one is in place; a crash in between leaves the old one, which the next scan puts back.
 * Rotation renames a checkpoint to checkpoint-<step>.del.<pid> before deleting it. Leftovers
 * (.tmp., .old., .del.) are cleaned only when their pid is not a live run of this program. */
#ifndef ST_TRAIN_CHECKPOINT_H
#define ST_TRAIN_CHECKPOINT_H
#include <stddef.h>
#include <stdint.h>
#include "base/error.h"
#include "train/ema.h"
#include "train/optim.h"

#define CKPT_LORA_FILE      "pytorch_lora_weights.safetensors"
/* model_type=full: the whole transformer as diffusers' save_pretrained writes it (with config.json) */
#define CKPT_FULL_FILE      "transformer/diffusion_pytorch_model.safetensors"
#define CKPT_OPTIMIZER_FILE "optimizer.safetensors"
#define CKPT_EMA_FILE       "ema_model.safetensors"
#define CKPT_STATE_FILE     "training_state.json"

typedef struct TrainingState {
    int64_t global_step, epoch_step, epoch;
    int n_exhausted;
    char **exhausted_backends;  /* dataset ids exhausted in the current epoch */
    int n_repeats;
    char **repeat_ids;          /* dataset id → repeats already served */
    int64_t *repeat_counts;
} TrainingState;
void training_state_free(TrainingState *ts);
int training_state_write(const char *dir, const TrainingState *ts, Err *e);
/* Missing keys take SimpleTuner's defaults (global_step 0, epoch_step 0, epoch 1); wrong types are errors. */
int training_state_read(const char *dir, TrainingState *ts, Err *e);

/* One piece of a checkpoint: writes its file(s) into dir (the temporary directory). */
typedef int (*CheckpointWriteFn)(void *ctx, const char *dir, Err *e);
typedef struct CheckpointPart {
    const char *what;           /* for messages: "LoRA weights", "optimizer", … */
    CheckpointWriteFn write;
    void *ctx;
} CheckpointPart;

/* Ready-made parts. The blob part's ctx is a CheckpointBlob. */
CheckpointPart checkpoint_part_optimizer(const Optimizer *o);
CheckpointPart checkpoint_part_ema(const Ema *m);
typedef struct CheckpointBlob { const char *name; const void *data; size_t len; } CheckpointBlob;
CheckpointPart checkpoint_part_blob(const CheckpointBlob *b);

/* Writes output_dir/checkpoint-<ts->global_step>/ from the parts plus training_state.json, then (only
 * once it is complete) removes the oldest other checkpoints beyond total_limit (<= 0: keep all).
 * *out_path (optional) receives the final directory (malloc'd). */
int checkpoint_save(const char *output_dir, const TrainingState *ts, const CheckpointPart *parts, int n_parts,
                    int total_limit, char **out_path, Err *e);

/* Removes the lowest checkpoints (never keep_step) until total_limit remain (<= 0: keep all); each is
 * renamed to checkpoint-<step>.del.<pid> before its files are deleted, so a kill never leaves a half
 * checkpoint under a name resume would pick. checkpoint_save calls it; a run calls it once more at
 * its end, for a rotation that a kill interrupted at the last step. */
int checkpoint_rotate(const char *output_dir, int64_t keep_step, int total_limit, Err *e);

/* Complete checkpoints in output_dir, sorted by step ascending; also cleans crash leftovers.
 * Returns the count (0 when output_dir does not exist), or -1 with e set. */
int checkpoint_list(const char *output_dir, int64_t **steps, Err *e);
/* resume_from_checkpoint: NULL or "" → no resume (*dir = NULL); "latest" → the highest complete
 * checkpoint, or none; anything else → that directory (as given, or inside output_dir), which must
 * be complete. *dir is malloc'd. */
int checkpoint_resolve(const char *output_dir, const char *resume, char **dir, Err *e);

/* Loading the ready-made parts back. */
int checkpoint_load_optimizer(const char *dir, Optimizer *o, Err *e);
int checkpoint_load_ema(const char *dir, Ema *m, Err *e);
/* Reads <dir>/<name>.bin (malloc'd, *len bytes). */
void *checkpoint_read_blob(const char *dir, const char *name, size_t *len, Err *e);

#endif
