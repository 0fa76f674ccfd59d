/* evaluate.c — validation sheets: the first num_eval_images samples of the evaluation dataset
 * rendered with the validation settings, each as reference 1..n | result | target (the dataset's
 * edit image), titled, with the instruction and the settings (step, seed, guidance, LoRA scale, size)
 * underneath (validate without --image, and in-training validation). */
#include "pipeline/pipeline_internal.h"
#include "base/files.h"
#include "image/image_io.h"
#include "image/image_resize.h"
#include "image/sheet.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Whether item is one of the comma-separated items of list. */
static int csv_has_item(const char *list, const char *item) {
    size_t n = strlen(item);
    for (const char *q = list; *q;) {
        while (*q == ' ') q++;
        size_t k = strcspn(q, ","), t = k;
        while (t > 0 && q[t - 1] == ' ') t--;
        if (t == n && !strncmp(q, item, n)) return 1;
        q += k;
        if (*q == ',') q++;
    }
    return 0;
}

int pipeline_load_data(Pipeline *p, int validation_only, Err *e) {
    if (p->have_data) return 0;
    if (!p->have_specs) {
        if (data_specs_from_config(p->cfg, 0, &p->specs, e)) return -1;
        p->have_specs = 1;
        /* data parallel: the sampler forms each step's global batch (train_batch_size per rank) */
        for (int i = 0; p->par && p->par->size > 1 && i < p->specs.n; i++) p->specs.specs[i].batch_size *= p->par->size;
    }
    p->specs.opt.validation_only = validation_only;
    if (data_load(p->specs.specs, p->specs.n, &p->specs.opt, &p->data, e)) return -1;
    p->have_data = 1;
    return 0;
}

int pipeline_eval_set(Pipeline *p, Err *e) {
    const char *id = config_str(p->cfg, "eval_dataset_id");
    /* eval_dataset_id (one id or several, comma-separated: the first that has samples), else a dataset_type
     * eval set, else the first edit dataset; datasets with disable_validation are never rendered */
    int held_back = 0;
    for (int pass = 0; pass < 3; pass++)
        for (int i = 0; i < p->data.n; i++) {
            const Dataset *d = &p->data.sets[i];
            if (d->spec.is_conditioning || d->spec.disabled || d->n_items == 0) continue;
            if (d->spec.disable_validation) { held_back = 1; continue; }
            if (pass == 0 && id && *id && csv_has_item(id, d->spec.id)) return i;
            if (pass == 1 && (!id || !*id) && d->spec.is_eval) return i;
            if (pass == 2 && (!id || !*id)) return i;
        }
    if (id && *id) {
        for (int i = 0; i < p->data.n; i++) {
            const DatasetSpec *sp = &p->data.sets[i].spec;
            if (!csv_has_item(id, sp->id)) continue;
            if (sp->disable_validation && !sp->is_conditioning)
                return err_setc(e, EXIT_USAGE, "eval_dataset_id names '%s', which has disable_validation: true", sp->id);
            return err_setc(e, EXIT_USAGE, "eval_dataset_id: dataset \"%s\" has no samples to validate with (%s)", sp->id,
                            sp->is_conditioning ? "it is a conditioning dataset" : "no usable images");
        }
        return err_setc(e, EXIT_USAGE, "eval_dataset_id: no image dataset with id '%s'", id);
    }
    if (held_back)
        return err_setc(e, EXIT_USAGE, "no image dataset to validate with (every image dataset with samples has disable_validation: "
                                       "true; set validation_disable or num_eval_images 0 to train without validation)");
    return err_setc(e, EXIT_USAGE, "nothing to validate with: no dataset has usable samples; give --image and --prompt, or an eval "
                                   "dataset (an edit dataset in data_backend_config; eval_dataset_id chooses it)");
}

/* The references of item i of an edit dataset (mask datasets are loss weights, not model inputs). */
static int read_references(const Pipeline *p, const Dataset *ds, int i, Image *refs, int *nr, Err *e) {
    *nr = 0;
    for (int k = 0; k < ds->n_cond && *nr < 3; k++) {
        const Dataset *cs = &p->data.sets[ds->cond[k]];
        if (cs->spec.conditioning_type == COND_MASK) continue;
        char *path = path_join(cs->spec.instance_data_dir, cs->items[ds->items[i].refs[k].item].rel);
        int rc = image_read(path, &refs[*nr], e);
        free(path);
        if (rc) return -1;
        (*nr)++;
    }
    return 0;
}

/* The prompt of eval item i (validation_prompt when set, else the item's first caption). */
static const char *eval_prompt(const Pipeline *p, const Dataset *ds, int i) {
    const char *vp = config_str(p->cfg, "validation_prompt");
    return vp && *vp ? vp : (ds->items[i].captions.n ? ds->items[i].captions.text[0] : "");
}

int pipeline_keep_eval_embeds(Pipeline *p, Err *e) {
    if (!p->pe || pipeline_load_data(p, 1, e)) return p->pe ? -1 : 0;
    int set = pipeline_eval_set(p, e);
    if (set < 0) return -1;
    const Dataset *ds = &p->data.sets[set];
    int n = (int)config_int(p->cfg, "num_eval_images");
    if (n > ds->n_items) n = ds->n_items;
    const char *negative = config_str(p->cfg, "validation_negative_prompt");
    p->eval_embeds = xcalloc((size_t)(n > 0 ? n : 1), sizeof *p->eval_embeds);
    p->n_eval_embeds = n;
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        Image refs[3] = {{0}};
        int nr = 0;
        EvalEmbeds *ee = &p->eval_embeds[i];
        rc = read_references(p, ds, i, refs, &nr, e);
        int used = rc ? nr : pipeline_usable_refs(p, nr, 0);   /* what render_eval will give the model */
        if (!rc) rc = prompt_encoder_embed(p->pe, eval_prompt(p, ds, i), refs, used, NULL, &ee->pos, &ee->pos_len, &ee->dim, e);
        /* the negative is needed only with CFG, but is cheap next to the renders it serves */
        if (!rc) rc = prompt_encoder_embed(p->pe, negative ? negative : "", refs, used, NULL, &ee->neg, &ee->neg_len, &ee->dim, e);
        for (int k = 0; k < nr; k++) image_free(&refs[k]);
    }
    return rc;
}

void pipeline_free_eval_embeds(Pipeline *p) {
    for (int i = 0; i < p->n_eval_embeds; i++) { free(p->eval_embeds[i].pos); free(p->eval_embeds[i].neg); }
    free(p->eval_embeds);
    p->eval_embeds = NULL; p->n_eval_embeds = 0;
}

/* A panel for the sheet: the image scaled to height H (aspect kept), or a copy when it has it. */
static int panel_at_height(const Image *im, int H, Image *out, Err *e) {
    int w = (int)((double)im->width * H / im->height + 0.5);
    if (w < 1) w = 1;
    return image_resize_lanczos(im, w, H, out, e);
}

/* The second caption line: what the sheet was rendered with. */
static char *settings_line(Pipeline *p, int64_t step, int W, int H) {
    int cfg_on = 0;
    float g = pipeline_guidance_cfg(p, &cfg_on);
    char adapters[64];
    if (p->adapters == PIPELINE_ADAPTERS_FULL) snprintf(adapters, sizeof adapters, "full fine-tune");
    else if (p->adapters == PIPELINE_ADAPTERS_LORA && p->lycoris_multiplier)   /* training LyCORIS: validation's strength */
        snprintf(adapters, sizeof adapters, "LyCORIS strength %g", config_num(p->cfg, "validation_lycoris_strength"));
    else if (p->adapters == PIPELINE_ADAPTERS_LORA && p->lycoris_loaded)   /* a LyCORIS file: --lora_scale is its strength */
        snprintf(adapters, sizeof adapters, "LyCORIS strength %g", p->lora_scale);
    else if (p->adapters == PIPELINE_ADAPTERS_LORA) snprintf(adapters, sizeof adapters, "LoRA scale %g", p->lora_scale);
    else snprintf(adapters, sizeof adapters, "no LoRA (base model)");
    char at[32] = "";
    if (step >= 0) snprintf(at, sizeof at, "step %lld | ", (long long)step);
    return xasprintf("%sseed %llu | guidance %g%s | %s | %dx%d, %ld steps", at, (unsigned long long)config_validation_seed(p->cfg), g,
                     cfg_on ? "" : " (no CFG)", adapters, W, H, config_int(p->cfg, "validation_num_inference_steps"));
}

/* One sheet: reference 1..n | result | target (the dataset's edit image; validation_stitch_input_location
 * right puts the result first), all at the result's height, the instruction and the settings underneath;
 * written to path through a temp file in validation_image_format at validation_image_quality. */
static int write_sheet(Pipeline *p, const Dataset *ds, int item, const Image *refs, int nr, const Image *result, const char *prompt,
                       int64_t step, const char *path, Err *e) {
    Image panels[DATA_MAX_REFS + 2] = {{0}};
    char names[DATA_MAX_REFS + 2][32];
    const char *labels[DATA_MAX_REFS + 2];
    int np = 0, rc = 0;
    /* the result is shown as it is (not owned by panels: never freed here) */
    const int result_first = !strcmp(config_str(p->cfg, "validation_stitch_input_location"), "right");
    int result_at = -1;
    if (result_first) { result_at = np; panels[np] = *result; labels[np++] = "result"; }
    for (int k = 0; k < nr && !rc; k++) {
        rc = panel_at_height(&refs[k], result->height, &panels[np], e);
        snprintf(names[np], sizeof names[np], "reference %d", k + 1);
        labels[np] = names[np];
        np += !rc;
    }
    if (!rc && !result_first) { result_at = np; panels[np] = *result; labels[np++] = "result"; }
    char *target_path = path_join(ds->spec.instance_data_dir, ds->items[item].rel);
    Image target = {0};
    Err why = {0};
    if (!rc && image_read(target_path, &target, &why) == 0) {
        rc = panel_at_height(&target, result->height, &panels[np], e);
        labels[np] = "target";
        np += !rc;
        image_free(&target);
    }
    free(target_path);
    if (!rc) {
        char *settings = settings_line(p, step, result->width, result->height);
        char *caption = xasprintf("%s\n%s", prompt, settings);
        Image sheet = compose_sheet_labelled(panels, labels, np, caption);
        rc = image_write_format(path, &sheet, config_str(p->cfg, "validation_image_format"),
                                (int)config_int(p->cfg, "validation_image_quality"), e);
        image_free(&sheet);
        free(caption); free(settings);
    }
    for (int i = 0; i < np; i++)
        if (i != result_at) image_free(&panels[i]);
    return rc;
}

int pipeline_render_eval(Pipeline *p, const char *dir, int64_t step, Err *e) {
    int sizes[PIPELINE_MAX_SIZES][2];
    int n_sizes = pipeline_validation_sizes(p, sizes, PIPELINE_MAX_SIZES, e);
    if (n_sizes < 0 || pipeline_load_data(p, 1, e)) return -1;
    int set = pipeline_eval_set(p, e);
    if (set < 0) return -1;
    const Dataset *ds = &p->data.sets[set];
    int n = (int)config_int(p->cfg, "num_eval_images");
    if (n > ds->n_items) n = ds->n_items;
    /* num_validation_images renders per sample and size, from one seeded draw (pipeline.h EditRequest) */
    const int n_img = (int)config_int(p->cfg, "num_validation_images"), per_item = n_sizes * n_img;
    const char *format = config_str(p->cfg, "validation_image_format");
    const char *ext = image_format_extension(format);
    if (!ext) return err_setc(e, EXIT_USAGE, "validation_image_format '%s': expected png, jpeg or webp", format);
    int rc = dir_make(dir, e);
    const int64_t steps = config_int(p->cfg, "validation_num_inference_steps");
    /* the ETA of the sampling events covers every image of this run */
    p->clock = (RenderClock){.steps_total = (int64_t)n * per_item * steps};
    clock_gettime(CLOCK_MONOTONIC, &p->clock.t0);
    /* every size validation_resolution lists: the first as NN.<ext>, the others as NN_WxH.<ext>; image
     * k > 0 of num_validation_images adds _k */
    for (int i = 0; i < n * per_item && !rc; i++) {
        const int item = i / per_item, si = i % per_item / n_img, k = i % n_img, W = sizes[si][0], H = sizes[si][1];
        char suffix[48] = "";
        int len = si ? snprintf(suffix, sizeof suffix, "_%dx%d", W, H) : 0;
        if (k) snprintf(suffix + len, sizeof suffix - (size_t)len, "_%d", k);
        Image refs[3] = {{0}};
        int nr = 0;
        rc = read_references(p, ds, item, refs, &nr, e);
        /* the references the flavour takes (said once): the sheet shows what the model saw */
        int used = pipeline_usable_refs(p, nr, i == 0);
        for (int k = used; k < nr; k++) image_free(&refs[k]);
        nr = used;
        const char *prompt = eval_prompt(p, ds, item);
        char *preview = config_bool(p->cfg, "validation_preview") ? xasprintf("%s/preview/%02d%s.", dir, item, suffix) : NULL;
        if (preview && !rc) { char *pd = path_join(dir, "preview"); rc = dir_make(pd, e); free(pd); }
        EditRequest req = {.prompt = prompt, .negative = config_str(p->cfg, "validation_negative_prompt"), .refs = refs, .n_refs = nr,
                           .width = W, .height = H, .seed = config_validation_seed(p->cfg), .preview_prefix = preview,
                           .image_index = k};
        if (p->eval_embeds && item < p->n_eval_embeds) {   /* encoded before the text encoder was released */
            const EvalEmbeds *ee = &p->eval_embeds[item];
            req.prompt_embeds = ee->pos; req.prompt_len = ee->pos_len;
            req.negative_embeds = ee->neg; req.negative_len = ee->neg_len; req.embed_dim = ee->dim;
        }
        Image out = {0};
        if (!rc) {
            pipeline_emit(p, &(PipelineEvent){.kind = PEV_VALIDATION_START, .step = step, .done = i, .total = n * per_item, .message = prompt});
            rc = pipeline_render(p, &req, &out, NULL, e);
        }
        free(preview);
        if (!rc) {
            char *path = xasprintf("%s/%02d%s.%s", dir, item, suffix, ext);
            rc = write_sheet(p, ds, item, refs, nr, &out, prompt, step, path, e);
            struct timespec t1;
            clock_gettime(CLOCK_MONOTONIC, &t1);
            double took = (double)(t1.tv_sec - p->clock.t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - p->clock.t0.tv_nsec);
            p->clock.steps_done += steps;
            double eta = took / (double)p->clock.steps_done * (double)(p->clock.steps_total - p->clock.steps_done);
            if (!rc) pipeline_emit(p, &(PipelineEvent){.kind = PEV_VALIDATION_IMAGE, .step = step, .done = i, .total = n * per_item,
                                                       .seconds = took, .eta = eta, .path = path});
            free(path);
        }
        image_free(&out);
        for (int r = 0; r < nr; r++) image_free(&refs[r]);
    }
    p->clock.steps_total = 0;
    return rc;
}
