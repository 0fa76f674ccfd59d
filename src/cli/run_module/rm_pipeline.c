/* pipeline_run_module.c — run-module for whole-pipeline dirs (DIR/pipeline.json): every case runs
 * the code path `simpletuner validate` runs — a pipeline opened on a configuration holding the
 * call's settings (config_from_pairs) and the named model folder, then pipeline_render — with a
 * trace that records each intermediate under the golden name "<case>.<name>".
 *
 * pipeline.json: {"pipeline": CLASS, "model": FOLDER, "components": {NAME: FOLDER, ...},
 * "cases": {CASE: {"references": [PNG, ...], "true_cfg_scale" | "guidance_scale": S,
 * "num_inference_steps": N, "height": H, "width": W}}}; paths are relative to DIR. Inputs from
 * io.safetensors: <case>.prompt_utf8, <case>.negative_prompt_utf8 (absent = no negative prompt),
 * <case>.latents [B, tokens, 64] (B = num_images_per_prompt) and <case>.ref<k>_rgb_uint8 (must
 * equal the decoded PNG k). */
#include "pipeline/pipeline.h"
#include "cli/run_module/run_module.h"
#include "base/files.h"
#include "image/image_io.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The trace sink of one rendered image: "<case>.<scope>.<name>", except the vision tower's "vl.*"
 * which upstream records once per case (both prompts encode the same images). First write wins,
 * so a tensor produced at every step (LongCat's img_ids) is recorded once. */
typedef struct Sink { StWriter *out; const char *case_name; } Sink;

static void sink_emit(void *ctx, const char *scope, const char *name, DType dt, int ndim, const int64_t *shape,
                      const void *data) {
    Sink *s = ctx;
    char full[256];
    if (scope && strncmp(name, "vl.", 3)) snprintf(full, sizeof full, "%s.%s.%s", s->case_name, scope, name);
    else snprintf(full, sizeof full, "%s.%s", s->case_name, name);
    if (!stw_find(s->out, full)) stw_add(s->out, full, dt, ndim, shape, data);
}

/* With num_images_per_prompt = B the pipelines run a batch of B latents on one prompt: the
 * prompt embeddings and reference latents are repeated B times and every per-image tensor gets
 * a batch row. Each image here is rendered on its own (the batch rows are independent); these
 * are the names that then stack along the first dimension. */
static int batched(const char *case_name, const char *full) {
    static const char *const WHOLE[] = {"prompt.prompt_embeds", "prompt.prompt_embeds_mask", "negative.prompt_embeds",
                                        "negative.prompt_embeds_mask", "image_latents", "vae_decode_input",
                                        "vae_decode_output", "image", NULL};
    static const char *const STEP[] = {"noise_pred_cond", "noise_pred_uncond", "noise_pred", "latents", NULL};
    const char *n = full + strlen(case_name) + 1;
    for (int i = 0; WHOLE[i]; i++) if (!strcmp(n, WHOLE[i])) return 1;
    if (strncmp(n, "step", 4)) return 0;
    const char *dot = strchr(n, '.');
    for (int i = 0; dot && STEP[i]; i++) if (!strcmp(dot + 1, STEP[i])) return 1;
    return 0;
}

/* Outputs of B renders: batched names stacked along dimension 0, the others from the first. */
static void merge_batch(RunModule *rm, const char *case_name, StWriter *per, int B) {
    for (int i = 0; i < per[0].n; i++) {
        const StTensor *t = &per[0].t[i];
        if (B == 1 || !batched(case_name, t->name) || t->ndim < 1) { rm_output(rm, t->name, t->dtype, t->ndim, t->shape, t->data); continue; }
        int64_t shape[ST_MAX_DIMS];
        memcpy(shape, t->shape, sizeof shape);
        shape[0] *= B;
        char *buf = xmalloc(t->nbytes * (size_t)B + 1);
        for (int b = 0; b < B; b++) {
            const StTensor *u = stw_find(&per[b], t->name);
            memcpy(buf + t->nbytes * (size_t)b, u ? u->data : t->data, t->nbytes);
        }
        rm_output(rm, t->name, t->dtype, t->ndim, shape, buf);
        free(buf);
    }
}

/* A UTF-8 string input (NULL when absent and optional). */
static char *utf8_input(RunModule *rm, const char *name, int required, Err *e) {
    const StTensor *t = required ? rm_input(rm, name, e) : rm_input_opt(rm, name);
    if (!t) return NULL;
    if (t->dtype != DT_U8) return err_set(e, "%s/io.safetensors: '%s' must be uint8 (UTF-8 bytes)", rm->dir, name), NULL;
    char *s = xmalloc(t->numel + 1);
    memcpy(s, t->data, t->numel);
    s[t->numel] = 0;
    return s;
}

/* Reference k: the PNG named by pipeline.json, checked against the io tensor of the same pixels. */
static int read_reference(RunModule *rm, const char *case_name, int k, const char *file, Image *out, Err *e) {
    char *path = path_join(rm->dir, file), name[192];
    int rc = image_read(path, out, e);
    free(path);
    if (rc) return -1;
    snprintf(name, sizeof name, "%s.ref%d_rgb_uint8", case_name, k);
    const StTensor *t = rm_input_opt(rm, name);
    if (!t) return 0;
    size_t n = (size_t)out->width * out->height * 3;
    if (t->dtype != DT_U8 || t->numel != n || memcmp(t->data, out->data, n))
        return err_set(e, "%s: the pixels of %s differ from io tensor '%s' (expected the same RGB image)", rm->dir, file, name);
    return 0;
}

static const char *json_str(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int run_case(RunModule *rm, const ModelFamily *fam, const FamilyFlavour *fl, const char *case_name, const cJSON *cs, Err *e) {
    const cJSON *cfg = rm->config;
    const char *model = json_str(cfg, "model");
    if (!model) return err_set(e, "%s/pipeline.json: no \"model\" folder", rm->dir);
    const cJSON *refs_j = cJSON_GetObjectItemCaseSensitive(cs, "references");
    const cJSON *steps_j = cJSON_GetObjectItemCaseSensitive(cs, "num_inference_steps");
    const cJSON *g_j = cJSON_GetObjectItemCaseSensitive(cs, fam->guidance_kwarg);
    const cJSON *h_j = cJSON_GetObjectItemCaseSensitive(cs, "height"), *w_j = cJSON_GetObjectItemCaseSensitive(cs, "width");
    int n_refs = cJSON_GetArraySize(refs_j);
    if (!cJSON_IsArray(refs_j) || n_refs < 1 || n_refs > 3)
        return err_set(e, "%s/pipeline.json: case '%s' needs \"references\": 1 to 3 image files", rm->dir, case_name);
    if (!cJSON_IsNumber(steps_j) || steps_j->valueint < 1)
        return err_set(e, "%s/pipeline.json: case '%s' needs a positive \"num_inference_steps\"", rm->dir, case_name);
    /* the diffusers defaults when the call left them out */
    double guidance = cJSON_IsNumber(g_j) ? g_j->valuedouble : fam->pipeline_guidance;

    char key[192];
    snprintf(key, sizeof key, "%s.prompt_utf8", case_name);
    char *prompt = utf8_input(rm, key, 1, e), *negative = NULL;
    if (!prompt) return -1;
    snprintf(key, sizeof key, "%s.negative_prompt_utf8", case_name);
    negative = utf8_input(rm, key, 0, e);
    if (!negative && e->msg[0]) { free(prompt); return -1; }

    /* validate's settings for this call of the diffusers pipeline */
    char *model_dir = path_join(rm->dir, model), steps[32], g[32];
    snprintf(steps, sizeof steps, "%d", steps_j->valueint);
    snprintf(g, sizeof g, "%.17g", guidance);
    const char *keys[8] = {"model_family", "model_flavour", "pretrained_model_name_or_path", "validation_num_inference_steps",
                           "validation_guidance"};
    const char *vals[8] = {fam->name, fl->name, model_dir, steps, g};
    int nk = 5;
    if (fam->reads_guidance_real) {
        keys[nk] = "validation_guidance_real"; vals[nk++] = g;
        /* QwenImageEdit*Pipeline runs true CFG only when a negative prompt is given */
        if (!negative) { keys[nk] = "validation_disable_unconditional"; vals[nk++] = "true"; }
    }
    PipelineOptions po = {.mode = PIPELINE_INFER, .quiet = 1};
    char *comp_dirs[8] = {0};
    const cJSON *comps = cJSON_GetObjectItemCaseSensitive(cfg, "components");
    for (const cJSON *c = comps ? comps->child : NULL; c && po.n_components < 8; c = c->next) {
        if (!cJSON_IsString(c)) continue;
        comp_dirs[po.n_components] = path_join(rm->dir, c->valuestring);
        po.component[po.n_components] = c->string;
        po.component_dir[po.n_components] = comp_dirs[po.n_components];
        po.n_components++;
    }

    Image refs[3] = {{0}};
    int nr = 0, rc = 0;
    for (int k = 0; k < n_refs && !rc; k++) {
        const cJSON *f = cJSON_GetArrayItem(refs_j, k);
        if (!cJSON_IsString(f)) rc = err_set(e, "%s/pipeline.json: case '%s' reference %d is not a file name", rm->dir, case_name, k);
        else if (!(rc = read_reference(rm, case_name, k, f->valuestring, &refs[k], e))) nr++;
    }
    Pipeline *pl = NULL;
    Config *conf = NULL;
    if (!rc) rc = config_from_pairs(&conf, keys, vals, nk, e);
    if (!rc) rc = pipeline_open(&pl, conf, &po, e);
    float *latents = NULL;
    int B = 1;
    int W = cJSON_IsNumber(w_j) ? w_j->valueint : 0, H = cJSON_IsNumber(h_j) ? h_j->valueint : 0;
    if (!rc) {
        if (!W || !H) pipeline_default_size(pl, refs, nr, &W, &H);
        /* the pipelines floor the size to multiples of 16 (VAE factor x patch) */
        W = W / 16 * 16; H = H / 16 * 16;
        const StTensor *lt;
        snprintf(key, sizeof key, "%s.latents", case_name);
        latents = rm_input_f32(rm, key, &lt, e);
        size_t want = (size_t)(W / 16) * (H / 16) * (size_t)pipeline_latent_channels(pl) * 4;
        B = latents && lt->ndim == 3 ? (int)lt->shape[0] : 1;
        if (!latents) rc = -1;
        else if (B < 1 || lt->numel != want * (size_t)B)
            rc = err_set(e, "%s: '%s' has %zu values; a %dx%d image needs %zu per batch row", rm->dir, key, lt->numel, W, H, want);
        const cJSON *nipp = cJSON_GetObjectItemCaseSensitive(cs, "num_images_per_prompt");
        if (!rc && cJSON_IsNumber(nipp) && nipp->valueint != B)
            rc = err_set(e, "%s: case '%s' asks num_images_per_prompt %d but '%s' has %d rows", rm->dir, case_name, nipp->valueint, key, B);
    }
    if (!rc) {
        StWriter *per = xcalloc((size_t)B, sizeof *per);
        for (int b = 0; b < B; b++) stw_init(&per[b]);
        for (int b = 0; b < B && !rc; b++) {
            Sink sink = {&per[b], case_name};
            Trace tr = {sink_emit, &sink, NULL};
            size_t row = (size_t)(W / 16) * (H / 16) * (size_t)pipeline_latent_channels(pl) * 4;
            EditRequest req = {.prompt = prompt, .negative = negative, .refs = refs, .n_refs = nr, .width = W, .height = H,
                               .latents = latents + row * (size_t)b, .trace = &tr};
            Image out = {0};
            rc = pipeline_render(pl, &req, &out, NULL, e);
            image_free(&out);
        }
        if (!rc) merge_batch(rm, case_name, per, B);
        for (int b = 0; b < B; b++) stw_free(&per[b]);
        free(per);
    }
    pipeline_close(pl);
    for (int k = 0; k < nr; k++) image_free(&refs[k]);
    for (int i = 0; i < po.n_components; i++) free(comp_dirs[i]);
    free(latents); free(model_dir); free(prompt); free(negative);
    return rc ? err_prefix(e, "case '%s'", case_name) : 0;
}

int pipeline_run_module(RunModule *rm, Err *e) {
    const FamilyFlavour *fl = NULL;
    const ModelFamily *fam = family_by_pipeline(rm->class_name, &fl);
    if (!fam) return err_set(e, "%s: no pipeline '%s'", rm->dir, rm->class_name);
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(rm->config, "cases");
    if (!cJSON_IsObject(cases) || !cases->child) return err_set(e, "%s/pipeline.json: no \"cases\"", rm->dir);
    for (const cJSON *c = cases->child; c; c = c->next)
        if (run_case(rm, fam, fl, c->string, c, e)) return -1;
    return 0;
}
