#include "pipeline/prompt_encoder.h"
#include "image/image_resize.h"
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

int prompt_encoder_open(PromptEncoder **out, const ModelDir *md, QvPromptKind kind, QuantKind precision, Err *e) {
    *out = NULL;
    PromptEncoder *p = xcalloc(1, sizeof *p);
    const char *te = model_dir_require(md, "text_encoder", e);
    const char *td = te ? model_dir_require(md, "tokenizer", e) : NULL;
    const char *pd = model_dir_path(md, "processor");
    if (!pd) pd = model_dir_path(md, "text_processor");
    if (!td) { free(p); return -1; }
    p->kind = kind;
    qwenvl_processor_config_default(&p->proc);
    if (pd && qwenvl_processor_config_load(pd, &p->proc, e)) { free(p); return -1; }
    if (!(p->tok = tokenizer_load(td, e))) { free(p); return -1; }
    if (qwenvl_load(&p->model, te, e)) { tokenizer_free(p->tok); free(p); return -1; }
    if (qwenvl_quantize(&p->model, precision, e)) { prompt_encoder_close(p); return -1; }
    *out = p;
    return 0;
}

void prompt_encoder_close(PromptEncoder *p) {
    if (!p) return;
    qwenvl_free(&p->model);
    tokenizer_free(p->tok);
    free(p);
}

int prompt_encoder_embed(PromptEncoder *p, const char *prompt, const Image *refs, int n_refs, const Trace *trace,
                         float **embeds, int *L, int *dim, Err *e) {
    int edit = p->kind == QV_PROMPT_QWEN_EDIT_V1 || p->kind == QV_PROMPT_QWEN_EDIT_V2 || p->kind == QV_PROMPT_LONGCAT_EDIT;
    if (!edit) n_refs = 0;
    if (edit && n_refs < 1) return err_set(e, "the edit flavour needs at least one reference image for the prompt");
    if ((p->kind == QV_PROMPT_QWEN_EDIT_V1 || p->kind == QV_PROMPT_LONGCAT_EDIT) && n_refs > 1) n_refs = 1; /* one-reference pipelines */
    if (n_refs > 3) n_refs = 3;
    /* the pipeline's resize of each reference and the processor happen inside */
    QvPromptEmbeds out = {0};
    int rc = qwenvl_encode_prompt(&p->model, p->tok, &p->proc, p->kind, prompt, refs, n_refs, trace, &out, e);
    if (!rc) { *embeds = out.embeds; *L = out.L; *dim = out.hidden; out.embeds = NULL; }
    qv_prompt_embeds_free(&out);
    return rc;
}

int prompt_encoder_to_writer(void *ctx, const char *prompt, const Image *refs, int n_refs, StWriter *out, Err *e) {
    float *emb; int L, dim;
    if (prompt_encoder_embed(ctx, prompt, refs, n_refs, NULL, &emb, &L, &dim, e)) return -1;
    int64_t shape[2] = {L, dim};
    stw_add_f32(out, "prompt_embeds", 2, shape, emb);
    free(emb);
    return 0;
}

int prompt_encoder_condition_pixels(void *ctx, const Image *ref, StWriter *out, Err *e) {
    PromptEncoder *p = ctx;
    Image cond = {0};
    float *pix = NULL;
    int rows = 0, g[3];
    int rc = qv_prompt_condition_image(p->kind, ref, &cond, e);
    if (!rc) rc = qwenvl_process_image(&p->proc, &cond, &pix, &rows, g, e);
    if (!rc) {
        int64_t shape[2] = {rows, (int64_t)3 * p->proc.temporal_patch_size * p->proc.patch_size * p->proc.patch_size}, three = 3;
        int64_t grid[3] = {g[0], g[1], g[2]};
        stw_add_f32(out, "pixel_values", 2, shape, pix);
        stw_add(out, "image_grid_thw", DT_I64, 1, &three, grid);
    }
    free(pix); image_free(&cond);
    return rc;
}

int prompt_encoder_processed_to_writer(void *ctx, const char *prompt, const ConditionPixels *refs, int n_refs, StWriter *out,
                                       Err *e) {
    PromptEncoder *p = ctx;
    QvImageInput in[DENOISE_MAX_IMAGES];
    if (n_refs > DENOISE_MAX_IMAGES) return err_set(e, "%d references; at most %d are supported", n_refs, DENOISE_MAX_IMAGES);
    for (int k = 0; k < n_refs; k++) {
        if (refs[k].values != p->model.patch_embed.in)
            return err_set(e, "reference %d: prepared pixel rows have %lld values, this text encoder takes %d (prepared for another "
                           "model? delete the conditioning_image_embeds cache)", k + 1, (long long)refs[k].values, p->model.patch_embed.in);
        in[k].pixel_values = refs[k].pixel_values;
        memcpy(in[k].grid, refs[k].grid, sizeof in[k].grid);
    }
    QvPromptEmbeds emb = {0};
    int rc = qwenvl_encode_prompt_processed(&p->model, p->tok, p->kind, prompt, in, n_refs, NULL, &emb, e);
    if (!rc) { int64_t shape[2] = {emb.L, emb.hidden}; stw_add_f32(out, "prompt_embeds", 2, shape, emb.embeds); }
    qv_prompt_embeds_free(&emb);
    return rc;
}
