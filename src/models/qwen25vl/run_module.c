/* run_module.c — run-module component "Qwen2_5_VLForConditionalGeneration".
 * Inputs: input_ids [B, L]; optional attention_mask [B, L], pixel_values [patches, C*tp*p*p] with
 * image_grid_thw [images, 3]. Outputs: rope_position_ids [3, B, L], rope_deltas [B, 1],
 * inter.image_embeds [image tokens, out_hidden] (when there are images), hidden_states.N
 * [B, L, hidden] for N = 0..layers (N = layers: after the final norm) and logits [B, L, vocab]
 * when the checkpoint has an lm_head (or ties it to the embedding). */
#include "cli/run_module.h"
#include "models/qwen25vl/language.h"
#include "models/qwen25vl/mrope.h"
#include "models/qwen25vl/vision.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An integer input of shape [rows, cols] (any integer dtype) as int64. */
static int64_t *int_input(RunModule *rm, const char *name, int optional, int ndim, const StTensor **tp, Err *e) {
    const StTensor *t = optional ? rm_input_opt(rm, name) : rm_input(rm, name, e);
    *tp = t;
    if (!t) return NULL;
    if (t->ndim != ndim) { err_set(e, "%s: expected %d dimensions, got %d", name, ndim, t->ndim); *tp = NULL; return NULL; }
    float *f = st_to_f32(t);
    int64_t *v = xmalloc((t->numel ? t->numel : 1) * sizeof(int64_t));
    if (t->dtype == DT_I64) memcpy(v, t->data, t->numel * sizeof(int64_t));
    else for (size_t i = 0; i < t->numel; i++) v[i] = (int64_t)f[i];
    free(f);
    return v;
}

typedef struct HiddenSink { float **hs; int b, C, L; } HiddenSink;

static void sink_hidden(void *ctx, int index, const float *h, int L) {
    HiddenSink *s = ctx;
    memcpy(s->hs[index] + (size_t)s->b * L * s->C, h, (size_t)L * s->C * sizeof(float));
}

int qwenvl_run_module(RunModule *rm, Err *e) {
    if (!rm->weights) return err_set(e, "%s: weights.safetensors is required for the text encoder", rm->dir);
    QwenVL m;
    StSet set = { .n = 1, .files = rm->weights };
    if (qwenvl_load_from(&m, rm->config, &set, e)) return -1;
    const QvTextConfig *tc = &m.cfg.text;
    int rc = -1, C = tc->hidden;
    const StTensor *tid, *tmask = NULL, *tgrid = NULL, *tpix = NULL;
    int64_t *ids = NULL, *mask64 = NULL, *grid = NULL, *pos = NULL, *deltas = NULL;
    float *pix = NULL, *img = NULL, *x = NULL, **hs = NULL;
    int *mask = NULL;
    int64_t n_img_rows = 0;
    int n_grid = 0, B = 0, L = 0;
    ids = int_input(rm, "input_ids", 0, 2, &tid, e);
    if (!ids) goto done;
    B = (int)tid->shape[0]; L = (int)tid->shape[1];
    mask64 = int_input(rm, "attention_mask", 1, 2, &tmask, e);
    if (tmask && (tmask->shape[0] != B || tmask->shape[1] != L)) { err_set(e, "attention_mask: shape must equal input_ids [%d, %d]", B, L); goto done; }
    grid = int_input(rm, "image_grid_thw", 1, 2, &tgrid, e);
    if (tgrid) {
        if (tgrid->shape[1] != 3) { err_set(e, "image_grid_thw: expected [images, 3]"); goto done; }
        n_grid = (int)tgrid->shape[0];
        pix = rm_input_f32(rm, "pixel_values", &tpix, e);
        if (!pix) goto done;
        if (tpix->ndim != 2) { err_set(e, "pixel_values: expected [patches, values], got %d dimensions", tpix->ndim); goto done; }
        if (qv_vision_tokens(&m.cfg, grid, n_grid, &n_img_rows, e)) goto done;
        img = xmalloc((size_t)(n_img_rows ? n_img_rows : 1) * m.cfg.vision.out_hidden * sizeof(float));
        if (qv_vision_forward(&m, pix, tpix->shape[0], tpix->shape[1], grid, n_grid, img, e)) goto done;
        int64_t s[2] = { n_img_rows, m.cfg.vision.out_hidden };
        rm_output_f32(rm, "inter.image_embeds", 2, s, img);
        if (m.cfg.vision.out_hidden != C) { err_set(e, "vision_config.out_hidden_size %d differs from hidden_size %d", m.cfg.vision.out_hidden, C); goto done; }
    }
    pos = xmalloc((size_t)3 * B * L * sizeof(int64_t) + 8);
    deltas = xmalloc((size_t)B * sizeof(int64_t) + 8);
    if (qv_rope_index(&m.cfg, ids, mask64, B, L, tgrid ? grid : NULL, n_grid, pos, deltas, e)) goto done;
    { int64_t s[3] = { 3, B, L }; rm_output(rm, "rope_position_ids", DT_I64, 3, s, pos); }
    { int64_t s[2] = { B, 1 }; rm_output(rm, "rope_deltas", DT_I64, 2, s, deltas); }
    hs = xcalloc((size_t)tc->layers + 1, sizeof *hs);
    for (int i = 0; i <= tc->layers; i++) hs[i] = xmalloc((size_t)B * L * C * sizeof(float) + 4);
    x = xmalloc((size_t)L * C * sizeof(float) + 4);
    mask = xmalloc((size_t)L * sizeof(int) + 4);
    int64_t next = 0;
    for (int b = 0; b < B; b++) {
        if (qv_embed_inputs(&m, ids + (size_t)b * L, L, img, n_img_rows, &next, x, e)) { err_prefix(e, "input_ids row %d", b); goto done; }
        for (int i = 0; i < L; i++) mask[i] = mask64 ? mask64[(size_t)b * L + i] != 0 : 1;
        HiddenSink sink = { .hs = hs, .b = b, .C = C, .L = L };
        qv_language_forward(&m, x, L, pos + (size_t)b * L, (size_t)B * L, mask, sink_hidden, &sink);
    }
    if (next != n_img_rows) { err_set(e, "input_ids have %lld <|image_pad|> tokens but the images give %lld features", (long long)next, (long long)n_img_rows); goto done; }
    for (int i = 0; i <= tc->layers; i++) {
        char name[64]; snprintf(name, sizeof name, "hidden_states.%d", i);
        int64_t s[3] = { B, L, C };
        rm_output_f32(rm, name, 3, s, hs[i]);
    }
    if (m.lm_head.w >= 0) {
        float *lg = xmalloc((size_t)B * L * tc->vocab * sizeof(float) + 4);
        if (qv_logits(&m, hs[tc->layers], B * L, lg, e)) { free(lg); goto done; }
        int64_t s[3] = { B, L, tc->vocab };
        rm_output_f32(rm, "logits", 3, s, lg);
        free(lg);
    }
    rc = 0;
done:
    if (hs) for (int i = 0; i <= tc->layers; i++) free(hs[i]);
    free(hs); free(ids); free(mask64); free(grid); free(pix); free(img); free(pos); free(deltas); free(x); free(mask);
    qwenvl_free(&m);
    return rc;
}
