/* eval_pairs.c — `simpletuner eval` as a library call: a paired folder's edits rendered with the
 * validation settings and measured against their targets (pipeline.h, pipeline_eval).
 *
 * report.json (and `eval --json`), one object:
 *   dataset, out_dir        the folder evaluated, where the outputs are
 *   model, model_family, model_flavour
 *   lora                    the LoRA file applied, or null (the base model); lora_scale
 *   steps, guidance, seed   validation_num_inference_steps, the CFG scale (0 = no CFG), validation_seed
 *   pairs_found             pairs in the folder; pairs_evaluated: how many were rendered (--limit)
 *   mean_psnr, mean_ssim    means over the evaluated pairs (PSNR in dB)
 *   mean_unedited_psnr      the mean of unedited_psnr: what returning the input unchanged scores
 *   pairs[]                 per pair, in name order: name (path under images/), instruction,
 *                           references[], target, result (the render's PNG), width, height (render
 *                           size), target_resized (the target was resized to it), psnr, ssim,
 *                           unedited_psnr (the first reference, at the render size, against the target)
 *   worst[]                 names of the (up to) five lowest PSNRs, lowest first
 *   sheets[]                the contact sheet(s)
 * A PSNR is infinite when the render equals its target: JSON has no infinity, so it is written as
 * null (and so is mean_psnr then); an SSIM is null for images under 11 px in a side (no window). */
#include "pipeline/pipeline_internal.h"
#include "base/files.h"
#include "data/discovery.h"
#include "data/edit_pairs.h"
#include "image/image_io.h"
#include "image/image_metrics.h"
#include "image/image_resize.h"
#include "image/sheet.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHEET_ROWS 16              /* rows per contact sheet */
#define CELL_MIN 192               /* sheet images are shown at least this tall (tiny renders enlarged) */
#define CELL_MAX 384               /* ... and at most this tall (real renders reduced) */

/* An image as the sheet shows it: small ones enlarged by a whole factor (pixels stay sharp), large
 * ones reduced (Lanczos) to CELL_MAX rows. */
static int sheet_cell(const Image *im, Image *out, Err *e) {
    if (im->height > CELL_MAX) {
        int w = (int)((double)im->width * CELL_MAX / im->height + 0.5);
        return image_resize_lanczos(im, w > 0 ? w : 1, CELL_MAX, out, e);
    }
    int k = (CELL_MIN + im->height - 1) / im->height;
    if (k < 1) k = 1;
    *out = (Image){im->width * k, im->height * k, 3, xmalloc((size_t)im->width * k * im->height * k * 3)};
    for (int y = 0; y < out->height; y++)
        for (int x = 0; x < out->width; x++) {
            const uint8_t *s = im->data + ((size_t)(y / k) * im->width + x / k) * im->channels;
            uint8_t *d = out->data + ((size_t)y * out->width + x) * 3;
            if (im->channels >= 3) memcpy(d, s, 3); else d[0] = d[1] = d[2] = s[0];
        }
    return 0;
}

/* One sheet row: references | result | target, with name, scores and instruction underneath. */
static int sheet_row(const Image *refs, int nr, const Image *result, const Image *target, const EvalPairResult *r, Image *row,
                     Err *e) {
    Image cells[EDIT_PAIR_MAX_REFS + 2] = {{0}};
    const Image *src[EDIT_PAIR_MAX_REFS + 2];
    int n = 0, rc = 0;
    for (int k = 0; k < nr; k++) src[n++] = &refs[k];
    src[n++] = result;
    src[n++] = target;
    for (int i = 0; i < n && !rc; i++) rc = sheet_cell(src[i], &cells[i], e);
    if (!rc) {
        char psnr[32];
        if (isinf(r->psnr)) snprintf(psnr, sizeof psnr, "inf"); else snprintf(psnr, sizeof psnr, "%.2f dB", r->psnr);
        char *caption = xasprintf("%s  PSNR %s  SSIM %.4f\n%s", r->name, psnr, r->ssim, r->instruction);
        *row = compose_sheet(cells, n, caption);
        free(caption);
    }
    for (int i = 0; i < n; i++) image_free(&cells[i]);
    return rc;
}

/* Writes the rows of one contact sheet page; its path is appended to the report. */
static int write_sheet(EvalReport *r, Image *rows, int n_rows, int page, int single, Err *e) {
    Image sheet = stack_rows(rows, n_rows, "references | result | target");
    char *path = single ? xasprintf("%s/sheet.png", r->out_dir) : xasprintf("%s/sheet-%02d.png", r->out_dir, page);
    int rc = image_write_png(path, &sheet, e);
    image_free(&sheet);
    if (rc) { free(path); return -1; }
    r->sheets = xrealloc(r->sheets, (size_t)(r->n_sheets + 1) * sizeof *r->sheets);
    r->sheets[r->n_sheets++] = path;
    return 0;
}

/* out_dir/results/<name stem>.png, its folder made (names may have subfolders). */
static char *result_path(const char *out_dir, const char *name, Err *e) {
    char *stem = path_strip_extension(name);
    char *rel = xasprintf("results/%s.png", stem);
    char *path = path_join(out_dir, rel);
    char *dir = path_dirname(path);
    int rc = dir_make(dir, e);
    free(stem); free(rel); free(dir);
    if (rc) { free(path); return NULL; }
    return path;
}

/* The render size of a pair: validation_resolution's first size when it is set, else the
 * pipeline's own size for the references (as validate does). */
static void render_size(Pipeline *p, int (*sizes)[2], const Image *refs, int nr, int *w, int *h) {
    if (config_is_set(p->cfg, "validation_resolution")) { *w = sizes[0][0]; *h = sizes[0][1]; }
    else pipeline_default_size(p, refs, nr, w, h);
}

/* Renders pair `pr` and scores it; row (optional) gets its sheet row. */
static int eval_one(Pipeline *p, EvalReport *r, const EditPair *pr, int (*sizes)[2], EvalPairResult *res, Image *row, Err *e) {
    Image refs[EDIT_PAIR_MAX_REFS] = {{0}}, target = {0}, out = {0}, cmp = {0};
    int nr = 0, rc = 0;
    res->name = xstrdup(pr->name);
    res->instruction = xstrdup(pr->instruction);
    res->target = xstrdup(pr->target);
    res->n_refs = pr->n_refs;
    for (int k = 0; k < pr->n_refs; k++) res->refs[k] = xstrdup(pr->refs[k]);
    for (int k = 0; k < pr->n_refs && !rc; k++) if (!(rc = image_read(pr->refs[k], &refs[k], e))) nr++;
    if (!rc) rc = image_read(pr->target, &target, e);
    if (!rc) {
        render_size(p, sizes, refs, nr, &res->width, &res->height);
        EditRequest req = {.prompt = pr->instruction, .negative = config_str(p->cfg, "validation_negative_prompt"), .refs = refs,
                           .n_refs = nr, .width = res->width, .height = res->height, .seed = r->seed};
        rc = pipeline_render(p, &req, &out, NULL, e);
    }
    if (!rc && !(res->result = result_path(r->out_dir, pr->name, e))) rc = -1;
    if (!rc) rc = image_write_png(res->result, &out, e);
    if (!rc) {
        res->target_resized = target.width != out.width || target.height != out.height;
        if (res->target_resized) rc = image_resize_lanczos(&target, out.width, out.height, &cmp, e);
        else { cmp = target; target = (Image){0}; }
    }
    if (!rc) {
        res->psnr = image_psnr(&out, &cmp);
        res->ssim = image_ssim(&out, &cmp);
        /* what doing nothing scores: the first reference as the result (at the render size) */
        Image ref0 = {0};
        const int same = refs[0].width == out.width && refs[0].height == out.height;
        if (!same) rc = image_resize_lanczos(&refs[0], out.width, out.height, &ref0, e);
        if (!rc) res->unedited_psnr = image_psnr(same ? &refs[0] : &ref0, &cmp);
        image_free(&ref0);
    }
    if (!rc) {
        if (row) rc = sheet_row(refs, nr, &out, &cmp, res, row, e);
    }
    for (int k = 0; k < nr; k++) image_free(&refs[k]);
    image_free(&target); image_free(&out); image_free(&cmp);
    return rc;
}

/* The five lowest PSNRs (then lowest SSIM, then name order), lowest first. */
static void find_worst(EvalReport *r) {
    r->n_worst = 0;
    char *taken = xcalloc((size_t)r->n + 1, 1);
    for (int w = 0; w < 5 && w < r->n; w++) {
        int best = -1;
        for (int i = 0; i < r->n; i++) {
            if (taken[i]) continue;
            const EvalPairResult *a = &r->pairs[i];
            if (best < 0 || a->psnr < r->pairs[best].psnr || (a->psnr == r->pairs[best].psnr && a->ssim < r->pairs[best].ssim)) best = i;
        }
        taken[best] = 1;
        r->worst[r->n_worst++] = best;
    }
    free(taken);
}

static int write_report(const EvalReport *r, Err *e) {
    char *json = eval_report_json(r);
    size_t len = strlen(json);
    json = xrealloc(json, len + 2);
    json[len] = '\n'; json[len + 1] = 0;
    int rc = file_write_atomic(r->report_path, json, len + 1, e);
    free(json);
    return rc;
}

int pipeline_eval(Pipeline *p, const EvalOptions *opt, EvalReport *r, Err *e) {
    memset(r, 0, sizeof *r);
    if (!opt->dataset || !*opt->dataset) return err_setc(e, EXIT_USAGE, "eval: no dataset folder given");
    if (p->flavour->max_refs == 0)
        return err_setc(e, EXIT_USAGE, "eval: the %s flavour of %s is text-to-image; eval measures edits (choose an edit flavour)",
                        p->flavour->name, p->fam->name);
    EditPairSet set;
    if (edit_pairs_read(opt->dataset, &set, e)) return -1;
    int rc = 0;
    if (set.n_refs > p->flavour->max_refs)
        rc = err_setc(e, EXIT_USAGE, "%s: its edits have %d references; %s %s takes at most %d", opt->dataset, set.n_refs, p->fam->name,
                      p->flavour->name, p->flavour->max_refs);
    int sizes[PIPELINE_MAX_SIZES][2];
    int n_sizes = rc ? 0 : pipeline_validation_sizes(p, sizes, PIPELINE_MAX_SIZES, e);
    if (n_sizes < 0) rc = -1;
    if (!rc && n_sizes > 1 && config_is_set(p->cfg, "validation_resolution"))
        pipeline_emitf(p, PEV_WARNING, "validation_resolution lists %d sizes: eval renders at the first, %dx%d", n_sizes, sizes[0][0],
                       sizes[0][1]);
    /* the adapters, as validate picks them */
    if (!rc) {
        r->lora = pipeline_choose_adapters(p, opt->lora);
        r->lora_scale = opt->lora_scale;
        if (r->lora) rc = pipeline_load_adapters(p, r->lora, opt->lora_scale, e);
        if (!rc && r->lora) pipeline_emitf(p, PEV_INFO, "LoRA: %s (scale %.3g)", r->lora, opt->lora_scale);
        else if (!rc) pipeline_emitf(p, PEV_INFO, "no LoRA given or found in output_dir: evaluating the base model");
    }
    if (!rc) {
        const char *od = config_str(p->cfg, "output_dir");
        r->out_dir = opt->out_dir ? xstrdup(opt->out_dir) : xasprintf("%s/eval", od && *od ? od : ".");
        r->dataset = xstrdup(opt->dataset);
        r->model = xstrdup(p->model_path);
        r->family = p->fam->name; r->flavour = p->flavour->name;
        r->steps = (int)config_int(p->cfg, "validation_num_inference_steps");
        r->guidance = pipeline_guidance(p);
        r->seed = config_validation_seed(p->cfg);
        r->n_found = set.n;
        r->report_path = path_join(r->out_dir, "report.json");
        rc = dir_make(r->out_dir, e);
    }
    int n = opt->limit > 0 && opt->limit < set.n ? opt->limit : set.n;
    if (!rc) r->pairs = xcalloc((size_t)n, sizeof *r->pairs);
    Image rows[SHEET_ROWS];
    int n_rows = 0, page = 0;
    const int single = n <= SHEET_ROWS;
    for (int i = 0; i < n && !rc; i++) {
        pipeline_emitf(p, PEV_INFO, "eval %d/%d: %s: %s", i + 1, n, set.pairs[i].name, set.pairs[i].instruction);
        rc = eval_one(p, r, &set.pairs[i], sizes, &r->pairs[i], &rows[n_rows], e);
        r->n = i + 1;   /* freed with the report even when it failed half-way */
        if (!rc) n_rows++;
        if (!rc && (n_rows == SHEET_ROWS || i == n - 1)) {
            rc = write_sheet(r, rows, n_rows, ++page, single, e);
            for (int k = 0; k < n_rows; k++) image_free(&rows[k]);
            n_rows = 0;
        }
    }
    for (int k = 0; k < n_rows; k++) image_free(&rows[k]);
    if (!rc) {
        double sp = 0, ss = 0, su = 0;
        for (int i = 0; i < r->n; i++) { sp += r->pairs[i].psnr; ss += r->pairs[i].ssim; su += r->pairs[i].unedited_psnr; }
        r->mean_psnr = sp / r->n; r->mean_ssim = ss / r->n; r->mean_unedited_psnr = su / r->n;
        find_worst(r);
        rc = write_report(r, e);
    }
    edit_pairs_free(&set);
    return rc;
}

/* ---- the report ---- */

static cJSON *json_num(double x) { return isfinite(x) ? cJSON_CreateNumber(x) : cJSON_CreateNull(); }
static cJSON *json_str(const char *s) { return s ? cJSON_CreateString(s) : cJSON_CreateNull(); }

char *eval_report_json(const EvalReport *r) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "dataset", json_str(r->dataset));
    cJSON_AddItemToObject(o, "out_dir", json_str(r->out_dir));
    cJSON_AddItemToObject(o, "model", json_str(r->model));
    cJSON_AddItemToObject(o, "model_family", json_str(r->family));
    cJSON_AddItemToObject(o, "model_flavour", json_str(r->flavour));
    cJSON_AddItemToObject(o, "lora", json_str(r->lora));
    cJSON_AddNumberToObject(o, "lora_scale", r->lora_scale);
    cJSON_AddNumberToObject(o, "steps", r->steps);
    cJSON_AddNumberToObject(o, "guidance", r->guidance);
    cJSON_AddNumberToObject(o, "seed", (double)r->seed);
    cJSON_AddNumberToObject(o, "pairs_found", r->n_found);
    cJSON_AddNumberToObject(o, "pairs_evaluated", r->n);
    cJSON_AddItemToObject(o, "mean_psnr", json_num(r->mean_psnr));
    cJSON_AddItemToObject(o, "mean_ssim", json_num(r->mean_ssim));
    cJSON_AddItemToObject(o, "mean_unedited_psnr", json_num(r->mean_unedited_psnr));
    cJSON *pairs = cJSON_AddArrayToObject(o, "pairs");
    for (int i = 0; i < r->n; i++) {
        const EvalPairResult *q = &r->pairs[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddItemToObject(j, "name", json_str(q->name));
        cJSON_AddItemToObject(j, "instruction", json_str(q->instruction));
        cJSON *refs = cJSON_AddArrayToObject(j, "references");
        for (int k = 0; k < q->n_refs; k++) cJSON_AddItemToArray(refs, json_str(q->refs[k]));
        cJSON_AddItemToObject(j, "target", json_str(q->target));
        cJSON_AddItemToObject(j, "result", json_str(q->result));
        cJSON_AddNumberToObject(j, "width", q->width);
        cJSON_AddNumberToObject(j, "height", q->height);
        cJSON_AddBoolToObject(j, "target_resized", q->target_resized);
        cJSON_AddItemToObject(j, "psnr", json_num(q->psnr));
        cJSON_AddItemToObject(j, "ssim", json_num(q->ssim));
        cJSON_AddItemToObject(j, "unedited_psnr", json_num(q->unedited_psnr));
        cJSON_AddItemToArray(pairs, j);
    }
    cJSON *worst = cJSON_AddArrayToObject(o, "worst");
    for (int i = 0; i < r->n_worst; i++) cJSON_AddItemToArray(worst, json_str(r->pairs[r->worst[i]].name));
    cJSON *sheets = cJSON_AddArrayToObject(o, "sheets");
    for (int i = 0; i < r->n_sheets; i++) cJSON_AddItemToArray(sheets, json_str(r->sheets[i]));
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    return text;
}

void eval_report_free(EvalReport *r) {
    for (int i = 0; i < r->n; i++) {
        EvalPairResult *q = &r->pairs[i];
        free(q->name); free(q->instruction); free(q->target); free(q->result);
        for (int k = 0; k < q->n_refs; k++) free(q->refs[k]);
    }
    free(r->pairs);
    for (int i = 0; i < r->n_sheets; i++) free(r->sheets[i]);
    free(r->sheets);
    free(r->dataset); free(r->out_dir); free(r->model); free(r->lora); free(r->report_path);
    memset(r, 0, sizeof *r);
}
