/* edit_data.h — the training samples of an edit run: the datasets (src/data) joined with the
 * caches of VAE latents and prompt embeddings, computed once and reused.
 *
 * edit_data_cache_all() fills every missing or stale cache entry before training: the VAE latents
 * of each edit image and each of its references (resized and cropped to the sample's geometry,
 * encoded with a per-file seeded draw from the latent distribution, as SimpleTuner caches
 * .sample()), the prompt embedding of each caption line encoded WITH the item's reference images,
 * and the caption-dropout embedding (empty prompt, one black 224x224 image). The SampleSource then
 * serves batches from the caches only. */
#ifndef ST_TRAIN_EDIT_DATA_H
#define ST_TRAIN_EDIT_DATA_H
#include "data/dataset.h"
#include "image/image.h"
#include "models/vae/vae.h"
#include "tensor/safetensors.h"
#include "train/parallel.h"
#include "train/trainer.h"

/* Encodes one prompt with its reference images; adds "prompt_embeds" [L, D] F32 to out. */
typedef int (*PromptEncodeFn)(void *ctx, const char *prompt, const Image *refs, int n_refs, StWriter *out, Err *e);

/* Qwen edit-v1's conditioning_image_embeds cache: a reference prepared for the text encoder once
 * (the pipeline's resize + the VL processor) and reused by every caption of every image it serves. */
typedef struct ConditionPixels {
    const float *pixel_values;   /* [grid[0]·grid[1]·grid[2], values] */
    int64_t grid[3];
    int64_t values;              /* values per row (3·temporal_patch·patch²), checked by the encoder */
} ConditionPixels;
/* Adds "pixel_values" [rows, values] F32 and "image_grid_thw" [3] I64 for one reference to out. */
typedef int (*ConditionPixelsFn)(void *ctx, const Image *ref, StWriter *out, Err *e);
/* As PromptEncodeFn from prepared references. */
typedef int (*PromptEncodeProcessedFn)(void *ctx, const char *prompt, const ConditionPixels *refs, int n_refs, StWriter *out,
                                       Err *e);

typedef struct EditData {
    DataGroup *group;
    const Vae *vae;
    DataResizeFn resize;
    PromptEncodeFn encode_prompt;
    void *encode_ctx;
    const char *model_id;     /* everything that changes cached prompt embeddings (text encoder identity, flavour, precision) */
    const char *vae_id;       /* everything that changes cached latents (VAE identity, tiling, the run's seed) */
    const char *text_dir;     /* text embed cache directory */
    uint64_t seed;
    /* after each cached sample (may be NULL): done of total, seconds since caching started */
    void (*progress)(void *ctx, int done, int total, double seconds);
    void *progress_ctx;
    const Parallel *par;      /* data-parallel ranks: cache misses split across them (NULL: one process) */
    /* conditioning_image_embeds (NULL cie_dir: off): entries in <cie_dir>/<reference set id>/<rel> */
    const char *cie_dir;
    ConditionPixelsFn condition_pixels;
    PromptEncodeProcessedFn encode_processed;
    /* batch state (owned) */
    DataBatch batch;
    int n_owned;
    float **owned;            /* buffers handed out with the last batch */
} EditData;

typedef struct EditCacheStats { int vae_hit, vae_built, text_hit, text_built, cie_hit, cie_built; } EditCacheStats;

int edit_data_cache_all(EditData *d, EditCacheStats *stats, Err *e);
/* The SampleSource over the caches (d must outlive it). */
SampleSource edit_data_source(EditData *d);
void edit_data_free(EditData *d);

/* Pixels [0, 255] RGB → f32 [3, H, W] in [-1, 1] (ToTensor + Normalize(0.5, 0.5)). */
void image_to_chw(const Image *im, float *out);

#endif
