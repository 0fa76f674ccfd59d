/* caches.c — the datasets of a run and their caches: VAE latents of edit images and references,
 * prompt embeddings of every caption encoded with its references (and the caption-dropout
 * embedding), Qwen edit-v1's conditioning_image_embeds; where each cache lives, as SimpleTuner's
 * multidatabackend.json names it. */
#include "pipeline/pipeline_internal.h"
#include "base/files.h"
#include "base/rng.h"
#include "image/image_resize.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The cache folder of a text_embeds dataset: its cache_dir, else cache_dir_text when set, else
 * <cache_dir>/text/<family> (NULL t: the run's default text_embeds dataset, if any). */
static char *text_dir_of(const Pipeline *p, const DatasetConfig *t) {
    if (t && t->cache_dir && *t->cache_dir) return xstrdup(t->cache_dir);
    if (config_is_set(p->cfg, "cache_dir_text")) return xstrdup(config_str(p->cfg, "cache_dir_text"));
    const char *cache_dir = config_str(p->cfg, "cache_dir");
    return xasprintf("%s/text/%s", cache_dir && *cache_dir ? cache_dir : "cache", p->fam->name);
}

/* The run's default text_embeds dataset: the one marked "default", else the only one (config_datasets
 * refuses several without one default, as SimpleTuner does); NULL when there is none. */
static const DatasetConfig *default_text_embeds(const Pipeline *p) {
    const DatasetConfig *ds; int n = 0;
    config_datasets(p->cfg, &ds, &n);
    const DatasetConfig *pick = NULL;
    for (int i = 0; i < n; i++)
        if (!ds[i].disabled && !strcmp(ds[i].dataset_type, "text_embeds") && (!pick || ds[i].is_default)) pick = &ds[i];
    return pick;
}

/* A conditioning_image_embeds dataset's folder: its cache_dir, else the global cache_dir_vae when set
 * (SimpleTuner: backend.get("cache_dir", args.cache_dir_vae)); NULL when neither. */
static const char *cie_dir_of(const Pipeline *p, const DatasetConfig *c) {
    if (c->cache_dir && *c->cache_dir) return c->cache_dir;
    const char *global = config_str(p->cfg, "cache_dir_vae");
    return global && *global ? global : NULL;
}

/* Where the conditioning_image_embeds entries of a set's references go (one subfolder per reference
 * set): the set's cache_dir_conditioning_image_embeds, else the folder of the conditioning_image_embeds
 * dataset it names, else the same taken from its reference sets, else <cache_dir>/conditioning_image_embeds. */
static char *cie_dir_for(const Pipeline *p, const DatasetConfig *d) {
    const DatasetConfig *cand[1 + DATA_MAX_REFS] = {d};
    int nc = 1;
    for (int k = 0; k < d->n_conditioning_data && nc < 1 + DATA_MAX_REFS; k++) {
        const DatasetConfig *r = config_dataset_find(p->cfg, d->conditioning_data[k]);
        if (r) cand[nc++] = r;
    }
    for (int i = 0; i < nc; i++) {
        if (cand[i]->cache_dir_conditioning_image_embeds && *cand[i]->cache_dir_conditioning_image_embeds)
            return xstrdup(cand[i]->cache_dir_conditioning_image_embeds);
        const DatasetConfig *c = cand[i]->conditioning_image_embeds ? config_dataset_find(p->cfg, cand[i]->conditioning_image_embeds) : NULL;
        const char *dir = c ? cie_dir_of(p, c) : NULL;
        if (dir) return xstrdup(dir);
    }
    const char *cache_dir = config_str(p->cfg, "cache_dir");
    return xasprintf("%s/conditioning_image_embeds", cache_dir && *cache_dir ? cache_dir : "cache");
}

/* Each image set's embed caches as its text_embeds / conditioning_image_embeds ids select them (the
 * strings are kept in p->embed_dirs for the specs to point at). */
static void assign_embed_dirs(Pipeline *p) {
    for (int i = 0; i < p->n_embed_dirs; i++) free(p->embed_dirs[i]);
    free(p->embed_dirs);
    p->embed_dirs = xcalloc((size_t)(2 * p->data.n + 1), sizeof *p->embed_dirs);
    p->n_embed_dirs = 0;
    for (int i = 0; i < p->data.n; i++) {
        DatasetSpec *sp = &p->data.sets[i].spec;
        const DatasetConfig *d = config_dataset_find(p->cfg, sp->id);
        sp->text_cache_dir = sp->cie_cache_dir = NULL;
        if (!d || sp->is_conditioning) continue;
        if (d->text_embeds) {
            const DatasetConfig *t = config_dataset_find(p->cfg, d->text_embeds);
            sp->text_cache_dir = p->embed_dirs[p->n_embed_dirs++] = text_dir_of(p, t);
        }
        if (p->flavour->reference_embeds_cache) sp->cie_cache_dir = p->embed_dirs[p->n_embed_dirs++] = cie_dir_for(p, d);
    }
}

/* cache_dir_vae (global) is only where conditioning_image_embeds datasets without a cache_dir keep
 * their entries: say so when nothing uses it, since it reads like the VAE cache of every dataset. */
static void warn_unused_cache_dir_vae(Pipeline *p) {
    const char *global = config_str(p->cfg, "cache_dir_vae");
    if (!global || !*global) return;
    const DatasetConfig *ds; int n = 0;
    config_datasets(p->cfg, &ds, &n);
    for (int i = 0; p->flavour->reference_embeds_cache && i < n; i++)
        if (!ds[i].disabled && !strcmp(ds[i].dataset_type, "conditioning_image_embeds") && !(ds[i].cache_dir && *ds[i].cache_dir)) return;
    pipeline_emitf(p, PEV_WARNING, "cache_dir_vae %s is not used: as in SimpleTuner it is the folder of conditioning_image_embeds "
                                   "datasets without their own cache_dir; each dataset's VAE latents go to its cache_dir_vae "
                                   "(multidatabackend.json, default <cache_dir>/vae/<family>/<id>)", global);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A component's identity for cache keys: its folder and the size and modification time of every
 * file in it, so that weights replaced in place or another folder (pretrained_vae_model_name_or_path,
 * qwen_text_encoder_model_name_or_path) never reuse entries made with other weights. */
static uint64_t component_fingerprint(const Pipeline *p, const char *name) {
    const char *dir = model_dir_path(&p->md, name);
    if (!dir) return 0;
    uint64_t h = hash64(dir, strlen(dir), 0x636f6d70);
    DIR *d = opendir(dir);
    if (!d) return h;
    char **names = NULL; int n = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.') continue;
        names = xrealloc(names, (size_t)(n + 1) * sizeof *names);
        names[n++] = xstrdup(de->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 0; i < n; i++) {
        char *path = path_join(dir, names[i]);
        struct stat st;
        if (stat(path, &st) == 0) {
            int64_t v[2] = {(int64_t)st.st_size, (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec};
            h = hash64(names[i], strlen(names[i]), h);
            h = hash64(v, sizeof v, h);
        }
        free(path); free(names[i]);
    }
    free(names);
    return h;
}

static void cache_progress(void *ctx, int done, int total, double seconds) {
    pipeline_emit(ctx, &(PipelineEvent){.kind = PEV_CACHE_PROGRESS, .done = done, .total = total, .seconds = seconds,
                                        .message = "caching latents and prompt embeddings:"});
}

/* The datasets' summary (images found, skipped, pairs, buckets) as information events. */
static void emit_summary(Pipeline *p) {
    char *buf = NULL; size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return;
    data_summary_print(&p->data, f);
    fclose(f);
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) pipeline_emitf(p, PEV_INFO, "%s", line);
    free(buf);
}

int pipeline_fill_caches(Pipeline *p, CacheSummary *out, Err *e) {
    if (pipeline_load_data(p, 0, e)) return -1;
    emit_summary(p);
    /* more reference sets than the flavour's pipeline takes: say what training and validation use */
    for (int t = 0; t < p->data.n_train; t++) {
        const Dataset *d = &p->data.sets[p->data.train_set[t]];
        int refs = 0;
        for (int k = 0; k < d->n_cond; k++) refs += p->data.sets[d->cond[k]].spec.conditioning_type != COND_MASK;
        if (refs <= p->flavour->max_refs) continue;
        if (p->data.opt.multi_cond == MULTI_COND_COMBINED)
            pipeline_emitf(p, PEV_WARNING, "dataset \"%s\" has %d reference datasets and the %s flavour of %s takes %d reference%s: "
                           "training gives the transformer all %d (conditioning_multidataset_sampling=combined), validation the first %d",
                           d->spec.id, refs, p->flavour->name, p->fam->name, p->flavour->max_refs, p->flavour->max_refs == 1 ? "" : "s", refs,
                           p->flavour->max_refs);
    }
    free((char *)p->ed.model_id); free((char *)p->ed.text_dir); free(p->cie_dir);
    p->cie_dir = NULL;
    /* Everything that changes the cached numbers is in their identity: the text encoder, tokenizer and
     * processor (and the flavour's prompt template, and a quantised encoder's precision) for prompt
     * embeddings; the VAE, tiling (slightly other latents) and the run's seed (latents are drawn from
     * the VAE's distribution with it) for latents. */
    free((char *)p->ed.vae_id);
    char *model_id = xasprintf("%s/%s/%s#te-%016llx-%016llx-%016llx%s%s", p->fam->name, p->flavour->name, p->model_path,
                               (unsigned long long)component_fingerprint(p, "text_encoder"),
                               (unsigned long long)component_fingerprint(p, "tokenizer"),
                               (unsigned long long)(component_fingerprint(p, "processor") ^ component_fingerprint(p, "text_processor")),
                               p->text_precision != QUANT_NONE ? "#te-" : "", p->text_precision != QUANT_NONE ? quant_name(p->text_precision) : "");
    char *vae_id = xasprintf("%s/%s#vae-%016llx%s#seed-%llu", p->fam->name, p->model_path, (unsigned long long)component_fingerprint(p, "vae"),
                             p->vae.tiling.tile_px > 0 ? "#vae-tiled" : "", (unsigned long long)config_run_seed(p->cfg));
    assign_embed_dirs(p);
    warn_unused_cache_dir_vae(p);
    p->ed = (EditData){.group = &p->data, .vae = &p->vae, .resize = image_resize_lanczos, .encode_prompt = prompt_encoder_to_writer,
                       .encode_ctx = p->pe, .model_id = model_id, .vae_id = vae_id, .text_dir = text_dir_of(p, default_text_embeds(p)),
                       .seed = config_run_seed(p->cfg),
                       .progress = cache_progress, .progress_ctx = p, .par = p->par};
    if (p->flavour->reference_embeds_cache) {
        const char *cache_dir = config_str(p->cfg, "cache_dir");
        p->cie_dir = xasprintf("%s/conditioning_image_embeds", cache_dir && *cache_dir ? cache_dir : "cache");
        p->ed.cie_dir = p->cie_dir;
        p->ed.condition_pixels = prompt_encoder_condition_pixels;
        p->ed.encode_processed = prompt_encoder_processed_to_writer;
    }
    EditCacheStats cs;
    if (edit_data_cache_all(&p->ed, &cs, e)) return -1;
    pipeline_emitf(p, PEV_CACHE_DONE, "caches: %d VAE latents reused, %d computed; %d prompt embeddings reused, %d computed",
                   cs.vae_hit, cs.vae_built, cs.text_hit, cs.text_built);
    if (p->cie_dir) {
        const char *shown = p->cie_dir;   /* the first image set's folder (where its entries went) */
        for (int t = 0; t < p->data.n_train; t++)
            if (p->data.sets[p->data.train_set[t]].spec.cie_cache_dir) { shown = p->data.sets[p->data.train_set[t]].spec.cie_cache_dir; break; }
        pipeline_emitf(p, PEV_CACHE_DONE, "conditioning image embeds (%s): %d reused, %d computed", shown, cs.cie_hit, cs.cie_built);
    }
    if (out) *out = (CacheSummary){cs.vae_hit, cs.vae_built, cs.text_hit, cs.text_built, cs.cie_hit, cs.cie_built};
    return 0;
}

int pipeline_cache(Pipeline *p, CacheSummary *out, Err *e) { return pipeline_fill_caches(p, out, e); }
