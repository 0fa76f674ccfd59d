/* config_datasets.c — multidatabackend.json: a JSON list of dataset objects (spec §2.3), read into
 * DatasetConfig with SimpleTuner's defaults and global fallbacks, then validated as a whole (unique
 * ids, conditioning links, unique VAE caches). Every message names the file, the dataset id and key. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config/config_internal.h"
#include "config/config_json.h"
#include "base/files.h"

/* Every key a dataset object may carry. Keys for other backends (aws, csv, huggingface, parquet)
 * are known so that a real config loads up to the "not supported yet" of its type. */
static const char *const DATASET_KEYS[] = {
    "id", "type", "dataset_type", "disabled", "disable", "instance_data_dir", "caption_strategy",
    "instance_prompt", "prepend_instance_prompt", "only_instance_prompt", "disable_multiline_split",
    "resolution", "resolution_type", "minimum_image_size", "maximum_image_size", "target_downsample_size",
    "minimum_aspect_ratio", "maximum_aspect_ratio", "crop", "crop_style", "crop_aspect", "crop_aspect_buckets",
    "max_upscale_threshold", "cache_dir_vae", "conditioning_data", "conditioning_type", "source_dataset_id",
    "conditioning", "conditioning_image_embeds", "cache_dir_conditioning_image_embeds",
    "conditioning_image_embed_batch_size", "text_embeds", "image_embeds", "cache_dir", "default",
    "write_batch_size", "text_encoder_batch_size", "text_cache_ondemand", "text_cache_disable", "repeats",
    "probability", "train_batch_size", "is_regularisation_data", "is_regularization_data",
    "vae_cache_clear_each_epoch", "vae_cache_ondemand", "vae_cache_disable", "compress_cache",
    "skip_file_discovery", "preserve_data_backend_cache", "scan_for_errors", "vae_cache_scan_behaviour",
    "metadata_backend", "start_epoch", "start_step", "end_epoch", "end_step", "max_num_samples",
    "timestep_sampling_offset", "disable_validation", "delete_unwanted_images", "delete_problematic_images",
    "caption_dropout_probability", "hash_filenames", "cache_file_suffix", "aws_data_prefix", "aws_bucket_name",
    "aws_region_name", "aws_endpoint_url", "aws_access_key_id", "aws_secret_access_key",
    "aws_max_pool_connections", "csv_file", "csv_caption_column", "csv_url_column", "csv_cache_dir",
    "huggingface", "dataset_name", "split", "revision", "image_column", "caption_column", "parquet", "video",
    "audio", "webshart", "config", NULL,
};

typedef struct Ctx {
    const char *file, *id;
    const cJSON *obj;
    Err *e;
} Ctx;

static int fail(const Ctx *x, const char *key, const char *what, const cJSON *got) {
    char *g = got ? cJSON_PrintUnformatted(got) : NULL;
    err_setc(x->e, EXIT_USAGE, "%s: dataset '%s': %s %s%s%s", x->file, x->id, key, what, g ? ", got " : "", g ? g : "");
    free(g);
    return -1;
}

/* Typed readers: absent or null keeps *out (the default or global fallback). */
static int get_str(const Ctx *x, const char *key, char **out, const char *choices) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(x->obj, key);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsString(v)) return fail(x, key, "must be a string", v);
    if (choices && !csv_has(choices, v->valuestring)) {
        char *what = xasprintf("must be one of %s", choices);
        fail(x, key, what, v);
        free(what);
        return -1;
    }
    free(*out);
    *out = xstrdup(v->valuestring);
    return 0;
}

/* A number in [lo, hi] (lo_open: lo itself excluded), checked before any conversion. */
static int get_num_in(const Ctx *x, const char *key, double *out, double lo, double hi, int lo_open, int whole) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(x->obj, key);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return fail(x, key, "must be a finite number", v);
    double d = v->valuedouble;
    if (d < lo || d > hi || (lo_open && d == lo) || (whole && d != floor(d))) {
        char what[160];
        snprintf(what, sizeof what, "must be %s in %c%.17g, %.17g]", whole ? "a whole number" : "a number", lo_open ? '(' : '[', lo, hi);
        return fail(x, key, what, v);
    }
    *out = d;
    return 0;
}

static int get_num(const Ctx *x, const char *key, double *out, double lo, double hi, int lo_open) {
    return get_num_in(x, key, out, lo, hi, lo_open, 0);
}

static int get_long(const Ctx *x, const char *key, long *out, double lo, double hi) {
    double d = (double)*out;
    if (get_num_in(x, key, &d, lo, hi, 0, 1)) return -1;
    *out = (long)d;
    return 0;
}

static int get_bool(const Ctx *x, const char *key, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(x->obj, key);
    if (!v || cJSON_IsNull(v)) return 0;
    if (cJSON_IsBool(v)) { *out = cJSON_IsTrue(v); return 0; }
    if (cJSON_IsString(v) && (!strcmp(v->valuestring, "true") || !strcmp(v->valuestring, "false"))) {
        *out = !strcmp(v->valuestring, "true");
        return 0;
    }
    return fail(x, key, "must be true or false", v);
}

static int get_json(const Ctx *x, const char *key, cJSON **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(x->obj, key);
    if (v && !cJSON_IsNull(v)) *out = cJSON_Duplicate(v, 1);
    return 0;
}

static int get_id_list(const Ctx *x, const char *key, char ***out, int *n) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(x->obj, key);
    if (!v || cJSON_IsNull(v)) return 0;
    if (cJSON_IsString(v)) {
        *out = xcalloc(1, sizeof **out);
        (*out)[0] = xstrdup(v->valuestring);
        *n = 1;
        return 0;
    }
    if (!cJSON_IsArray(v)) return fail(x, key, "must be a dataset id or a list of ids", v);
    const cJSON *it;
    cJSON_ArrayForEach(it, v) if (!cJSON_IsString(it)) return fail(x, key, "must list dataset ids (strings)", v);
    *n = cJSON_GetArraySize(v);
    *out = xcalloc((size_t)*n + 1, sizeof **out);
    int i = 0;
    cJSON_ArrayForEach(it, v) (*out)[i++] = xstrdup(it->valuestring);
    return 0;
}

static double global_num(const Config *c, const char *key) { return config_num(c, key); }
static char *global_str(const Config *c, const char *key) {
    const char *s = config_str(c, key);
    return s ? xstrdup(s) : NULL;
}

/* Unknown keys: a near miss of a known key is an error with the suggestion; anything else is kept
 * but reported, since SimpleTuner itself tolerates extra keys. */
static int check_keys(const Ctx *x) {
    const cJSON *it;
    cJSON_ArrayForEach(it, x->obj) {
        int known = 0;
        for (int i = 0; DATASET_KEYS[i] && !known; i++) known = !strcmp(DATASET_KEYS[i], it->string);
        if (known) continue;
        if (!strcmp(it->string, "disable_vae_cache"))
            return err_setc(x->e, EXIT_USAGE, "%s: dataset '%s': disable_vae_cache is not accepted (SimpleTuner rejects it; "
                            "use vae_cache_disable)", x->file, x->id);
        const char *best = NULL;
        int best_d = 3; /* farther than 2 edits is not a typo */
        for (int i = 0; DATASET_KEYS[i]; i++) {
            int dist = name_distance(it->string, DATASET_KEYS[i]);
            if (dist < best_d) { best_d = dist; best = DATASET_KEYS[i]; }
        }
        if (best)
            return err_setc(x->e, EXIT_USAGE, "%s: dataset '%s': unknown key '%s' (did you mean '%s'?)", x->file, x->id,
                            it->string, best);
        log_warn("%s: dataset '%s': unknown key '%s' is ignored", x->file, x->id, it->string);
    }
    return 0;
}

static char *subst_family(const char *path, const char *family) {
    const char *at = strstr(path, "{model_family}");
    if (!at) return xstrdup(path);
    return xasprintf("%.*s%s%s", (int)(at - path), path, family ? family : "", at + strlen("{model_family}"));
}

static void defaults_from_global(const Config *c, DatasetConfig *d) {
    d->type = xstrdup("local");
    d->dataset_type = xstrdup("image");
    d->caption_strategy = global_str(c, "caption_strategy");
    d->instance_prompt = global_str(c, "instance_prompt");
    d->prepend_instance_prompt = config_bool(c, "prepend_instance_prompt");
    d->only_instance_prompt = config_bool(c, "only_instance_prompt");
    d->disable_multiline_split = config_bool(c, "disable_multiline_split");
    d->resolution = global_num(c, "resolution");
    d->resolution_type = global_str(c, "resolution_type");
    d->minimum_image_size = global_num(c, "minimum_image_size");
    d->maximum_image_size = global_num(c, "maximum_image_size");
    d->target_downsample_size = global_num(c, "target_downsample_size");
    d->minimum_aspect_ratio = d->maximum_aspect_ratio = d->max_upscale_threshold = NAN;
    d->crop_style = xstrdup("random");
    d->crop_aspect = xstrdup("square");
    d->conditioning_image_embed_batch_size = config_int(c, "vae_batch_size");
    d->write_batch_size = config_int(c, "write_batch_size");
    d->text_encoder_batch_size = config_int(c, "text_encoder_batch_size");
    d->probability = 1.0;
    d->train_batch_size = config_int(c, "train_batch_size");
    d->caption_dropout_probability = NAN;
    d->vae_cache_ondemand = config_bool(c, "vae_cache_ondemand");
    d->vae_cache_disable = config_bool(c, "vae_cache_disable");
    d->compress_cache = config_bool(c, "compress_disk_cache");
    d->skip_file_discovery = global_str(c, "skip_file_discovery");
    d->preserve_data_backend_cache = config_bool(c, "preserve_data_backend_cache");
    d->vae_cache_scan_behaviour = global_str(c, "vae_cache_scan_behaviour");
    d->metadata_backend = xstrdup("discovery");
    d->start_epoch = 1;
}

static int read_strings(const Ctx *x, DatasetConfig *d) {
    int null_captions = cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(x->obj, "caption_strategy"));
    if (get_str(x, "type", &d->type, "local,aws,csv,huggingface,webshart,memory") ||
        get_str(x, "dataset_type", &d->dataset_type,
                "image,video,audio,conditioning,eval,text_embeds,image_embeds,conditioning_image_embeds,caption,grounding") ||
        get_str(x, "instance_data_dir", &d->instance_data_dir, NULL) ||
        get_str(x, "aws_data_prefix", &d->instance_data_dir, NULL) ||
        get_str(x, "caption_strategy", &d->caption_strategy,
                "textfile,filename,instanceprompt,instance_prompt,parquet,csv,huggingface,webshart") ||
        get_str(x, "instance_prompt", &d->instance_prompt, NULL) ||
        get_str(x, "resolution_type", &d->resolution_type, "pixel,area,pixel_area") ||
        get_str(x, "crop_style", &d->crop_style, "random,center,centre,corner,face") ||
        get_str(x, "crop_aspect", &d->crop_aspect, "square,preserve,closest,random") ||
        get_str(x, "cache_dir_vae", &d->cache_dir_vae, NULL) ||
        get_str(x, "conditioning_type", &d->conditioning_type,
                "reference_strict,reference_loose,mask,segmentation,controlnet") ||
        get_str(x, "source_dataset_id", &d->source_dataset_id, NULL) ||
        get_str(x, "conditioning_image_embeds", &d->conditioning_image_embeds, NULL) ||
        get_str(x, "cache_dir_conditioning_image_embeds", &d->cache_dir_conditioning_image_embeds, NULL) ||
        get_str(x, "text_embeds", &d->text_embeds, NULL) || get_str(x, "image_embeds", &d->image_embeds, NULL) ||
        get_str(x, "cache_dir", &d->cache_dir, NULL) || get_str(x, "skip_file_discovery", &d->skip_file_discovery, NULL) ||
        get_str(x, "vae_cache_scan_behaviour", &d->vae_cache_scan_behaviour, "recreate,sync") ||
        get_str(x, "metadata_backend", &d->metadata_backend, "discovery,json,filesystem,parquet,huggingface,webshart"))
        return -1;
    if (null_captions) { free(d->caption_strategy); d->caption_strategy = NULL; }
    return 0;
}

/* Every numeric dataset key with its range (as the global options: config_ranges.c). */
static int read_numbers(const Ctx *x, DatasetConfig *d) {
    const double E9 = 1e9;
    return get_num(x, "resolution", &d->resolution, 0, 16384, 1) || get_num(x, "minimum_image_size", &d->minimum_image_size, 0, 65536, 0) ||
           get_num(x, "maximum_image_size", &d->maximum_image_size, 0, 65536, 0) ||
           get_num(x, "target_downsample_size", &d->target_downsample_size, 0, 65536, 0) ||
           get_num(x, "minimum_aspect_ratio", &d->minimum_aspect_ratio, 0, 100, 1) ||
           get_num(x, "maximum_aspect_ratio", &d->maximum_aspect_ratio, 0, 100, 1) ||
           get_num(x, "max_upscale_threshold", &d->max_upscale_threshold, 0, 1000, 0) ||
           get_long(x, "conditioning_image_embed_batch_size", &d->conditioning_image_embed_batch_size, 1, 65536) ||
           get_long(x, "write_batch_size", &d->write_batch_size, 1, 65536) ||
           get_long(x, "text_encoder_batch_size", &d->text_encoder_batch_size, 1, 65536) || get_long(x, "repeats", &d->repeats, 0, 1e6) ||
           get_num(x, "probability", &d->probability, 0, 1, 0) || get_long(x, "train_batch_size", &d->train_batch_size, 1, 4096) ||
           get_num(x, "caption_dropout_probability", &d->caption_dropout_probability, 0, 1, 0) ||
           get_long(x, "start_epoch", &d->start_epoch, 0, E9) || get_long(x, "start_step", &d->start_step, 0, E9) ||
           get_long(x, "end_epoch", &d->end_epoch, 0, E9) || get_long(x, "end_step", &d->end_step, 0, E9) ||
           get_long(x, "max_num_samples", &d->max_num_samples, 0, E9) ||
           get_num(x, "timestep_sampling_offset", &d->timestep_sampling_offset, -1000, 1000, 0) ? -1 : 0;
}

static int read_bools(const Ctx *x, DatasetConfig *d) {
    return get_bool(x, "disabled", &d->disabled) || get_bool(x, "disable", &d->disabled) ||
           get_bool(x, "prepend_instance_prompt", &d->prepend_instance_prompt) ||
           get_bool(x, "only_instance_prompt", &d->only_instance_prompt) ||
           get_bool(x, "disable_multiline_split", &d->disable_multiline_split) || get_bool(x, "crop", &d->crop) ||
           get_bool(x, "default", &d->is_default) || get_bool(x, "text_cache_ondemand", &d->text_cache_ondemand) ||
           get_bool(x, "text_cache_disable", &d->text_cache_disable) ||
           get_bool(x, "is_regularisation_data", &d->is_regularisation_data) ||
           get_bool(x, "is_regularization_data", &d->is_regularisation_data) ||
           get_bool(x, "vae_cache_clear_each_epoch", &d->vae_cache_clear_each_epoch) ||
           get_bool(x, "vae_cache_ondemand", &d->vae_cache_ondemand) ||
           get_bool(x, "vae_cache_disable", &d->vae_cache_disable) || get_bool(x, "compress_cache", &d->compress_cache) ||
           get_bool(x, "preserve_data_backend_cache", &d->preserve_data_backend_cache) ||
           get_bool(x, "scan_for_errors", &d->scan_for_errors) || get_bool(x, "disable_validation", &d->disable_validation) ||
           get_bool(x, "delete_unwanted_images", &d->delete_unwanted_images) ||
           get_bool(x, "delete_problematic_images", &d->delete_problematic_images) ? -1 : 0;
}

static int is_image_like(const DatasetConfig *d) {
    return !strcmp(d->dataset_type, "image") || !strcmp(d->dataset_type, "conditioning") || !strcmp(d->dataset_type, "eval");
}

/* Features of a dataset this program does not have yet. */
static int check_dataset_support(const Ctx *x, const DatasetConfig *d) {
    const char *bad = NULL, *val = NULL;
    if (strcmp(d->type, "local") && strcmp(d->type, "memory")) { bad = "type"; val = d->type; }
    else if (!csv_has("image,conditioning,eval,text_embeds,image_embeds,conditioning_image_embeds", d->dataset_type)) {
        bad = "dataset_type"; val = d->dataset_type;
    } else if (d->caption_strategy && !csv_has("textfile,filename,instanceprompt,instance_prompt", d->caption_strategy)) {
        bad = "caption_strategy"; val = d->caption_strategy;
    } else if (!csv_has("discovery,json,filesystem", d->metadata_backend)) { bad = "metadata_backend"; val = d->metadata_backend; }
    else if (d->conditioning) { bad = "conditioning"; val = "(generated conditioning sets)"; }
    else if (d->is_regularisation_data) { bad = "is_regularisation_data"; val = "true"; }
    if (!bad) return 0;
    return err_setc(x->e, EXIT_USAGE, "%s: dataset '%s': not supported yet: %s=%s", x->file, x->id, bad, val);
}

static int read_dataset(const Config *c, const char *file, const cJSON *obj, int index, DatasetConfig *d, Err *e) {
    Ctx x = {file, "?", obj, e};
    char label[32];
    snprintf(label, sizeof label, "#%d", index + 1);
    if (!cJSON_IsObject(obj)) {
        x.id = label;
        return fail(&x, "entry", "must be a JSON object", NULL);
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(obj, "id");
    x.id = label;
    if (!cJSON_IsString(id) || !id->valuestring[0]) return fail(&x, "id", "is required (a non-empty string)", id);
    d->id = xstrdup(id->valuestring);
    x.id = d->id;
    d->raw = obj;
    defaults_from_global(c, d);
    if (check_keys(&x) || read_strings(&x, d) || read_numbers(&x, d) || read_bools(&x, d) ||
        get_json(&x, "crop_aspect_buckets", &d->crop_aspect_buckets) || get_json(&x, "conditioning", &d->conditioning) ||
        get_id_list(&x, "conditioning_data", &d->conditioning_data, &d->n_conditioning_data))
        return -1;
    if (d->conditioning_type && strcmp(d->dataset_type, "conditioning")) {
        free(d->dataset_type); /* SimpleTuner: conditioning_type makes it a conditioning set */
        d->dataset_type = xstrdup("conditioning");
    }
    const char *family = config_str(c, "model_family");
    char **paths[] = {&d->cache_dir, &d->instance_data_dir, &d->cache_dir_conditioning_image_embeds};
    for (size_t k = 0; k < sizeof paths / sizeof paths[0]; k++)
        if (*paths[k]) { char *p = subst_family(*paths[k], family); free(*paths[k]); *paths[k] = p; }
    if (is_image_like(d)) {
        if (!d->cache_dir_vae)
            d->cache_dir_vae = xasprintf("%s/vae/%s/%s", config_str(c, "cache_dir"),
                                         config_str(c, "model_family") ? config_str(c, "model_family") : "model", d->id);
        char *p = subst_family(d->cache_dir_vae, config_str(c, "model_family"));
        free(d->cache_dir_vae);
        d->cache_dir_vae = p;
    }
    if (d->crop_aspect && csv_has("closest,random", d->crop_aspect) && d->crop && !d->crop_aspect_buckets)
        return fail(&x, "crop_aspect", "closest/random needs crop_aspect_buckets", NULL);
    return check_dataset_support(&x, d);
}

static DatasetConfig *find(Config *c, const char *id) {
    for (int i = 0; i < c->n_ds; i++)
        if (!strcmp(c->ds[i].id, id)) return &c->ds[i];
    return NULL;
}

static int link_conditioning(Config *c, const char *file, Err *e) {
    for (int i = 0; i < c->n_ds; i++) {
        DatasetConfig *d = &c->ds[i];
        for (int k = 0; k < d->n_conditioning_data; k++) {
            DatasetConfig *r = find(c, d->conditioning_data[k]);
            if (!r)
                return err_setc(e, EXIT_USAGE, "%s: dataset '%s': conditioning_data names '%s', which is not a dataset id "
                                "in this file", file, d->id, d->conditioning_data[k]);
            if (r == d)
                return err_setc(e, EXIT_USAGE, "%s: dataset '%s': conditioning_data names the dataset itself", file, d->id);
            if (!strcmp(r->dataset_type, "image")) {
                /* LongCat edit quickstart layout: a plain set used as the reference (spec §0 trap 8). */
                free(r->dataset_type);
                r->dataset_type = xstrdup("conditioning");
                r->conditioning_type = xstrdup("reference_strict");
                r->inferred_reference = 1;
                log_info("%s: dataset '%s' has neither dataset_type nor conditioning_type but '%s' lists it in "
                         "conditioning_data: treated as conditioning_type=reference_strict", file, r->id, d->id);
            } else if (strcmp(r->dataset_type, "conditioning")) {
                return err_setc(e, EXIT_USAGE, "%s: dataset '%s': conditioning_data names '%s', whose dataset_type is "
                                "'%s' (expected conditioning)", file, d->id, r->id, r->dataset_type);
            }
            if (!r->conditioning_type) {
                r->conditioning_type = xstrdup("reference_strict");
                log_info("%s: dataset '%s' is a conditioning set without conditioning_type: treated as reference_strict",
                         file, r->id);
            }
            if (!r->source_dataset_id) r->source_dataset_id = xstrdup(d->id);
        }
    }
    return 0;
}

static int check_refs(Config *c, const char *file, Err *e) {
    for (int i = 0; i < c->n_ds; i++) {
        DatasetConfig *d = &c->ds[i];
        if (d->source_dataset_id && !find(c, d->source_dataset_id))
            return err_setc(e, EXIT_USAGE, "%s: dataset '%s': source_dataset_id names '%s', which is not a dataset id in "
                            "this file", file, d->id, d->source_dataset_id);
        static const struct { size_t off; const char *key, *type; } REFS[] = {
            {offsetof(DatasetConfig, conditioning_image_embeds), "conditioning_image_embeds", "conditioning_image_embeds"},
            {offsetof(DatasetConfig, text_embeds), "text_embeds", "text_embeds"},
            {offsetof(DatasetConfig, image_embeds), "image_embeds", "image_embeds"},
        };
        for (size_t k = 0; k < sizeof REFS / sizeof REFS[0]; k++) {
            const char *ref = *(char **)((char *)d + REFS[k].off);
            if (!ref) continue;
            DatasetConfig *r = find(c, ref);
            if (!r || strcmp(r->dataset_type, REFS[k].type))
                return err_setc(e, EXIT_USAGE, "%s: dataset '%s': %s names '%s', which is not a dataset with "
                                "dataset_type=%s in this file", file, d->id, REFS[k].key, ref, REFS[k].type);
        }
        if (d->conditioning_type && !d->source_dataset_id && !d->disabled)
            log_warn("%s: dataset '%s' is a conditioning set that no dataset lists in conditioning_data", file, d->id);
    }
    return 0;
}

static int check_unique(Config *c, const char *file, Err *e) {
    for (int i = 0; i < c->n_ds; i++)
        for (int j = 0; j < i; j++) {
            if (!strcmp(c->ds[i].id, c->ds[j].id))
                return err_setc(e, EXIT_USAGE, "%s: dataset '%s': id is used by datasets #%d and #%d; ids must be unique",
                                file, c->ds[i].id, j + 1, i + 1);
            if (c->ds[i].disabled || c->ds[j].disabled || !c->ds[i].cache_dir_vae || !c->ds[j].cache_dir_vae) continue;
            if (!strcmp(c->ds[i].cache_dir_vae, c->ds[j].cache_dir_vae))
                return err_setc(e, EXIT_USAGE, "%s: dataset '%s': cache_dir_vae '%s' is also used by dataset '%s'; each "
                                "dataset needs its own VAE cache", file, c->ds[i].id, c->ds[i].cache_dir_vae, c->ds[j].id);
        }
    return 0;
}

static int check_eval_ids(Config *c, const char *file, Err *e) {
    const cJSON *v = config_json(c, "eval_dataset_id");
    if (!v) return 0;
    char *ids = config_value_text(v), *save = NULL;
    if (cJSON_IsArray(v)) { free(ids); ids = xstrdup(config_str(c, "eval_dataset_id")); }
    for (char *t = strtok_r(ids, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (!find(c, t)) {
            err_setc(e, EXIT_USAGE, "%s: eval_dataset_id names '%s', which is not a dataset id in %s",
                     config_source(c, "eval_dataset_id") ? config_source(c, "eval_dataset_id") : "configuration", t, file);
            free(ids);
            return -1;
        }
    free(ids);
    return 0;
}

/* An edit flavour trains on (instruction, references) -> edited image, so every enabled image
 * dataset must name its reference set(s); without them SimpleTuner fails much later, deep in
 * collate (spec §4, factory.py). */
static int check_edit_pairs(Config *c, const char *file, Err *e) {
    const char *flavour = config_str(c, "model_flavour");
    if (!flavour || strncmp(flavour, "edit", 4)) return 0;
    for (int i = 0; i < c->n_ds; i++) {
        const DatasetConfig *d = &c->ds[i];
        if (d->disabled || strcmp(d->dataset_type, "image") || d->n_conditioning_data) continue;
        return err_setc(e, EXIT_USAGE, "%s: dataset '%s': model_flavour %s trains an edit model, which needs reference "
                        "images: list the reference dataset(s) in conditioning_data", file, d->id, flavour);
    }
    return 0;
}

int config_load_datasets(Config *c, Err *e) {
    const char *file = c->data_file;
    if (!file_exists(file)) {
        const char *src = config_source(c, "data_backend_config");
        return err_setc(e, EXIT_USAGE, "%s: data_backend_config %s not found (set it to your multidatabackend.json "
                        "or give --data FILE)", src ? src : "configuration", file);
    }
    c->data_root = json_read_config_file(file, e);
    if (!c->data_root) {
        if (!strstr(e->msg, file)) err_prefix(e, "data_backend_config %s", file);
        e->code = EXIT_USAGE;
        return -1;
    }
    if (!cJSON_IsArray(c->data_root))
        return err_setc(e, EXIT_USAGE, "%s: expected a JSON list of dataset objects", file);
    int n = cJSON_GetArraySize(c->data_root);
    c->ds = xcalloc((size_t)n + 1, sizeof *c->ds);
    const cJSON *it;
    cJSON_ArrayForEach(it, c->data_root) {
        if (read_dataset(c, file, it, c->n_ds, &c->ds[c->n_ds], e)) { c->n_ds++; return -1; }
        c->n_ds++;
    }
    if (c->n_ds == 0) return err_setc(e, EXIT_USAGE, "%s: no datasets (expected a list of dataset objects)", file);
    return check_unique(c, file, e) || link_conditioning(c, file, e) || check_refs(c, file, e) ||
           check_eval_ids(c, file, e) || check_edit_pairs(c, file, e) ? -1 : 0;
}

static void free_dataset(DatasetConfig *d) {
    char **strs[] = {&d->id, &d->type, &d->dataset_type, &d->instance_data_dir, &d->caption_strategy,
                     &d->instance_prompt, &d->resolution_type, &d->crop_style, &d->crop_aspect, &d->cache_dir_vae,
                     &d->conditioning_type, &d->source_dataset_id, &d->conditioning_image_embeds,
                     &d->cache_dir_conditioning_image_embeds, &d->text_embeds, &d->image_embeds, &d->cache_dir,
                     &d->skip_file_discovery, &d->vae_cache_scan_behaviour, &d->metadata_backend};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) free(*strs[i]);
    for (int i = 0; i < d->n_conditioning_data; i++) free(d->conditioning_data[i]);
    free(d->conditioning_data);
    cJSON_Delete(d->crop_aspect_buckets);
    cJSON_Delete(d->conditioning);
}

void config_free_datasets(Config *c) {
    for (int i = 0; i < c->n_ds; i++) free_dataset(&c->ds[i]);
    free(c->ds);
    c->ds = NULL;
    c->n_ds = 0;
}

int config_datasets(const Config *c, const DatasetConfig **out, int *n) {
    *out = c->ds;
    *n = c->n_ds;
    return 0;
}

const DatasetConfig *config_dataset_find(const Config *c, const char *id) {
    for (int i = 0; i < c->n_ds; i++)
        if (!strcmp(c->ds[i].id, id)) return &c->ds[i];
    return NULL;
}
