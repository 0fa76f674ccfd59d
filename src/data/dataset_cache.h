/* dataset_cache.h — the cache entries of a dataset sample (what the trainer looks up and stores):
 *   VAE latents   <cache_dir_vae of the set>/<edit image rel>.safetensors, one per edit image and per
 *                 reference (a reference's entry is named after the edit image it serves);
 *                 settings = model identity + the geometry (original, intermediary, crop box, target),
 *                 sources = the image file.
 *   text embeds   <text cache dir>/<dataset id>/<rel>.<caption hash>.safetensors: one per caption line;
 *                 settings = model identity + the caption, sources = the reference images the prompt
 *                 is encoded with (Qwen/LongCat edit encode the instruction WITH the references, as
 *                 read: their training crop does not enter).
 *   dropout       <text cache dir>/__caption_dropout__.safetensors: the empty caption.
 * `model` identifies everything that changes the numbers (family, flavour, weights' identity), e.g.
 * "qwen_image/edit-v2/vae=<hash>". */
#ifndef ST_DATASET_CACHE_H
#define ST_DATASET_CACHE_H
#include "data/cache.h"
#include "data/dataset.h"

typedef struct DataCacheKey {
    CacheKey key;                         /* points into the fields below */
    char *dir, *name, *settings;
    char *source[DATA_MAX_REFS];
} DataCacheKey;

/* VAE latent of the edit image (ref = -1) or of reference k (ref = k, 0-based in the sample's set
 * order) of item `item` of image set `set`. */
int data_vae_cache_key(const DataGroup *g, int set, int item, int ref, const char *model, DataCacheKey *out, Err *e);
/* Text embedding of `caption` for this sample, encoded with all of the item's references. */
int data_text_cache_key(const DataGroup *g, int set, int item, const char *caption, const char *text_dir,
                        const char *model, DataCacheKey *out, Err *e);
/* The empty-caption embedding used for caption dropout. */
void data_dropout_cache_key(const char *text_dir, const char *model, DataCacheKey *out);
void data_cache_key_free(DataCacheKey *k);

#endif
