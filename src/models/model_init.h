/* model_init.h — a model folder in the diffusers layout with seeded random weights (the
 * init-model command and the tiny.* presets): model_index.json, transformer/, vae/, text_encoder/,
 * tokenizer/, processor/ (LongCat: text_processor/), scheduler/, read back by the same loader
 * real checkpoints take.
 *   SIZE_TINY   the dims of the bundled test models (about 1 MB)
 *   SIZE_SMALL  wider and deeper (dim 128, 4 blocks; text encoder width 64): seconds per step, enough
 *               capacity to overfit a few edit pairs
 *   SIZE_FULL   the published architectures; weights only when asked (tens of GB), tokenizer copied
 *               from the real tokenizer folder
 * tiny and small use a generated vocabulary (qwen25vl/tiny_tokenizer.h). */
#ifndef ST_MODELS_MODEL_INIT_H
#define ST_MODELS_MODEL_INIT_H
#include <stdint.h>
#include <cjson/cJSON.h>
#include "base/error.h"
#include "models/model_size.h"

int model_init_write(const ModelInitSpec *s, Err *e);
/* "_class_name" and "_diffusers_version" of a config.json (the family builders' shared header). */
void model_init_config_header(cJSON *j, const char *class_name);

/* 1 when dir is absent or has no entries. */
int model_init_dir_is_empty(const char *dir);

#endif
