/* sampler.h — the batch sampler: which samples make each training batch.
 *
 * Every batch comes from ONE bucket of ONE dataset (its images share a size, so latents stack).
 * An epoch is planned from (seed, epoch) alone:
 *   - per dataset and bucket, each item appears repeats+1 times, shuffled, cut into full batches of
 *     the dataset's batch size; the leftover partial batch is dropped and a bucket with fewer samples
 *     than min_bucket is pruned (SimpleTuner's under-filled bucket pruning) unless keep_small_buckets;
 *   - each dataset's batches are shuffled, then datasets are interleaved by weighted choice:
 *     weight = probability (uniform) or probability × batches left (auto-weighting).
 * So the whole sampler state is (epoch, position): save it in a checkpoint, restore it, and the run
 * continues with exactly the batches it would have seen. */
#ifndef ST_DATA_SAMPLER_H
#define ST_DATA_SAMPLER_H
#include <stdint.h>
#include "base/error.h"

typedef struct SamplerSource {
    const char *name;        /* dataset id, for messages */
    int n_items;
    const int *bucket;       /* bucket id of each item in [0, n_buckets), or -1 to leave it out */
    int n_buckets;
    int repeats;             /* seen repeats+1 times per epoch */
    double probability;      /* dataset weight; 0 = never sampled */
    int batch_size;
    int min_bucket;          /* a bucket with fewer samples (after repeats) is pruned; 0 = batch_size.
                                SimpleTuner uses the effective batch, batch size x grad accumulation */
    int keep_small_buckets;  /* disable_bucket_pruning: an under-filled bucket still gives batches,
                                its samples cycled to fill them */
} SamplerSource;

typedef enum { SAMPLING_AUTO_WEIGHTING = 0, SAMPLING_UNIFORM } SamplerWeighting;

typedef struct SamplerState {
    int64_t epoch;           /* starts at 1 */
    int64_t position;        /* batches already taken in this epoch */
} SamplerState;

typedef struct SamplerBatch {
    int64_t epoch;
    int dataset, bucket, n;
    const int *items;        /* n item indices of `dataset`; valid until the next sampler_next */
} SamplerBatch;

typedef struct Sampler {
    int n_src;
    SamplerSource *src;      /* copies; bucket arrays owned */
    uint64_t seed;
    SamplerWeighting weighting;
    SamplerState st;
    int64_t planned_epoch;   /* epoch the plan below belongs to (0 = none) */
    int n_batches;
    int *b_dataset, *b_bucket, *b_start, *b_n;
    int *items;
    int pruned_buckets;      /* buckets left out for having less than one batch (per epoch) */
} Sampler;

/* Fails (naming the datasets) when no dataset can fill a single batch. */
int sampler_init(Sampler *s, const SamplerSource *src, int n_src, uint64_t seed, SamplerWeighting w, Err *e);
void sampler_free(Sampler *s);
/* The next batch; rolls over to the next epoch at the end of one. */
void sampler_next(Sampler *s, SamplerBatch *b);
int sampler_batches_per_epoch(Sampler *s);
SamplerState sampler_state(const Sampler *s);
int sampler_restore(Sampler *s, SamplerState st, Err *e);
/* {"epoch": E, "position": P} (malloc'd) and back. */
char *sampler_state_to_json(SamplerState st);
int sampler_state_from_json(const char *json, SamplerState *st, Err *e);

/* conditioning_multidataset_sampling=random: which of n_refs references this sample uses this epoch
 * (a hash of the path and the epoch, like SimpleTuner). */
int sampler_pick_reference(uint64_t seed, int64_t epoch, const char *rel, int n_refs);

#endif
