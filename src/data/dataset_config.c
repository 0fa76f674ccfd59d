#include "data/dataset_config.h"
#include "models/family.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

int data_bucket_alignment(const Config *c) {
    int a = (int)config_int(c, "aspect_bucket_alignment");
    const ModelFamily *f = family_find(config_str(c, "model_family"));
    if (f && f->bucket_alignment && a != f->bucket_alignment && !config_bool(c, "i_know_what_i_am_doing")) {
        if (config_is_set(c, "aspect_bucket_alignment"))
            log_warn("%s: aspect_bucket_alignment %d replaced by %d, as SimpleTuner does (set i_know_what_i_am_doing to keep it)", f->name, a,
                     f->bucket_alignment);
        a = f->bucket_alignment;
    }
    return a;
}

static double unset0(double v) { return isnan(v) ? 0 : v; }

static int crop_buckets(const cJSON *list, BucketParams *b, const char *id, Err *e) {
    if (!list) return 0;
    if (!cJSON_IsArray(list)) return err_setc(e, EXIT_USAGE, "dataset \"%s\": crop_aspect_buckets must be a list", id);
    const cJSON *x;
    cJSON_ArrayForEach(x, list) {
        if (b->n_crop_aspects == BUCKET_MAX_CROP_ASPECTS)
            return err_setc(e, EXIT_USAGE, "dataset \"%s\": crop_aspect_buckets has more than %d entries", id, BUCKET_MAX_CROP_ASPECTS);
        double aspect, weight = 0;
        if (cJSON_IsNumber(x)) aspect = x->valuedouble;
        else {
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(x, "aspect");
            if (!a) a = cJSON_GetObjectItemCaseSensitive(x, "aspect_ratio");
            const cJSON *w = cJSON_GetObjectItemCaseSensitive(x, "weight");
            if (!cJSON_IsNumber(a))
                return err_setc(e, EXIT_USAGE, "dataset \"%s\": crop_aspect_buckets entries must be numbers or {\"aspect\": x, \"weight\": w}", id);
            aspect = a->valuedouble;
            weight = cJSON_IsNumber(w) ? w->valuedouble : 1.0;
        }
        if (aspect <= 0) return err_setc(e, EXIT_USAGE, "dataset \"%s\": crop_aspect_buckets aspect %g must be positive", id, aspect);
        b->crop_aspects[b->n_crop_aspects] = aspect;
        b->crop_aspect_weights[b->n_crop_aspects] = weight;
        b->n_crop_aspects++;
    }
    return 0;
}

static int spec_from(const Config *c, const DatasetConfig *d, DatasetSpec *s, Err *e) {
    memset(s, 0, sizeof *s);
    s->id = d->id;
    s->instance_data_dir = d->instance_data_dir;
    s->disabled = d->disabled;
    s->is_conditioning = !strcmp(d->dataset_type, "conditioning");
    s->is_eval = !strcmp(d->dataset_type, "eval");
    if (s->is_conditioning) {
        const char *t = d->conditioning_type ? d->conditioning_type : "reference_strict";
        if (!strcmp(t, "reference_strict")) s->conditioning_type = COND_REFERENCE_STRICT;
        else if (!strcmp(t, "reference_loose")) s->conditioning_type = COND_REFERENCE_LOOSE;
        else if (!strcmp(t, "mask")) s->conditioning_type = COND_MASK;
        else return err_setc(e, EXIT_USAGE, "dataset \"%s\": not supported yet: conditioning_type=%s (edit training uses reference_strict, reference_loose or mask)", d->id, t);
    }
    s->conditioning_data = (const char *const *)d->conditioning_data;
    s->n_conditioning_data = d->n_conditioning_data;
    if (d->type && strcmp(d->type, "local"))
        return err_setc(e, EXIT_USAGE, "dataset \"%s\": not supported yet: type=%s (only local folders)", d->id, d->type);
    /* a conditioning set has captions only when its own entry names a caption_strategy (the global
     * default is for image sets); without, its samples keep the edit image's caption */
    const cJSON *own = d->raw ? cJSON_GetObjectItemCaseSensitive(d->raw, "caption_strategy") : NULL;
    const char *strategy = s->is_conditioning && !cJSON_IsString(own) ? NULL : d->caption_strategy;
    if (caption_strategy_parse(strategy, &s->captions.strategy, e)) return err_prefix(e, "dataset \"%s\"", d->id);
    s->captions.instance_prompt = d->instance_prompt;
    s->captions.prepend_instance_prompt = d->prepend_instance_prompt;
    s->captions.only_instance_prompt = d->only_instance_prompt;
    s->captions.disable_multiline_split = d->disable_multiline_split;
    BucketParams *b = &s->buckets;
    bucket_params_default(b);
    if (resolution_type_parse(d->resolution_type, &b->type, e)) return err_prefix(e, "dataset \"%s\"", d->id);
    b->resolution = d->resolution;
    b->alignment = data_bucket_alignment(c);
    b->rounding = (int)config_int(c, "aspect_bucket_rounding");
    b->minimum_image_size = unset0(d->minimum_image_size);
    b->maximum_image_size = unset0(d->maximum_image_size);
    b->target_downsample_size = unset0(d->target_downsample_size);
    b->minimum_aspect_ratio = unset0(d->minimum_aspect_ratio);
    b->maximum_aspect_ratio = unset0(d->maximum_aspect_ratio);
    b->crop = d->crop;
    b->max_upscale_threshold = isnan(d->max_upscale_threshold) ? -1 : d->max_upscale_threshold;
    if (crop_style_parse(d->crop_style, &b->crop_style, e) || crop_aspect_parse(d->crop_aspect, &b->crop_aspect, e) ||
        crop_buckets(d->crop_aspect_buckets, b, d->id, e))
        return err_prefix(e, "dataset \"%s\"", d->id);
    b->seed = (uint64_t)config_int(c, "seed");
    s->repeats = (int)d->repeats;
    s->probability = d->probability;
    s->batch_size = (int)d->train_batch_size;
    s->caption_dropout_probability = isnan(d->caption_dropout_probability) ? config_num(c, "caption_dropout_probability")
                                                                          : d->caption_dropout_probability;
    if (isnan(s->caption_dropout_probability)) s->caption_dropout_probability = 0;
    s->cache_dir_vae = d->cache_dir_vae;
    s->timestep_sampling_offset = d->timestep_sampling_offset;
    s->start_epoch = d->start_epoch; s->start_step = d->start_step;
    s->end_epoch = d->end_epoch; s->end_step = d->end_step;
    if (d->max_num_samples < 0 || d->max_num_samples > 1000000000)
        return err_setc(e, EXIT_USAGE, "dataset \"%s\": max_num_samples %ld: expected a positive count", d->id, d->max_num_samples);
    s->max_num_samples = (int)d->max_num_samples;
    /* a reference or mask set follows its edit set image for image: limit or schedule that one */
    if (s->is_conditioning && (d->max_num_samples || d->start_epoch > 1 || d->start_step > 1 || d->end_epoch > 0 || d->end_step > 0))
        return err_setc(e, EXIT_USAGE, "dataset \"%s\": max_num_samples and start/end_epoch/step apply to image datasets; a "
                                       "conditioning dataset follows the dataset that lists it (set them there)", d->id);
    return 0;
}

int data_specs_from_config(const Config *c, int strict, DataSpecs *out, Err *e) {
    memset(out, 0, sizeof *out);
    const DatasetConfig *ds;
    int n;
    if (config_datasets(c, &ds, &n)) return err_setc(e, EXIT_USAGE, "datasets could not be read");
    out->specs = xcalloc((size_t)n + 1, sizeof(DatasetSpec));
    for (int i = 0; i < n; i++) {
        const char *t = ds[i].dataset_type;
        if (strcmp(t, "image") && strcmp(t, "conditioning") && strcmp(t, "eval")) continue; /* embed caches */
        if (spec_from(c, &ds[i], &out->specs[out->n], e)) { data_specs_free(out); return -1; }
        out->n++;
    }
    out->opt.seed = config_run_seed(c);
    out->opt.strict = strict;
    const char *mc = config_str(c, "conditioning_multidataset_sampling");
    out->opt.multi_cond = mc && !strcmp(mc, "combined") ? MULTI_COND_COMBINED : MULTI_COND_RANDOM;
    const char *ws = config_str(c, "data_backend_sampling");
    out->opt.weighting = ws && !strcmp(ws, "uniform") ? SAMPLING_UNIFORM : SAMPLING_AUTO_WEIGHTING;
    out->opt.gradient_accumulation_steps = (int)config_int(c, "gradient_accumulation_steps");
    out->opt.disable_bucket_pruning = config_bool(c, "disable_bucket_pruning");
    return 0;
}

void data_specs_free(DataSpecs *s) { free(s->specs); memset(s, 0, sizeof *s); }
