/* run_module.c — run-module component "Qwen2_5_VLForConditionalGeneration".
 * Inputs: input_ids [B, L]; optional attention_mask [B, L], pixel_values [patches, C*tp*p*p] with
 * image_grid_thw [images, 3]. Outputs: rope_position_ids [3, B, L], rope_deltas [B, 1],
 * inter.image_embeds [image tokens, out_hidden] (when there are images), hidden_states.N
 * [B, L, hidden] for N = 0..layers (N = layers: after the final norm) and logits [B, L, vocab]
 * when the checkpoint has an lm_head (or ties it to the embedding).
 * When the io file has the raw images (image<k>_rgb_uint8 [H, W, 3]), pixel_values is computed from
 * them by our Qwen2-VL processor (DIR/preprocessor_config.json, or the processor class defaults of
 * the golden's transformers version: max_pixels 28*28*1280), written as an output and fed to the
 * vision tower; their grids must equal image_grid_thw. */
#include "cli/run_module/run_module.h"
#include "models/qwen25vl/language.h"
#include "models/qwen25vl/mrope.h"
#include "models/qwen25vl/processor.h"
#include "base/files.h"
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

/* pixel_values from the raw images image0_rgb_uint8, image1_... when the io file has them; *pix
 * stays NULL when it has none. */
static int processed_pixels(RunModule *rm, const int64_t *grid, int n_grid, float **pix, int64_t *rows, int64_t *cols, Err *e) {
    *pix = NULL;
    int n = 0;
    char name[64];
    for (;; n++) {
        snprintf(name, sizeof name, "image%d_rgb_uint8", n);
        if (!rm_input_opt(rm, name)) break;
    }
    if (!n) return 0;
    if (n != n_grid) return err_set(e, "io has %d raw images but image_grid_thw has %d rows", n, n_grid);
    QwenVLProcessorConfig pc;
    qwenvl_processor_config_default(&pc);
    pc.max_pixels = 28L * 28 * 1280;
    char *pp = path_join(rm->dir, "preprocessor_config.json");
    int rc = file_exists(pp) ? qwenvl_processor_config_load(pp, &pc, e) : 0;
    free(pp);
    if (rc) return -1;
    Image *imgs = xcalloc((size_t)n, sizeof *imgs);
    for (int k = 0; k < n && !rc; k++) {
        snprintf(name, sizeof name, "image%d_rgb_uint8", k);
        const StTensor *t = rm_input_opt(rm, name);
        if (t->dtype != DT_U8 || t->ndim != 3 || t->shape[2] != 3) rc = err_set(e, "%s: expected uint8 [H, W, 3]", name);
        else imgs[k] = (Image){ .width = (int)t->shape[1], .height = (int)t->shape[0], .channels = 3, .data = (uint8_t *)t->data };
    }
    int total = 0, (*g)[3] = xcalloc((size_t)n, sizeof *g);
    if (!rc) rc = qwenvl_process_images(&pc, imgs, n, pix, &total, g, e);
    for (int k = 0; k < n && !rc; k++)
        if (g[k][0] != grid[3 * k] || g[k][1] != grid[3 * k + 1] || g[k][2] != grid[3 * k + 2])
            rc = err_set(e, "image%d_rgb_uint8: the processor gives grid (%d, %d, %d), image_grid_thw says (%lld, %lld, %lld)", k,
                         g[k][0], g[k][1], g[k][2], (long long)grid[3 * k], (long long)grid[3 * k + 1], (long long)grid[3 * k + 2]);
    free(imgs); free(g);
    if (rc) { free(*pix); *pix = NULL; return -1; }
    *rows = total;
    *cols = (int64_t)3 * pc.temporal_patch_size * pc.patch_size * pc.patch_size;
    int64_t s[2] = { *rows, *cols };
    rm_output_f32(rm, "pixel_values", 2, s, *pix);
    return 0;
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
        int64_t prow = 0, pcol = 0;
        if (processed_pixels(rm, grid, n_grid, &pix, &prow, &pcol, e)) goto done;
        if (!pix) {
            pix = rm_input_f32(rm, "pixel_values", &tpix, e);
            if (!pix) goto done;
            if (tpix->ndim != 2) { err_set(e, "pixel_values: expected [patches, values], got %d dimensions", tpix->ndim); goto done; }
            prow = tpix->shape[0]; pcol = tpix->shape[1];
        }
        if (qv_vision_tokens(&m.cfg, grid, n_grid, &n_img_rows, e)) goto done;
        img = xmalloc((size_t)(n_img_rows ? n_img_rows : 1) * m.cfg.vision.out_hidden * sizeof(float));
        if (qv_vision_forward(&m, pix, prow, pcol, grid, n_grid, img, e)) goto done;
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
