/* evaluate.c — validation sheets: the first num_eval_images samples of the evaluation dataset
 * rendered with the validation settings, each as references | result with the instruction
 * underneath (validate without --image, and in-training validation). */
#include "pipeline/pipeline_internal.h"
#include "base/files.h"
#include "image/image_io.h"
#include "image/sheet.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pipeline_load_data(Pipeline *p, Err *e) {
    if (p->have_data) return 0;
    if (!p->have_specs) {
        if (data_specs_from_config(p->cfg, 0, &p->specs, e)) return -1;
        p->have_specs = 1;
        /* data parallel: the sampler forms each step's global batch (train_batch_size per rank) */
        for (int i = 0; p->par && p->par->size > 1 && i < p->specs.n; i++) p->specs.specs[i].batch_size *= p->par->size;
    }
    if (data_load(p->specs.specs, p->specs.n, &p->specs.opt, &p->data, e)) return -1;
    p->have_data = 1;
    return 0;
}

int pipeline_eval_set(Pipeline *p, Err *e) {
    const char *id = config_str(p->cfg, "eval_dataset_id");
    for (int i = 0; i < p->data.n; i++) {
        const Dataset *d = &p->data.sets[i];
        if (d->spec.is_conditioning || d->spec.disabled) continue;
        if (!id || !*id || !strcmp(d->spec.id, id)) return i;
    }
    if (id && *id) return err_setc(e, EXIT_USAGE, "eval_dataset_id: no image dataset with id '%s'", id);
    return err_set(e, "no image dataset to validate with");
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
    if (!p->pe || pipeline_load_data(p, e)) return p->pe ? -1 : 0;
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
        if (!rc) rc = prompt_encoder_embed(p->pe, eval_prompt(p, ds, i), refs, nr, NULL, &ee->pos, &ee->pos_len, &ee->dim, e);
        /* the negative is needed only with CFG, but is cheap next to the renders it serves */
        if (!rc) rc = prompt_encoder_embed(p->pe, negative ? negative : "", refs, nr, NULL, &ee->neg, &ee->neg_len, &ee->dim, e);
        for (int k = 0; k < nr; k++) image_free(&refs[k]);
    }
    return rc;
}

void pipeline_free_eval_embeds(Pipeline *p) {
    for (int i = 0; i < p->n_eval_embeds; i++) { free(p->eval_embeds[i].pos); free(p->eval_embeds[i].neg); }
    free(p->eval_embeds);
    p->eval_embeds = NULL; p->n_eval_embeds = 0;
}

int pipeline_render_eval(Pipeline *p, const char *dir, int64_t step, Err *e) {
    int sizes[PIPELINE_MAX_SIZES][2];
    int n_sizes = pipeline_validation_sizes(p, sizes, PIPELINE_MAX_SIZES, e);
    if (n_sizes < 0 || pipeline_load_data(p, e)) return -1;
    int set = pipeline_eval_set(p, e);
    if (set < 0) return -1;
    const Dataset *ds = &p->data.sets[set];
    int n = (int)config_int(p->cfg, "num_eval_images");
    if (n > ds->n_items) n = ds->n_items;
    int rc = dir_make(dir, e);
    /* every size validation_resolution lists: the first as NN.png, the others as NN_WxH.png */
    for (int i = 0; i < n * n_sizes && !rc; i++) {
        const int item = i / n_sizes, si = i % n_sizes, W = sizes[si][0], H = sizes[si][1];
        char suffix[32] = "";
        if (si) snprintf(suffix, sizeof suffix, "_%dx%d", W, H);
        Image refs[3] = {{0}};
        int nr = 0;
        rc = read_references(p, ds, item, refs, &nr, e);
        const char *prompt = eval_prompt(p, ds, item);
        char *preview = config_bool(p->cfg, "validation_preview") ? xasprintf("%s/preview/%02d%s.", dir, item, suffix) : NULL;
        if (preview && !rc) { char *pd = path_join(dir, "preview"); rc = dir_make(pd, e); free(pd); }
        EditRequest req = {.prompt = prompt, .negative = config_str(p->cfg, "validation_negative_prompt"), .refs = refs, .n_refs = nr,
                           .width = W, .height = H, .seed = config_validation_seed(p->cfg), .preview_prefix = preview};
        if (p->eval_embeds && item < p->n_eval_embeds) {   /* encoded before the text encoder was released */
            const EvalEmbeds *ee = &p->eval_embeds[item];
            req.prompt_embeds = ee->pos; req.prompt_len = ee->pos_len;
            req.negative_embeds = ee->neg; req.negative_len = ee->neg_len; req.embed_dim = ee->dim;
        }
        Image out = {0};
        if (!rc) {
            pipeline_emit(p, &(PipelineEvent){.kind = PEV_VALIDATION_START, .step = step, .done = i, .total = n * n_sizes, .message = prompt});
            rc = pipeline_render(p, &req, &out, NULL, e);
        }
        free(preview);
        if (!rc) {
            Image row[4];
            for (int k = 0; k < nr; k++) row[k] = refs[k];
            row[nr] = out;
            Image sheet = compose_sheet(row, nr + 1, prompt);
            char *path = xasprintf("%s/%02d%s.png", dir, item, suffix);
            rc = image_write_png(path, &sheet, e);
            if (!rc) pipeline_emit(p, &(PipelineEvent){.kind = PEV_VALIDATION_IMAGE, .step = step, .done = i, .total = n * n_sizes, .path = path});
            free(path); image_free(&sheet);
        }
        image_free(&out);
        for (int k = 0; k < nr; k++) image_free(&refs[k]);
    }
    return rc;
}
