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
#include "base/error.h"

typedef enum { SIZE_TINY, SIZE_SMALL, SIZE_FULL } ModelSize;

typedef struct ModelInitSpec {
    const char *family, *flavour;   /* qwen_image | longcat_image; a flavour of it */
    ModelSize size;
    const char *out;                /* folder (created; files of the same names are replaced) */
    uint64_t seed;                  /* same seed, same bytes */
    const char *tokenizer_dir;      /* SIZE_FULL: the real tokenizer/ folder to copy */
    int weights;                    /* SIZE_FULL: also write random weights */
    int layers;                     /* transformer blocks (LongCat: double blocks); 0 = the size's */
    int single_layers;              /* LongCat single blocks; 0 = 2 × layers when layers is set */
    int text_layers;                /* text encoder depth (language layers and vision blocks); 0 = the size's */
} ModelInitSpec;

int model_init_write(const ModelInitSpec *s, Err *e);
/* 1 when dir is absent or has no entries. */
int model_init_dir_is_empty(const char *dir);

#endif
