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

/* Where prompt embeddings are cached: the cache_dir of the default text_embeds dataset, else
 * cache_dir_text when set, else <cache_dir>/text/<family>. */
static char *text_cache_dir(const Pipeline *p) {
    const DatasetConfig *ds; int n = 0;
    config_datasets(p->cfg, &ds, &n);
    const DatasetConfig *pick = NULL;
    for (int i = 0; i < n; i++)
        if (ds[i].dataset_type && !strcmp(ds[i].dataset_type, "text_embeds") && !ds[i].disabled && ds[i].cache_dir && *ds[i].cache_dir)
            if (!pick || ds[i].is_default) pick = &ds[i];
    if (pick) return xstrdup(pick->cache_dir);
    if (config_is_set(p->cfg, "cache_dir_text")) return xstrdup(config_str(p->cfg, "cache_dir_text"));
    const char *cache_dir = config_str(p->cfg, "cache_dir");
    return xasprintf("%s/text/%s", cache_dir && *cache_dir ? cache_dir : "cache", p->fam->name);
}

/* Where conditioning_image_embeds entries go: the cache_dir of a conditioning_image_embeds dataset,
 * else a dataset's cache_dir_conditioning_image_embeds, else <cache_dir>/conditioning_image_embeds;
 * one subfolder per reference dataset. */
static char *cie_cache_dir(const Pipeline *p) {
    const DatasetConfig *ds; int n = 0;
    config_datasets(p->cfg, &ds, &n);
    for (int i = 0; i < n; i++)
        if (!ds[i].disabled && ds[i].dataset_type && !strcmp(ds[i].dataset_type, "conditioning_image_embeds") && ds[i].cache_dir && *ds[i].cache_dir)
            return xstrdup(ds[i].cache_dir);
    for (int i = 0; i < n; i++)
        if (!ds[i].disabled && ds[i].cache_dir_conditioning_image_embeds && *ds[i].cache_dir_conditioning_image_embeds)
            return xstrdup(ds[i].cache_dir_conditioning_image_embeds);
    const char *cache_dir = config_str(p->cfg, "cache_dir");
    return xasprintf("%s/conditioning_image_embeds", cache_dir && *cache_dir ? cache_dir : "cache");
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
    if (pipeline_load_data(p, e)) return -1;
    emit_summary(p);
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
    p->ed = (EditData){.group = &p->data, .vae = &p->vae, .resize = image_resize_lanczos, .encode_prompt = prompt_encoder_to_writer,
                       .encode_ctx = p->pe, .model_id = model_id, .vae_id = vae_id, .text_dir = text_cache_dir(p),
                       .seed = config_run_seed(p->cfg),
                       .progress = cache_progress, .progress_ctx = p, .par = p->par};
    if (p->flavour->reference_embeds_cache) {
        p->cie_dir = cie_cache_dir(p);
        p->ed.cie_dir = p->cie_dir;
        p->ed.condition_pixels = prompt_encoder_condition_pixels;
        p->ed.encode_processed = prompt_encoder_processed_to_writer;
    }
    EditCacheStats cs;
    if (edit_data_cache_all(&p->ed, &cs, e)) return -1;
    pipeline_emitf(p, PEV_CACHE_DONE, "caches: %d VAE latents reused, %d computed; %d prompt embeddings reused, %d computed",
                   cs.vae_hit, cs.vae_built, cs.text_hit, cs.text_built);
    if (p->cie_dir) pipeline_emitf(p, PEV_CACHE_DONE, "conditioning image embeds (%s): %d reused, %d computed", p->cie_dir, cs.cie_hit, cs.cie_built);
    if (out) *out = (CacheSummary){cs.vae_hit, cs.vae_built, cs.text_hit, cs.text_built, cs.cie_hit, cs.cie_built};
    return 0;
}

int pipeline_cache(Pipeline *p, CacheSummary *out, Err *e) { return pipeline_fill_caches(p, out, e); }
