/* dataset.h — the training data of a run: every image dataset with its captions, buckets and
 * references, and the batch sampler over them (spec §2.3, §4).
 *
 * data_load does, per dataset: discover images → decode each (size + integrity; a corrupt file is
 * skipped and counted, or fails the load when `strict`) → captions → geometry (bucket, resize, crop)
 * → pairing with every conditioning dataset it lists (reference_strict: the reference gets the edit
 * image's intermediary size and crop box; reference_loose: its own bucket) → sampler.
 * Problems a user must fix (missing caption files, missing or ambiguous pairs) come back as ONE
 * error that lists them, instead of failing on the first. */
#ifndef ST_DATASET_H
#define ST_DATASET_H
#include <stdint.h>
#include <stdio.h>
#include "base/error.h"
#include "data/buckets.h"
#include "data/captions.h"
#include "image/image.h"
#include "data/pairing.h"
#include "data/batch_sampler.h"

/* COND_MASK: a loss mask paired and cropped like reference_strict; never a model input. */
typedef enum { COND_NONE = 0, COND_REFERENCE_STRICT, COND_REFERENCE_LOOSE, COND_MASK } ConditioningType;
typedef enum { MULTI_COND_RANDOM = 0, MULTI_COND_COMBINED } MultiCondSampling;

#define DATA_MAX_REFS 8

/* One dataset as data_load needs it (plain values; data_specs_from_config builds these). */
typedef struct DatasetSpec {
    const char *id;
    const char *instance_data_dir;
    int disabled;
    int is_conditioning;                  /* dataset_type conditioning */
    int is_eval;                          /* dataset_type eval, or named by eval_dataset_id: loaded and
                                             paired for validation, never sampled for training */
    ConditioningType conditioning_type;
    const char *const *conditioning_data; /* ids of the conditioning sets an image set uses */
    int n_conditioning_data;
    CaptionSpec captions;
    BucketParams buckets;
    int repeats;
    double probability;
    int batch_size;
    double caption_dropout_probability;
    double timestep_sampling_offset;      /* added to the logit-normal draw of this set's samples */
    const char *cache_dir_vae;
    int64_t start_epoch, start_step;      /* the set is sampled from this epoch and optimizer step on (1, 0) */
    int64_t end_epoch, end_step;          /* ... up to and including these (0: no end) */
    int max_num_samples;                  /* > 0: a fixed subset of this many of the discovered files, chosen
                                             from the dataset id (same subset on every run), before filtering */
    int disable_validation;               /* validation never takes its samples from this set */
    int scan_for_errors;                  /* cached latents of this set are also checked for their shape and
                                             finite values when reused (a bad one is recomputed) */
    const char *text_cache_dir;           /* prompt embeddings of this set's captions (NULL: the run's default) */
    const char *cie_cache_dir;            /* its references' conditioning_image_embeds (NULL: the run's default) */
} DatasetSpec;

typedef struct DataOptions {
    uint64_t seed;
    int strict;                           /* a corrupt/unreadable image fails the load */
    MultiCondSampling multi_cond;         /* conditioning_multidataset_sampling */
    SamplerWeighting weighting;           /* data_backend_sampling */
    int gradient_accumulation_steps;      /* buckets with fewer samples than batch x this are pruned */
    int disable_bucket_pruning;           /* keep them (their samples cycle to fill batches) */
    int report_only;                      /* `dataset inspect`: problems (missing captions or pairs, no full
                                             batch) skip the items and are collected in DataGroup.problems
                                             instead of failing the load */
    int validation_only;                  /* validate: the eval samples are read, nothing is trained; no
                                             dataset to train on is not an error (no sampler then) */
} DataOptions;

typedef struct DataRef {
    int item;                             /* index in the conditioning dataset's items */
    SampleGeometry geom;                  /* how that reference is resized and cropped for this sample */
} DataRef;

typedef struct DataItem {
    char *rel;                            /* relative path, extension included */
    SampleGeometry geom;
    int bucket;                           /* index in the dataset's bucket table; -1 for references */
    CaptionList captions;
    DataRef refs[DATA_MAX_REFS];          /* one per conditioning dataset (image sets only) */
} DataItem;

typedef struct DataSkip { char *rel, *reason; } DataSkip;

typedef struct Dataset {
    DatasetSpec spec;                     /* shallow copy: the strings belong to the caller */
    int n_found;                          /* images discovered */
    int n_items;
    DataItem *items;
    int n_skipped;
    DataSkip *skipped;
    int n_missing_captions;
    int n_buckets;
    int (*bucket_wh)[2];                  /* W, H of each bucket, sorted */
    int *bucket_count;
    int n_cond;
    int cond[DATA_MAX_REFS];              /* indices (in DataGroup.sets) of its conditioning sets */
    PairStats pair[DATA_MAX_REFS];
    int source;                           /* conditioning sets: the image set using them, else -1 */
    int captions_replace;                 /* reference sets with their own captions, drawn in random mode by
                                             an image set with two or more references: a sample that draws
                                             this set trains on the reference's caption (SimpleTuner's
                                             collate: conditioning captions replace the edit captions only
                                             then); an empty one falls back to the edit caption */
} Dataset;

typedef struct DataGroup {
    int n;
    Dataset *sets;
    DataOptions opt;
    int n_train;                          /* image sets fed to the sampler (eval sets are not) */
    int train_set[64];                    /* sampler source index -> set index */
    Sampler sampler;                      /* absent (src NULL) when report_only found nothing to sample */
    char *problems;                       /* report_only: the errors a training run would stop with */
} DataGroup;

int data_load(const DatasetSpec *specs, int n, const DataOptions *opt, DataGroup *out, Err *e);
void data_free(DataGroup *g);
/* Absolute path of an item (malloc'd). */
char *data_item_path(const DataGroup *g, int set, int item);

/* One training sample of a batch: what the trainer (and the caches) need to know. */
typedef struct DataSample {
    int set, item;
    const char *rel;
    const char *caption;                  /* "" when dropped or absent; the reference's own caption when its
                                             set has captions_replace */
    int caption_dropped;
    int n_refs;                           /* all references (combined) or one (random); masks excluded */
    int ref_set[DATA_MAX_REFS];           /* index of the reference's dataset in DataGroup.sets */
    int ref_slot[DATA_MAX_REFS];          /* its position k in the image set's conditioning list */
    const DataRef *ref[DATA_MAX_REFS];
    int mask_slot;                        /* conditioning slot of the item's loss mask, -1 when none */
} DataSample;

typedef struct DataBatch {
    int64_t epoch;
    int set, bucket, n;
    int width, height;                    /* the bucket's size */
    DataSample *samples;                  /* n entries, valid until the next data_next_batch */
    int cap;
} DataBatch;

/* Fails only when the dataset schedules leave an optimizer step without data. */
int data_next_batch(DataGroup *g, DataBatch *b, Err *e);
void data_batch_free(DataBatch *b);

/* Where the pixels of a sample come from: the edit image (ref = -1) or its reference k — the
 * dataset that owns the file, the file's path relative to that dataset's folder, and the geometry
 * (original size, resize, crop) the sample trains at. Pointers into g, valid while g lives. */
typedef struct DataSource {
    const Dataset *owner;
    const char *rel;
    const SampleGeometry *geom;
} DataSource;
int data_sample_source(const DataGroup *g, int set, int item, int ref, DataSource *out, Err *e);

/* A resampler: src -> w x h in out. */
typedef int (*DataResizeFn)(const Image *src, int w, int h, Image *out, Err *e);
/* The pixels a sample trains on: the edit image (ref = -1) or its reference k, decoded, resized to
 * the intermediary size and cropped to the bucket size (out is target_w x target_h RGB).
 * resize NULL = PIL-exact LANCZOS (image_resize_lanczos), what SimpleTuner's bucket resize uses. */
int data_sample_image(const DataGroup *g, int set, int item, int ref, DataResizeFn resize, Image *out, Err *e);

/* Per dataset: images found, skipped (with reasons), pairing status and the bucket table. */
void data_summary_print(const DataGroup *g, FILE *f);
/* The same as JSON: {"datasets": [{id, instance_data_dir, kind, disabled, conditioning_type, source, found,
 * used, skipped_count, missing_captions, skipped: [{file, reason}], pairs: [{with, same_path,
 * other_extension, missing, unused_references, missing_files}], buckets: [{width, height, images,
 * pruned}], ...}], "problems", "batches_per_epoch"}; lists hold at most max_list entries. */
struct cJSON;
struct cJSON *data_summary_json(DataGroup *g, int max_list);   /* g: the sampler plans its epoch */

#endif
