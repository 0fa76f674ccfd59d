/* model_size.h — the sizes init-model writes a model folder at, and what it is asked for
 * (models/model_init.h writes it; each family's hooks in models/family.h build their configs). */
#ifndef ST_MODELS_MODEL_SIZE_H
#define ST_MODELS_MODEL_SIZE_H
#include <stdint.h>

typedef enum { SIZE_TINY, SIZE_SMALL, SIZE_FULL } ModelSize;

typedef struct ModelInitSpec {
    const char *family, *flavour;   /* a family of models/family.h; a flavour of it */
    ModelSize size;
    const char *out;                /* folder (created; files of the same names are replaced) */
    uint64_t seed;                  /* same seed, same bytes */
    const char *tokenizer_dir;      /* SIZE_FULL: the real tokenizer/ folder to copy */
    int weights;                    /* SIZE_FULL: also write random weights */
    int layers;                     /* transformer blocks (LongCat: double blocks); 0 = the size's */
    int single_layers;              /* LongCat single blocks; 0 = 2 × layers when layers is set */
    int text_layers;                /* text encoder depth (language layers and vision blocks); 0 = the size's */
    const char *const *sets;        /* "component.key=value" config overrides, applied before the weights are */
    int n_sets;                     /* drawn (component: transformer, vae, text_encoder, processor, scheduler) */
} ModelInitSpec;

#endif
