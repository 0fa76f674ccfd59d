#include "pipeline/edit_data.h"
#include "train/flow_objective.h"
#include "base/interrupt.h"
#include "base/files.h"
#include "base/temp_files.h"
#include "data/dataset_cache.h"
#include "image/image_io.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void image_to_chw(const Image *im, float *out) {
    size_t hw = (size_t)im->width * im->height;
    for (size_t p = 0; p < hw; p++)
        for (int c = 0; c < 3; c++) out[c * hw + p] = im->data[p * im->channels + (im->channels >= 3 ? c : 0)] / 127.5f - 1.0f;
}

/* Index of the conditioning set `set_index` among dataset d's references. */
static int ref_slot(const Dataset *d, int set_index) {
    for (int k = 0; k < d->n_cond; k++) if (d->cond[k] == set_index) return k;
    return -1;
}

static int slot_is_mask(const DataGroup *g, int set, int slot) {
    return slot >= 0 && g->sets[g->sets[set].cond[slot]].spec.conditioning_type == COND_MASK;
}

/* A mask set's entry: the loss weights m/2 + 0.5 of its first channel in [-1, 1], area-resized to
 * the latent grid (the image already has the edit image's bucket and crop). */
static int build_mask_entry(const Image *im, const DataCacheKey *k, Err *e) {
    int H = im->height, W = im->width, h = H / 8, w = W / 8;
    float *m = xmalloc((size_t)H * W * sizeof(float)), *wt = xmalloc((size_t)h * w * sizeof(float));
    for (size_t i = 0; i < (size_t)H * W; i++) m[i] = im->data[i * im->channels] / 127.5f - 1.0f;
    flow_mask_weights(m, H, W, h, w, wt);
    StWriter wr; stw_init(&wr);
    int64_t shape[2] = {h, w};
    stw_add_f32(&wr, "mask_weights", 2, shape, wt);
    int rc = cache_store(&k->key, &wr, e);
    stw_free(&wr); free(m); free(wt);
    return rc;
}

static int build_vae_entry(EditData *d, int set, int item, int ref, const DataCacheKey *k, Err *e) {
    Image im = {0};
    if (data_sample_image(d->group, set, item, ref, d->resize, &im, e)) return -1;
    if (im.width % 16 || im.height % 16) {
        int w = im.width, h = im.height;
        image_free(&im);
        return err_set(e, "%s: the sample is %dx%d; VAE latents need multiples of 16 (check resolution and aspect_bucket_alignment)", k->source[0], w, h);
    }
    if (slot_is_mask(d->group, set, ref)) { int rc = build_mask_entry(&im, k, e); image_free(&im); return rc; }
    float *px = xmalloc((size_t)3 * im.width * im.height * sizeof(float));
    image_to_chw(&im, px);
    int C = vae_latent_channels(d->vae), h = im.height / 8, w = im.width / 8;
    float *lat = xmalloc((size_t)C * h * w * sizeof(float));
    Rng rng;
    rng_seed(&rng, hash64(k->name, strlen(k->name), d->seed ^ 0x5a5a));
    int rc = vae_encode(d->vae, px, im.height, im.width, VAE_LATENT_SAMPLE, &rng, lat, e);
    if (!rc) {
        StWriter wr; stw_init(&wr);
        int64_t shape[3] = {C, h, w};
        stw_add_f32(&wr, "latents", 3, shape, lat);
        rc = cache_store(&k->key, &wr, e);
        stw_free(&wr);
    }
    free(lat); free(px); image_free(&im);
    return rc;
}

static int lookup(const CacheKey *k, StFile *f, int *hit, Err *e) {
    CacheStatus st;
    char why[256] = "";
    if (cache_lookup(k, f, &st, why, sizeof why, e)) return -1;
    *hit = st == CACHE_HIT;
    if (st == CACHE_CORRUPT) log_warn("cache entry %s/%s is corrupt (%s); recomputing", k->dir, k->name, why);
    return 0;
}

static int ensure_vae(EditData *d, int set, int item, int ref, EditCacheStats *s, Err *e) {
    DataCacheKey k;
    if (data_vae_cache_key(d->group, set, item, ref, d->vae_id, &k, e)) return -1;
    StFile f; int hit = 0;
    int rc = lookup(&k.key, &f, &hit, e);
    if (!rc && hit) { st_close(&f); s->vae_hit++; }
    else if (!rc) { rc = build_vae_entry(d, set, item, ref, &k, e); s->vae_built += !rc; }
    data_cache_key_free(&k);
    return rc;
}

/* The item's reference images as decoded (orientation applied), for the prompt encoder. */
static int load_refs(EditData *d, int set, int item, Image *refs, int *n, Err *e) {
    const Dataset *ds = &d->group->sets[set];
    *n = 0;
    for (int k = 0; k < ds->n_cond; k++) {
        if (slot_is_mask(d->group, set, k)) continue;   /* a loss mask is not shown to the text encoder */
        const Dataset *c = &d->group->sets[ds->cond[k]];
        char *p = path_join(c->spec.instance_data_dir, c->items[ds->items[item].refs[k].item].rel);
        int rc = image_read(p, &refs[*n], e);
        free(p);
        if (rc) { for (int j = 0; j < *n; j++) image_free(&refs[j]); return -1; }
        (*n)++;
    }
    return 0;
}

/* Names where a caption came from when its embedding cannot be made (e.g. a prompt too long for the
 * model): the caption file, the image (filename strategy) or the dataset's instance_prompt. */
typedef struct CaptionOrigin { const Dataset *ds; int item; } CaptionOrigin;   /* ds NULL: not a dataset caption */
static int caption_error(CaptionOrigin o, Err *e) {
    if (!o.ds) return -1;
    const Dataset *ds = o.ds;
    int item = o.item;
    const CaptionSpec *c = &ds->spec.captions;
    const char *root = ds->spec.instance_data_dir, *rel = ds->items[item].rel;
    if (c->only_instance_prompt || c->strategy == CAPTION_INSTANCEPROMPT)
        return err_prefix(e, "instance_prompt of dataset \"%s\"", ds->spec.id);
    char *origin = c->strategy == CAPTION_TEXTFILE ? caption_file_path(root, rel) : path_join(root, rel);
    err_prefix(e, "%s%s", origin, c->strategy == CAPTION_TEXTFILE ? "" : " (caption from the file name)");
    free(origin);
    return -1;
}

static int build_text(EditData *d, const CacheKey *k, const char *prompt, const Image *refs, int n, CaptionOrigin o, Err *e) {
    StWriter w; stw_init(&w);
    int rc = d->encode_prompt(d->encode_ctx, prompt, refs, n, &w, e);
    if (rc) caption_error(o, e);
    if (!rc && !stw_find(&w, "prompt_embeds")) rc = err_set(e, "the prompt encoder produced no prompt_embeds");
    if (!rc) rc = cache_store(k, &w, e);
    stw_free(&w);
    return rc;
}

/* The conditioning_image_embeds entry of reference slot k of an item: looked up, built when missing
 * or stale, and read back (pixel values owned by *pix). */
static int ensure_cie(EditData *d, int set, int item, int k, float **pix, ConditionPixels *out, EditCacheStats *s, Err *e) {
    const Dataset *ds = &d->group->sets[set], *c = &d->group->sets[ds->cond[k]];
    const char *rel = c->items[ds->items[item].refs[k].item].rel;
    char *dir = path_join(d->cie_dir, c->spec.id), *src = path_join(c->spec.instance_data_dir, rel);
    char *settings = xasprintf("conditioning_image_embeds %s", d->model_id);
    const char *sources[1] = {src};
    CacheKey key = {dir, rel, sources, 1, settings};
    StFile f; int hit = 0;
    int rc = lookup(&key, &f, &hit, e);
    if (!rc && !hit) {
        Image im = {0};
        StWriter w; stw_init(&w);
        rc = image_read(src, &im, e);
        if (!rc) rc = d->condition_pixels(d->encode_ctx, &im, &w, e);
        if (!rc) rc = cache_store(&key, &w, e);
        stw_free(&w); image_free(&im);
        s->cie_built += !rc;
        if (!rc) { rc = lookup(&key, &f, &hit, e); if (!rc && !hit) rc = err_set(e, "%s/%s: cache entry unreadable right after writing", dir, rel); }
    } else if (!rc) s->cie_hit++;
    if (!rc) {
        const StTensor *pv = st_find(&f, "pixel_values"), *g = st_find(&f, "image_grid_thw");
        int64_t grid[3] = {0}, rows = 1;
        int ok = pv && g && g->numel == 3 && g->dtype == DT_I64 && pv->ndim == 2;
        if (ok) memcpy(grid, g->data, sizeof grid);
        for (int j = 0; ok && j < 3; j++) { ok = grid[j] >= 1 && grid[j] <= (1 << 20); rows *= ok ? grid[j] : 1; }
        if (!ok || rows != pv->shape[0])   /* the vision tower reads grid rows of pixel values */
            rc = err_set(e, "%s: not a conditioning_image_embeds entry (pixel_values [rows, values] with rows = the product "
                         "of image_grid_thw): delete it to recompute it", f.path);
        else {
            *pix = st_to_f32(pv);
            memcpy(out->grid, grid, sizeof grid);
            out->values = pv->shape[1];
        }
        st_close(&f);
    }
    free(dir); free(src); free(settings);
    return rc;
}

/* The prompt embedding from prepared references (edit-v1 with conditioning_image_embeds). */
static int build_text_cie(EditData *d, int set, int item, const CacheKey *k, const char *caption, CaptionOrigin o, Err *e) {
    EditCacheStats s = {0};   /* edit_data_cache_all counted these entries already */
    const Dataset *ds = &d->group->sets[set];
    ConditionPixels imgs[DATA_MAX_REFS];
    float *pix[DATA_MAX_REFS] = {0};
    int n = 0, rc = 0;
    for (int r = 0; r < ds->n_cond && !rc; r++) {
        if (slot_is_mask(d->group, set, r)) continue;
        rc = ensure_cie(d, set, item, r, &pix[n], &imgs[n], &s, e);
        if (!rc) { imgs[n].pixel_values = pix[n]; n++; }
    }
    StWriter w; stw_init(&w);
    if (!rc && (rc = d->encode_processed(d->encode_ctx, caption, imgs, n, &w, e))) caption_error(o, e);
    if (!rc && !stw_find(&w, "prompt_embeds")) rc = err_set(e, "the prompt encoder produced no prompt_embeds");
    if (!rc) rc = cache_store(k, &w, e);
    stw_free(&w);
    for (int i = 0; i < n; i++) free(pix[i]);
    return rc;
}

static int ensure_text(EditData *d, int set, int item, const char *caption, CaptionOrigin o, EditCacheStats *s, Err *e) {
    DataCacheKey k;
    if (data_text_cache_key(d->group, set, item, caption, d->text_dir, d->model_id, &k, e)) return -1;
    StFile f; int hit = 0;
    int rc = lookup(&k.key, &f, &hit, e);
    if (!rc && hit) { st_close(&f); s->text_hit++; }
    else if (!rc && d->cie_dir) {
        rc = build_text_cie(d, set, item, &k.key, caption, o, e);
        s->text_built += !rc;
    } else if (!rc) {
        Image refs[DATA_MAX_REFS]; int n = 0;
        rc = load_refs(d, set, item, refs, &n, e);
        if (!rc) rc = build_text(d, &k.key, caption, refs, n, o, e);
        for (int j = 0; j < n; j++) image_free(&refs[j]);
        s->text_built += !rc;
    }
    data_cache_key_free(&k);
    return rc;
}

static int ensure_dropout(EditData *d, EditCacheStats *s, Err *e) {
    DataCacheKey k;
    data_dropout_cache_key(d->text_dir, d->model_id, &k);
    StFile f; int hit = 0;
    int rc = lookup(&k.key, &f, &hit, e);
    if (!rc && hit) { st_close(&f); s->text_hit++; }
    else if (!rc) {
        Image black = {224, 224, 3, xcalloc(224 * 224 * 3, 1)};
        rc = build_text(d, &k.key, "", &black, 1, (CaptionOrigin){0}, e);
        image_free(&black);
        s->text_built += !rc;
    }
    data_cache_key_free(&k);
    return rc;
}

/* Cache entries are written as <entry>.tmp.<pid> and renamed: the temps of killed runs are removed
 * from every cache directory of this run before it adds to them. */
static int clean_cache_temps(const EditData *d, Err *e) {
    const DataGroup *g = d->group;
    int total = 0;
    for (int i = -2; i < g->n; i++) {
        const char *dir = i == -2 ? d->text_dir : i == -1 ? d->cie_dir : g->sets[i].spec.cache_dir_vae;
        int removed = 0;
        if (!dir || !*dir) continue;
        if (temp_files_clean(dir, 1, &removed, e)) return -1;
        total += removed;
    }
    if (total) log_warn("removed %d unfinished cache entr%s left by killed runs", total, total == 1 ? "y" : "ies");
    return 0;
}

/* One pass over every training sample; with size > 1, this rank builds only the samples i with
 * i % size == rank (the others are counted as done). */
static int cache_pass(EditData *d, EditCacheStats *s, int rank, int size, Err *e) {
    DataGroup *g = d->group;
    int total = 0, done = 0;
    for (int t = 0; t < g->n_train; t++) total += g->sets[g->train_set[t]].n_items;
    int need_dropout = 0;
    struct timespec t0; clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int t = 0; t < g->n_train; t++) {
        int set = g->train_set[t];
        const Dataset *ds = &g->sets[set];
        if (ds->spec.caption_dropout_probability > 0) need_dropout = 1;
        for (int i = 0; i < ds->n_items; i++) {
            if (size > 1 && done % size != rank) { done++; continue; }
            if (ensure_vae(d, set, i, -1, s, e)) return err_prefix(e, "caching dataset \"%s\"", ds->spec.id);
            for (int r = 0; r < ds->n_cond; r++)
                if (ensure_vae(d, set, i, r, s, e)) return err_prefix(e, "caching dataset \"%s\"", ds->spec.id);
            for (int r = 0; d->cie_dir && r < ds->n_cond; r++) {
                if (slot_is_mask(d->group, set, r)) continue;
                float *pix = NULL; ConditionPixels cp;
                if (ensure_cie(d, set, i, r, &pix, &cp, s, e)) return err_prefix(e, "caching dataset \"%s\"", ds->spec.id);
                free(pix);
            }
            const CaptionList *cl = &ds->items[i].captions;
            CaptionOrigin own = {ds, i};
            if (cl->n == 0 && ensure_text(d, set, i, "", (CaptionOrigin){0}, s, e)) return err_prefix(e, "caching dataset \"%s\"", ds->spec.id);
            for (int c = 0; c < cl->n; c++)
                if (ensure_text(d, set, i, cl->text[c], own, s, e)) return err_prefix(e, "caching dataset \"%s\"", ds->spec.id);
            for (int r = 0; r < ds->n_cond; r++) {   /* references whose captions replace the edit caption */
                const Dataset *c = &g->sets[ds->cond[r]];
                if (!c->captions_replace) continue;
                const CaptionList *rl = &c->items[ds->items[i].refs[r].item].captions;
                for (int j = 0; j < rl->n; j++)
                    if (rl->text[j][0] && ensure_text(d, set, i, rl->text[j], (CaptionOrigin){c, ds->items[i].refs[r].item}, s, e))
                        return err_prefix(e, "caching dataset \"%s\"", ds->spec.id);
            }
            done++;
            if (interrupt_take()) {   /* Ctrl-C while caching: every finished entry is kept */
                interrupt_release();
                return err_set(e, "interrupted while caching (%d of %d samples cached; rerun to continue)", done, total);
            }
            if (d->progress) {
                struct timespec t1; clock_gettime(CLOCK_MONOTONIC, &t1);
                d->progress(d->progress_ctx, done, total, (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec));
            }
        }
    }
    if (need_dropout && rank == 0 && ensure_dropout(d, s, e)) return err_prefix(e, "caching the caption-dropout embedding");
    return 0;
}

int edit_data_cache_all(EditData *d, EditCacheStats *s, Err *e) {
    memset(s, 0, sizeof *s);
    const Parallel *par = d->par;
    const int rank = par ? par->rank : 0, size = par ? par->size : 1;
    if (rank == 0 && clean_cache_temps(d, e)) return -1;
    if (size > 1 && parallel_barrier(par, e)) return -1;   /* no rank writes before the leftovers are gone */
    if (cache_pass(d, s, rank, size, e)) return -1;
    if (size < 2) return 0;
    /* the misses were split across ranks: sum what each built, then every rank checks every entry */
    double v[6] = {s->vae_hit, s->vae_built, s->text_hit, s->text_built, s->cie_hit, s->cie_built};
    if (parallel_sum_doubles(par, v, 6, e) || parallel_barrier(par, e)) return -1;
    EditCacheStats check;
    memset(&check, 0, sizeof check);
    if (cache_pass(d, &check, 0, 1, e)) return -1;
    if (check.vae_built || check.text_built || check.cie_built)
        return err_set(e, "caching: %d entries were missing after every rank finished (are the ranks on one file system?)",
                       check.vae_built + check.text_built + check.cie_built);
    *s = (EditCacheStats){check.vae_hit - (int)v[1], (int)v[1], check.text_hit - (int)v[3], (int)v[3], check.cie_hit - (int)v[5], (int)v[5]};
    return 0;
}

/* ---- the SampleSource over the caches ---- */

/* The named tensor of a cache entry as f32, with want_nd dims each in 1..2^24 (the sizes the trainer
 * then takes as ints; an entry is checksummed, but a hand-made one must not be read out of bounds). */
static float *read_tensor(EditData *d, const CacheKey *k, const char *name, int want_nd, int64_t *shape, int *ndim, Err *e) {
    StFile f; int hit = 0;
    if (lookup(k, &f, &hit, e)) return NULL;
    if (!hit) { err_set(e, "cache entry %s/%s is missing or stale after caching (was the cache changed during the run?)", k->dir, k->name); return NULL; }
    const StTensor *t = st_find(&f, name);
    float *out = NULL;
    int ok_shape = t && t->ndim == want_nd;
    for (int i = 0; ok_shape && i < t->ndim; i++) ok_shape = t->shape[i] >= 1 && t->shape[i] <= (1 << 24);
    if (!t) err_set(e, "%s: cache entry has no '%s' tensor", f.path, name);
    else if (!ok_shape) err_set(e, "%s: cache entry tensor '%s' has %d dims (expected %d, each of size 1..16777216): delete the entry to recompute it",
                                f.path, name, t->ndim, want_nd);
    else {
        out = st_to_f32(t);
        *ndim = t->ndim;
        for (int i = 0; i < t->ndim; i++) shape[i] = t->shape[i];
        d->owned = xrealloc(d->owned, (size_t)(d->n_owned + 1) * sizeof *d->owned);
        d->owned[d->n_owned++] = out;
    }
    st_close(&f);
    return out;
}

static void release(EditData *d) {
    for (int i = 0; i < d->n_owned; i++) free(d->owned[i]);
    d->n_owned = 0;
}

static int load_sample(EditData *d, const DataSample *s, TrainSample *out, Err *e) {
    memset(out, 0, sizeof *out);
    const Dataset *ds = &d->group->sets[s->set];
    DataCacheKey k;
    int64_t shape[ST_MAX_DIMS]; int nd = 0;
    if (data_vae_cache_key(d->group, s->set, s->item, -1, d->vae_id, &k, e)) return -1;
    out->x0 = read_tensor(d, &k.key, "latents", 3, shape, &nd, e);
    data_cache_key_free(&k);
    if (!out->x0) return -1;
    out->c = (int)shape[0]; out->h = (int)shape[1]; out->w = (int)shape[2];
    if (s->n_refs > DENOISE_MAX_IMAGES - 1) return err_set(e, "dataset \"%s\": %d references per sample; at most %d are supported", ds->spec.id, s->n_refs, DENOISE_MAX_IMAGES - 1);
    for (int j = 0; j < s->n_refs; j++) {
        int slot = ref_slot(ds, s->ref_set[j]);
        if (data_vae_cache_key(d->group, s->set, s->item, slot, d->vae_id, &k, e)) return -1;
        out->refs[j] = read_tensor(d, &k.key, "latents", 3, shape, &nd, e);
        data_cache_key_free(&k);
        if (!out->refs[j]) return -1;
        out->ref_h[j] = (int)shape[1]; out->ref_w[j] = (int)shape[2];
    }
    out->n_refs = s->n_refs;
    if (s->mask_slot >= 0) {
        if (data_vae_cache_key(d->group, s->set, s->item, s->mask_slot, d->vae_id, &k, e)) return -1;
        out->mask = read_tensor(d, &k.key, "mask_weights", 2, shape, &nd, e);
        data_cache_key_free(&k);
        if (!out->mask) return -1;
        if (nd != 2 || shape[0] != out->h || shape[1] != out->w)
            return err_set(e, "dataset \"%s\": the mask of %s is %lldx%lld latent cells, the edit image %dx%d", ds->spec.id, s->rel,
                           (long long)shape[1], (long long)shape[0], out->w, out->h);
    }
    if (s->caption_dropped) data_dropout_cache_key(d->text_dir, d->model_id, &k);
    else if (data_text_cache_key(d->group, s->set, s->item, s->caption ? s->caption : "", d->text_dir, d->model_id, &k, e)) return -1;
    out->txt = read_tensor(d, &k.key, "prompt_embeds", 2, shape, &nd, e);
    data_cache_key_free(&k);
    if (!out->txt) return -1;
    out->txt_len = (int)shape[0]; out->txt_dim = (int)shape[1];
    out->timestep_offset = ds->spec.timestep_sampling_offset;
    return 0;
}

static int src_next(void *self, TrainSample *samples, int cap, int *n, Err *e) {
    EditData *d = self;
    release(d);
    if (data_next_batch(d->group, &d->batch, e)) return -1;
    *n = d->batch.n < cap ? d->batch.n : cap;
    for (int i = 0; i < *n; i++)
        if (load_sample(d, &d->batch.samples[i], &samples[i], e)) return -1;
    return 0;
}

static char *src_save(void *self) { return sampler_state_to_json(sampler_state(&((EditData *)self)->group->sampler)); }

static int src_load(void *self, const char *txt, Err *e) {
    SamplerState st;
    if (sampler_state_from_json(txt, &st, e)) return -1;
    return sampler_restore(&((EditData *)self)->group->sampler, st, e);
}

static int64_t src_epoch(void *self) { return sampler_state(&((EditData *)self)->group->sampler).epoch; }

SampleSource edit_data_source(EditData *d) { return (SampleSource){d, src_next, src_save, src_load, src_epoch}; }

void edit_data_free(EditData *d) {
    release(d);
    free(d->owned);
    d->owned = NULL;
    data_batch_free(&d->batch);
}
