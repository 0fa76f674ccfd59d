/* sampler.h — the batch sampler: which samples make each training batch.
 *
 * Every batch comes from ONE bucket of ONE dataset (its images share a size, so latents stack).
 * An epoch is planned from (seed, epoch) alone:
 *   - per dataset and bucket, each item appears repeats+1 times, shuffled, cut into full batches of
 *     the dataset's batch size; the leftover partial batch is dropped and a bucket with fewer samples
 *     than min_bucket is pruned (SimpleTuner's under-filled bucket pruning) unless keep_small_buckets;
 *   - each dataset's batches are shuffled, then datasets are interleaved by weighted choice:
 *     weight = probability (uniform) or probability × batches left (auto-weighting).
 *   - a dataset with a schedule (start_epoch/end_epoch, start_step/end_step) takes part only inside
 *     its window: epochs outside it plan none of its batches, and while interleaving, the batch at
 *     global position G belongs to optimizer step G / batches_per_step + 1, so only the datasets
 *     active at that step are candidates; the epoch ends when no active dataset has batches left
 *     (SimpleTuner's dataset_is_active rule: epoch >= start_epoch, step >= start_step,
 *     epoch <= end_epoch, step <= end_step, an unset end meaning no end).
 * So the whole sampler state is (epoch, position, batches before the epoch): save it in a checkpoint,
 * restore it, and the run continues with exactly the batches it would have seen. */
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
    /* schedule window (SimpleTuner's start_epoch/start_step/end_epoch/end_step); zeros = always.
       Epochs count from 1, steps are optimizer steps counted from 1. */
    int64_t start_epoch, start_step, end_epoch, end_step;   /* end_* <= 0: no end */
} SamplerSource;

typedef enum { SAMPLING_AUTO_WEIGHTING = 0, SAMPLING_UNIFORM } SamplerWeighting;

typedef struct SamplerState {
    int64_t epoch;           /* starts at 1 */
    int64_t position;        /* batches already taken in this epoch */
    int64_t before;          /* batches taken in the earlier epochs (-1 in a state read from a checkpoint
                                that predates it: sampler_restore replays the epochs to find it) */
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
    int batches_per_step;    /* micro-batches per optimizer step (gradient accumulation) */
    SamplerState st;
    int64_t planned_epoch;   /* epoch the plan below belongs to (0 = none) */
    int n_batches;
    int *b_dataset, *b_bucket, *b_start, *b_n;
    int *items;
    int pruned_buckets;      /* buckets left out for having less than one batch (per epoch) */
} Sampler;

/* Fails (naming the datasets) when no dataset can fill a single batch, when a schedule window is
 * inverted, or when no dataset is active at the first step of the first epoch.
 * batches_per_step: micro-batches per optimizer step (< 1 is taken as 1). */
int sampler_init(Sampler *s, const SamplerSource *src, int n_src, uint64_t seed, SamplerWeighting w, int batches_per_step,
                 Err *e);
void sampler_free(Sampler *s);
/* The next batch; rolls over to the next epoch at the end of one. Fails when the schedules leave
 * a step with no active dataset (the message names the step and the windows). */
int sampler_next(Sampler *s, SamplerBatch *b, Err *e);
/* 1 when dataset d takes part at this epoch and optimizer step (both from 1). */
int sampler_source_active(const SamplerSource *src, int64_t epoch, int64_t step);
int sampler_batches_per_epoch(Sampler *s);
SamplerState sampler_state(const Sampler *s);
int sampler_restore(Sampler *s, SamplerState st, Err *e);
/* {"epoch": E, "position": P, "before": B} (malloc'd) and back ("before" may be absent: -1). */
char *sampler_state_to_json(SamplerState st);
int sampler_state_from_json(const char *json, SamplerState *st, Err *e);

/* conditioning_multidataset_sampling=random: which of n_refs references this sample uses this epoch
 * (a hash of the path and the epoch, like SimpleTuner). */
int sampler_pick_reference(uint64_t seed, int64_t epoch, const char *rel, int n_refs);

#endif
