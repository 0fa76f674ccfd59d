#include "train/prompt_glue.h"
#include "data/image_resize.h"
#include "models/qwen25vl/model.h"
#include "models/qwen25vl/processor.h"
#include "models/qwen25vl/prompt.h"
#include "models/qwen25vl/tokenizer.h"
#include <stdlib.h>
#include <string.h>

struct PromptEncoder {
    QwenVL model;
    Tokenizer *tok;
    QvPromptKind kind;
    QwenVLProcessorConfig proc;
};

static int tokenize(void *ctx, const char *text, int64_t **ids, int *n, Err *e) {
    TokenIds t = {0};
    if (tokenizer_encode(ctx, text, strlen(text), &t, e)) return -1;
    *ids = xmalloc((size_t)(t.n ? t.n : 1) * sizeof(int64_t));
    for (int i = 0; i < t.n; i++) (*ids)[i] = t.ids[i];
    *n = t.n;
    token_ids_free(&t);
    return 0;
}

int prompt_encoder_open(PromptEncoder **out, const ModelDir *md, const char *family, const char *flavour, Err *e) {
    *out = NULL;
    PromptEncoder *p = xcalloc(1, sizeof *p);
    const char *te = model_dir_require(md, "text_encoder", e);
    const char *td = te ? model_dir_require(md, "tokenizer", e) : NULL;
    const char *pd = model_dir_path(md, "processor");
    if (!pd) pd = model_dir_path(md, "text_processor");
    if (!td || qv_prompt_kind(family, flavour, &p->kind, e)) { free(p); return -1; }
    qwenvl_processor_config_default(&p->proc);
    if (pd && qwenvl_processor_config_load(pd, &p->proc, e)) { free(p); return -1; }
    if (!(p->tok = tokenizer_load(td, e))) { free(p); return -1; }
    if (qwenvl_load(&p->model, te, e)) { tokenizer_free(p->tok); free(p); return -1; }
    *out = p;
    return 0;
}

void prompt_encoder_close(PromptEncoder *p) {
    if (!p) return;
    qwenvl_free(&p->model);
    tokenizer_free(p->tok);
    free(p);
}

/* The image the pipeline hands the VL processor for reference k. */
static int condition_image(const PromptEncoder *p, const Image *ref, Image *out, Err *e) {
    double ratio = (double)ref->width / ref->height;
    int w, h;
    switch (p->kind) {
    case QV_PROMPT_QWEN_EDIT_V1:
        qwenimage_calculate_dimensions(QWENIMAGE_VAE_IMAGE_AREA, ratio, &w, &h);
        return image_resize_lanczos(ref, w, h, out, e);
    case QV_PROMPT_QWEN_EDIT_V2:
        qwenimage_calculate_dimensions(QWENIMAGE_CONDITION_IMAGE_AREA, ratio, &w, &h);
        return image_resize_lanczos(ref, w, h, out, e);
    case QV_PROMPT_LONGCAT_EDIT: {
        longcat_calculate_dimensions(1024.0 * 1024.0, ratio, &w, &h);
        Image full = {0};
        if (image_resize_lanczos(ref, w, h, &full, e)) return -1;
        int rc = image_resize_lanczos(&full, w / 2, h / 2, out, e);
        image_free(&full);
        return rc;
    }
    default:
        return err_set(e, "this flavour takes no reference images");
    }
}

int prompt_encoder_embed(PromptEncoder *p, const char *prompt, const Image *refs, int n_refs, float **embeds, int *L,
                         int *dim, Err *e) {
    int edit = p->kind == QV_PROMPT_QWEN_EDIT_V1 || p->kind == QV_PROMPT_QWEN_EDIT_V2 || p->kind == QV_PROMPT_LONGCAT_EDIT;
    if (!edit) n_refs = 0;
    if (edit && n_refs < 1) return err_set(e, "the edit flavour needs at least one reference image for the prompt");
    if ((p->kind == QV_PROMPT_QWEN_EDIT_V1 || p->kind == QV_PROMPT_LONGCAT_EDIT) && n_refs > 1) n_refs = 1; /* one-reference pipelines */
    QvImageInput imgs[3];
    float *pv[3] = {0};
    int rc = 0;
    for (int k = 0; k < n_refs && k < 3 && !rc; k++) {
        Image c = {0};
        if ((rc = condition_image(p, &refs[k], &c, e))) break;
        int rows, grid[3];
        rc = qwenvl_process_image(&p->proc, &c, &pv[k], &rows, grid, e);
        image_free(&c);
        imgs[k].pixel_values = pv[k];
        for (int d = 0; d < 3; d++) imgs[k].grid[d] = grid[d];
    }
    QvPromptEmbeds out = {0};
    QvTokenizer tk = {tokenize, p->tok};
    if (!rc) rc = qwenvl_encode_prompt(&p->model, &tk, p->kind, prompt, imgs, n_refs, &out, e);
    if (!rc) { *embeds = out.embeds; *L = out.L; *dim = out.hidden; out.embeds = NULL; }
    qv_prompt_embeds_free(&out);
    for (int k = 0; k < 3; k++) free(pv[k]);
    return rc;
}

int prompt_encoder_to_writer(void *ctx, const char *prompt, const Image *refs, int n_refs, StWriter *out, Err *e) {
    float *emb; int L, dim;
    if (prompt_encoder_embed(ctx, prompt, refs, n_refs, &emb, &L, &dim, e)) return -1;
    int64_t shape[2] = {L, dim};
    stw_add_f32(out, "prompt_embeds", 2, shape, emb);
    free(emb);
    return 0;
}
