#include "data/batch_sampler.h"
#include "base/rng.h"
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void shuffle(int *a, int n, Rng *r) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(r, (uint64_t)i + 1);
        int t = a[i]; a[i] = a[j]; a[j] = t;
    }
}

static void plan_free(Sampler *s) {
    free(s->b_dataset); free(s->b_bucket); free(s->b_start); free(s->b_n); free(s->items);
    s->b_dataset = s->b_bucket = s->b_start = s->b_n = s->items = NULL;
    s->n_batches = 0; s->planned_epoch = 0;
}

/* Stream ids: one per (epoch, dataset, bucket) so changing one dataset leaves the others' order alone. */
static uint64_t stream_id(int64_t epoch, int d, int b) {
    return (uint64_t)epoch * 0x9e3779b97f4a7c15ull ^ (uint64_t)(d + 1) * 0xc2b2ae3d27d4eb4full ^ (uint64_t)(b + 2) * 0x165667b19e3779f9ull;
}

int sampler_source_active(const SamplerSource *src, int64_t epoch, int64_t step) {
    if (epoch < src->start_epoch || step < src->start_step) return 0;
    if (src->end_epoch > 0 && epoch > src->end_epoch) return 0;
    if (src->end_step > 0 && step > src->end_step) return 0;
    return 1;
}

/* A dataset whose window includes this epoch at some step. */
static int in_epoch(const SamplerSource *src, int64_t epoch) {
    return epoch >= src->start_epoch && (src->end_epoch <= 0 || epoch <= src->end_epoch);
}

/* Plans epoch `epoch`, whose first batch is the run's batch number `before` (from 0). */
static void plan_epoch(Sampler *s, int64_t epoch, int64_t before) {
    plan_free(s);
    size_t total_items = 0;
    for (int d = 0; d < s->n_src; d++) total_items += (size_t)s->src[d].n_items * (s->src[d].repeats + 1);
    s->items = xmalloc(sizeof(int) * (total_items + 1));
    int cap = 16;
    int *bd = xmalloc(sizeof(int) * cap), *bb = xmalloc(sizeof(int) * cap), *bs = xmalloc(sizeof(int) * cap), *bn = xmalloc(sizeof(int) * cap);
    int nb = 0, pruned = 0;
    size_t used = 0;
    int *first = xcalloc((size_t)s->n_src + 1, sizeof(int));   /* first batch index of each dataset */
    for (int d = 0; d < s->n_src; d++) {
        const SamplerSource *src = &s->src[d];
        first[d] = nb;
        if (src->probability <= 0 || !in_epoch(src, epoch)) continue;
        int *tmp = xmalloc(sizeof(int) * ((size_t)src->n_items * (src->repeats + 1) + 1));
        for (int b = 0; b < src->n_buckets; b++) {
            int m = 0;
            for (int r = 0; r <= src->repeats; r++)
                for (int i = 0; i < src->n_items; i++) if (src->bucket[i] == b) tmp[m++] = i;
            if (m == 0) continue;
            int min_bucket = src->min_bucket > src->batch_size ? src->min_bucket : src->batch_size;
            int small = m < min_bucket;
            if (small && !src->keep_small_buckets) { pruned++; continue; }
            Rng rng; rng_seed_stream(&rng, s->seed, stream_id(epoch, d, b));
            shuffle(tmp, m, &rng);
            int n_full = m / src->batch_size, n_batches = small ? (m + src->batch_size - 1) / src->batch_size : n_full;
            if (n_batches > n_full) { /* kept small bucket: cycle its samples to fill the last batch */
                size_t need = (size_t)n_batches * src->batch_size;
                tmp = xrealloc(tmp, sizeof(int) * (need + (size_t)src->n_items * (src->repeats + 1) + 1));
                for (size_t k = (size_t)m; k < need; k++) tmp[k] = tmp[k % (size_t)m];
                m = (int)need;
                s->items = xrealloc(s->items, sizeof(int) * (total_items + need + 1));
                total_items += need;
            }
            for (int k = 0; k + src->batch_size <= m; k += src->batch_size) {
                if (nb == cap) {
                    cap *= 2;
                    bd = xrealloc(bd, sizeof(int) * cap); bb = xrealloc(bb, sizeof(int) * cap);
                    bs = xrealloc(bs, sizeof(int) * cap); bn = xrealloc(bn, sizeof(int) * cap);
                }
                memcpy(s->items + used, tmp + k, sizeof(int) * src->batch_size);
                bd[nb] = d; bb[nb] = b; bs[nb] = (int)used; bn[nb] = src->batch_size;
                used += (size_t)src->batch_size; nb++;
            }
        }
        free(tmp);
    }
    first[s->n_src] = nb;
    /* shuffle each dataset's batches (whole batches, so buckets mix), then interleave datasets */
    int *order = xmalloc(sizeof(int) * (nb + 1));
    for (int i = 0; i < nb; i++) order[i] = i;
    for (int d = 0; d < s->n_src; d++) {
        Rng rng; rng_seed_stream(&rng, s->seed, stream_id(epoch, d, -1));
        shuffle(order + first[d], first[d + 1] - first[d], &rng);
    }
    int *next = xmalloc(sizeof(int) * (s->n_src + 1));
    for (int d = 0; d < s->n_src; d++) next[d] = first[d];
    Rng mix; rng_seed_stream(&mix, s->seed, stream_id(epoch, -1, -1));
    s->b_dataset = xmalloc(sizeof(int) * (nb + 1)); s->b_bucket = xmalloc(sizeof(int) * (nb + 1));
    s->b_start = xmalloc(sizeof(int) * (nb + 1)); s->b_n = xmalloc(sizeof(int) * (nb + 1));
    int planned = 0;
    for (int k = 0; k < nb; k++) {
        int64_t step = (before + k) / s->batches_per_step + 1;
        double total = 0;
        for (int d = 0; d < s->n_src; d++) {
            int left = first[d + 1] - next[d];
            if (left > 0 && sampler_source_active(&s->src[d], epoch, step))
                total += s->src[d].probability * (s->weighting == SAMPLING_UNIFORM ? 1.0 : left);
        }
        if (total <= 0) break;   /* no active dataset has batches left: the epoch ends here */
        double u = rng_uniform(&mix) * total, acc = 0;
        int pick = -1;
        for (int d = 0; d < s->n_src; d++) {
            int left = first[d + 1] - next[d];
            if (left <= 0 || !sampler_source_active(&s->src[d], epoch, step)) continue;
            pick = d;   /* last candidate catches rounding at the top end */
            acc += s->src[d].probability * (s->weighting == SAMPLING_UNIFORM ? 1.0 : left);
            if (u < acc) break;
        }
        int j = order[next[pick]++];
        s->b_dataset[k] = bd[j]; s->b_bucket[k] = bb[j]; s->b_start[k] = bs[j]; s->b_n[k] = bn[j];
        planned++;
    }
    free(bd); free(bb); free(bs); free(bn); free(order); free(next); free(first);
    s->n_batches = planned;
    s->pruned_buckets = pruned;
    s->planned_epoch = epoch;
}

/* Normalises a window as SimpleTuner does (start_epoch >= 1, start_step >= 0, an end below 1 is no
 * end) and checks it is not inverted. */
static int window_check(SamplerSource *src, Err *e) {
    if (src->start_epoch < 1) src->start_epoch = 1;
    if (src->start_step < 0) src->start_step = 0;
    if (src->end_epoch < 0) src->end_epoch = 0;
    if (src->end_step < 0) src->end_step = 0;
    if (src->end_epoch && src->end_epoch < src->start_epoch)
        return err_setc(e, EXIT_USAGE, "dataset \"%s\": end_epoch %" PRId64 " is before start_epoch %" PRId64, src->name,
                        src->end_epoch, src->start_epoch);
    if (src->end_step && src->end_step < src->start_step)
        return err_setc(e, EXIT_USAGE, "dataset \"%s\": end_step %" PRId64 " is before start_step %" PRId64, src->name,
                        src->end_step, src->start_step);
    return 0;
}

/* "a" (epochs 2-, steps 100-300), ...: the windows, for messages. */
static void windows_list(const Sampler *s, char *out, size_t cap) {
    size_t k = 0;
    out[0] = 0;
    for (int d = 0; d < s->n_src && k + 96 < cap; d++) {
        const SamplerSource *x = &s->src[d];
        k += (size_t)snprintf(out + k, cap - k, "%s\"%s\" (epochs %" PRId64 "-", d ? ", " : "", x->name, x->start_epoch);
        if (x->end_epoch) k += (size_t)snprintf(out + k, cap - k, "%" PRId64, x->end_epoch);
        k += (size_t)snprintf(out + k, cap - k, ", steps %" PRId64 "-", x->start_step > 1 ? x->start_step : 1);
        if (x->end_step) k += (size_t)snprintf(out + k, cap - k, "%" PRId64, x->end_step);
        k += (size_t)snprintf(out + k, cap - k, ")");
    }
}

int sampler_init(Sampler *s, const SamplerSource *src, int n_src, uint64_t seed, SamplerWeighting w, int batches_per_step,
                 Err *e) {
    memset(s, 0, sizeof *s);
    s->n_src = n_src;
    s->src = xcalloc((size_t)n_src + 1, sizeof *s->src);
    for (int d = 0; d < n_src; d++) {
        s->src[d] = src[d];
        s->src[d].bucket = NULL;
        if (src[d].batch_size <= 0) { sampler_free(s); return err_setc(e, EXIT_USAGE, "dataset \"%s\": batch size %d must be positive", src[d].name, src[d].batch_size); }
        if (src[d].repeats < 0) { sampler_free(s); return err_setc(e, EXIT_USAGE, "dataset \"%s\": repeats %d must be >= 0", src[d].name, src[d].repeats); }
        if (window_check(&s->src[d], e)) { sampler_free(s); return -1; }
        int *b = xmalloc(sizeof(int) * ((size_t)src[d].n_items + 1));
        if (src[d].n_items) memcpy(b, src[d].bucket, sizeof(int) * src[d].n_items);
        s->src[d].bucket = b;
    }
    s->seed = seed;
    s->weighting = w;
    s->batches_per_step = batches_per_step > 1 ? batches_per_step : 1;
    s->st.epoch = 1;
    int starts = 0;
    for (int d = 0; d < n_src; d++) starts += sampler_source_active(&s->src[d], 1, 1);
    if (!starts) {
        char win[1024];
        windows_list(s, win, sizeof win);
        sampler_free(s);
        return err_setc(e, EXIT_USAGE, "no dataset is active at the first step: %s; give at least one dataset start_epoch <= 1 "
                                       "and start_step <= 1", win);
    }
    plan_epoch(s, 1, 0);
    if (s->n_batches == 0) {
        char names[1024] = "";
        size_t k = 0;
        for (int d = 0; d < n_src && k < sizeof names - 64; d++) {
            if (!sampler_source_active(&s->src[d], 1, 1)) continue;
            k += (size_t)snprintf(names + k, sizeof names - k, "%s\"%s\" (%d images, batch size %d)", k ? ", " : "",
                                  src[d].name, src[d].n_items, src[d].batch_size);
        }
        sampler_free(s);
        return err_setc(e, EXIT_USAGE, "no bucket holds a full batch in any dataset%s: %s; lower train_batch_size, add images or raise repeats",
                        starts < n_src ? " active at the first step" : "", names);
    }
    return 0;
}

void sampler_free(Sampler *s) {
    plan_free(s);
    for (int d = 0; d < s->n_src; d++) free((void *)s->src[d].bucket);
    free(s->src);
    memset(s, 0, sizeof *s);
}

static void ensure_plan(Sampler *s) {
    if (s->planned_epoch != s->st.epoch) plan_epoch(s, s->st.epoch, s->st.before);
}

int sampler_next(Sampler *s, SamplerBatch *b, Err *e) {
    ensure_plan(s);
    if (s->st.position >= s->n_batches) {
        s->st.before += s->n_batches;
        s->st.epoch++; s->st.position = 0;
        plan_epoch(s, s->st.epoch, s->st.before);
        if (s->n_batches == 0) {
            char win[1024];
            windows_list(s, win, sizeof win);
            return err_setc(e, EXIT_USAGE, "no dataset has a batch for optimizer step %" PRId64 " (epoch %" PRId64 "): the dataset "
                            "schedules leave a gap: %s", s->st.before / s->batches_per_step + 1, s->st.epoch, win);
        }
    }
    int k = (int)s->st.position++;
    b->epoch = s->st.epoch;
    b->dataset = s->b_dataset[k]; b->bucket = s->b_bucket[k]; b->n = s->b_n[k];
    b->items = s->items + s->b_start[k];
    return 0;
}

int sampler_batches_per_epoch(Sampler *s) {
    ensure_plan(s);
    return s->n_batches;
}

SamplerState sampler_state(const Sampler *s) { return s->st; }

int sampler_restore(Sampler *s, SamplerState st, Err *e) {
    if (st.epoch < 1 || st.position < 0)
        return err_set(e, "sampler state epoch %" PRId64 " position %" PRId64 ": expected epoch >= 1 and position >= 0", st.epoch, st.position);
    if (st.before < 0) {   /* a state without it: the epochs before are replayed (plans are pure functions) */
        st.before = 0;
        for (int64_t ep = 1; ep < st.epoch; ep++) { plan_epoch(s, ep, st.before); st.before += s->n_batches; }
    }
    s->st = st;
    plan_epoch(s, st.epoch, st.before);
    if (st.position > s->n_batches)
        return err_set(e, "sampler state position %" PRId64 " is past the %d batches of epoch %" PRId64 " (the datasets changed since the checkpoint?)",
                       st.position, s->n_batches, st.epoch);
    return 0;
}

char *sampler_state_to_json(SamplerState st) {
    return xasprintf("{\"epoch\": %" PRId64 ", \"position\": %" PRId64 ", \"before\": %" PRId64 "}", st.epoch, st.position,
                     st.before);
}

int sampler_state_from_json(const char *json, SamplerState *st, Err *e) {
    cJSON *j = cJSON_Parse(json);
    const cJSON *ep = j ? cJSON_GetObjectItemCaseSensitive(j, "epoch") : NULL;
    const cJSON *po = j ? cJSON_GetObjectItemCaseSensitive(j, "position") : NULL;
    const cJSON *bf = j ? cJSON_GetObjectItemCaseSensitive(j, "before") : NULL;
    if (!cJSON_IsNumber(ep) || !cJSON_IsNumber(po) || (bf && !cJSON_IsNumber(bf))) {
        cJSON_Delete(j);
        return err_set(e, "sampler state: expected {\"epoch\": N, \"position\": N, \"before\": N}");
    }
    st->epoch = (int64_t)ep->valuedouble; st->position = (int64_t)po->valuedouble;
    st->before = bf ? (int64_t)bf->valuedouble : -1;
    cJSON_Delete(j);
    return 0;
}

int sampler_pick_reference(uint64_t seed, int64_t epoch, const char *rel, int n_refs) {
    if (n_refs <= 1) return 0;
    uint64_t h = hash64(rel, strlen(rel), seed ^ ((uint64_t)epoch * 0x9e3779b97f4a7c15ull) ^ 0x5EFu);
    return (int)(h % (uint64_t)n_refs);
}
