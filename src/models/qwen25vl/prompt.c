/* prompt.c — see prompt.h. */
#include "models/qwen25vl/prompt.h"
#include "models/qwen25vl/language.h"
#include "models/qwen25vl/mrope.h"
#include "models/qwen25vl/vision.h"
#include "image/image_resize.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Pipeline constants (diffusers prompt_template_encode / _start_idx, tokenizer_max_length). */
static const char QWEN_T2I_PRE[] =
    "<|im_start|>system\nDescribe the image by detailing the color, shape, size, texture, quantity, text, spatial "
    "relationships of the objects and background:<|im_end|>\n<|im_start|>user\n";
static const char QWEN_EDIT_PRE[] =
    "<|im_start|>system\nDescribe the key features of the input image (color, shape, size, texture, objects, "
    "background), then explain how the user's text instruction should alter or modify the image. Generate a new image "
    "that meets the user's requirements while maintaining consistency with the original input where appropriate."
    "<|im_end|>\n<|im_start|>user\n";
static const char QWEN_SUFFIX[] = "<|im_end|>\n<|im_start|>assistant\n";
static const char VISION_SLOT[] = "<|vision_start|><|image_pad|><|vision_end|>";
enum { QWEN_T2I_DROP = 34, QWEN_EDIT_DROP = 64, QWEN_T2I_MAX_TOKENS = 1024, QWEN_T2I_MAX_ROWS = 512 };

static const char LONGCAT_T2I_PRE[] =
    "<|im_start|>system\nAs an image captioning expert, generate a descriptive text prompt based on an image content, "
    "suitable for input to a text-to-image model.<|im_end|>\n<|im_start|>user\n";
static const char LONGCAT_EDIT_PRE[] =
    "<|im_start|>system\nAs an image editing expert, first analyze the content and attributes of the input image(s). "
    "Then, based on the user's editing instructions, clearly and precisely determine how to modify the given image(s), "
    "ensuring that only the specified parts are altered and all other aspects remain consistent with the original(s)."
    "<|im_end|>\n<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>";
enum { LONGCAT_TEXT_TOKENS = 512 };

const char *qv_prompt_template(int i) {
    static const char *const ALL[] = {QWEN_T2I_PRE, QWEN_EDIT_PRE, QWEN_SUFFIX, VISION_SLOT, LONGCAT_T2I_PRE, LONGCAT_EDIT_PRE};
    return i >= 0 && i < (int)(sizeof ALL / sizeof ALL[0]) ? ALL[i] : NULL;
}

/* ---------------------------------------------------------------- id lists */

typedef struct Ids { int64_t *v; int n, cap; } Ids;

static void ids_push(Ids *a, int64_t x) {
    if (a->n == a->cap) { a->cap = a->cap ? 2 * a->cap : 256; a->v = xrealloc(a->v, (size_t)a->cap * sizeof *a->v); }
    a->v[a->n++] = x;
}

static int ids_tokenize(Ids *a, Tokenizer *tok, const char *text, Err *e) {
    TokenIds v = {0};
    if (tokenizer_encode(tok, text, strlen(text), &v, e)) { token_ids_free(&v); return -1; }
    for (int i = 0; i < v.n; i++) ids_push(a, v.ids[i]);
    token_ids_free(&v);
    return 0;
}

static int token_id(Tokenizer *tok, const char *text, int64_t *id, Err *e) {
    int v = tokenizer_token_to_id(tok, text);
    if (v < 0) return err_set(e, "tokenizer: no token \"%s\"", text);
    *id = v;
    return 0;
}

/* Replaces each <|image_pad|> id by its image's token count (in order); counts must match. */
static int expand_image_pads(const Ids *in, int64_t pad_id, const int64_t *image_tokens, int n_images, Ids *out, Err *e) {
    int k = 0;
    for (int i = 0; i < in->n; i++) {
        if (in->v[i] != pad_id) { ids_push(out, in->v[i]); continue; }
        if (k >= n_images) return err_set(e, "the prompt has more <|image_pad|> tokens than the %d image(s) given", n_images);
        for (int64_t j = 0; j < image_tokens[k]; j++) ids_push(out, pad_id);
        k++;
    }
    if (k != n_images) return err_set(e, "%d image(s) given but the prompt has %d <|image_pad|> slot(s)", n_images, k);
    return 0;
}

/* ---------------------------------------------------------------- LongCat quotes */

static int utf8_len(unsigned char c) { return c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1; }
static int is_ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* The quote pairs of diffusers' split_quotation: ' ', " ", ‘ ’, “ ”. */
static const char *const QUOTE_OPEN[4] = { "'", "\"", "\xE2\x80\x98", "\xE2\x80\x9C" };
static const char *const QUOTE_CLOSE[4] = { "'", "\"", "\xE2\x80\x99", "\xE2\x80\x9D" };

static int starts(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }

/* End of a quoted span opened at text[p] with pair q, or -1: the first q1/q2 after the opening
 * character must be the closing one (upstream pattern q1 [^q1 q2]*? q2). */
static int quote_end(const char *text, int p, int q, const unsigned char *prot) {
    const char *o = QUOTE_OPEN[q], *c = QUOTE_CLOSE[q];
    if (!starts(text + p, o) || (q == 0 && prot[p])) return -1;
    for (int i = p + (int)strlen(o); text[i]; i += utf8_len((unsigned char)text[i])) {
        int is_c = starts(text + i, c) && !(q == 0 && prot[i]);
        int is_o = starts(text + i, o) && !(q == 0 && prot[i]);
        if (is_c) return i + (int)strlen(c);
        if (is_o) return -1;
    }
    return -1;
}

int qv_split_quotation(const char *text, int **start, int **len, int **quoted) {
    int n = (int)strlen(text), cnt = 0, cap = 0;
    /* apostrophes inside words ([a-zA-Z]+'[a-zA-Z]+, leftmost non-overlapping) are not quotes */
    unsigned char *prot = xcalloc((size_t)n + 1, 1);
    for (int i = 0; i < n;) {
        if (!is_ascii_letter(text[i])) { i++; continue; }
        int j = i;
        while (j < n && is_ascii_letter(text[j])) j++;
        if (j < n && text[j] == '\'' && j + 1 < n && is_ascii_letter(text[j + 1])) {
            prot[j] = 1;
            j++;
            while (j < n && is_ascii_letter(text[j])) j++;
        }
        i = j;
    }
    *start = NULL; *len = NULL; *quoted = NULL;
    int seg = 0;
    for (int p = 0; p < n;) {
        int end = -1;
        for (int q = 0; q < 4 && end < 0; q++) end = quote_end(text, p, q, prot);
        if (end < 0) { p += utf8_len((unsigned char)text[p]); continue; }
        for (int part = 0; part < 2; part++) {
            int s = part ? p : seg, l = part ? end - p : p - seg;
            if (l <= 0) continue;
            if (cnt == cap) {
                cap = cap ? 2 * cap : 8;
                *start = xrealloc(*start, (size_t)cap * sizeof(int)); *len = xrealloc(*len, (size_t)cap * sizeof(int));
                *quoted = xrealloc(*quoted, (size_t)cap * sizeof(int));
            }
            (*start)[cnt] = s; (*len)[cnt] = l; (*quoted)[cnt] = part; cnt++;
        }
        seg = p = end;
    }
    if (seg < n) {
        if (cnt == cap) {
            cap = cap ? 2 * cap : 8;
            *start = xrealloc(*start, (size_t)cap * sizeof(int)); *len = xrealloc(*len, (size_t)cap * sizeof(int));
            *quoted = xrealloc(*quoted, (size_t)cap * sizeof(int));
        }
        (*start)[cnt] = seg; (*len)[cnt] = n - seg; (*quoted)[cnt] = 0; cnt++;
    }
    free(prot);
    return cnt;
}

/* LongCat instruction ids: quoted spans one character at a time, at most 512 tokens. */
static int longcat_text_ids(Tokenizer *tok, const char *text, Ids *out, Err *e) {
    int *st, *ln, *qu;
    int n = qv_split_quotation(text, &st, &ln, &qu), rc = 0;
    char buf[8];
    for (int i = 0; i < n && !rc; i++) {
        if (!qu[i]) {
            char *part = xmalloc((size_t)ln[i] + 1);
            memcpy(part, text + st[i], (size_t)ln[i]); part[ln[i]] = 0;
            rc = ids_tokenize(out, tok, part, e);
            free(part);
            continue;
        }
        for (int p = st[i]; p < st[i] + ln[i] && !rc;) {
            int l = utf8_len((unsigned char)text[p]);
            memcpy(buf, text + p, (size_t)l); buf[l] = 0;
            rc = ids_tokenize(out, tok, buf, e);
            p += l;
        }
    }
    free(st); free(ln); free(qu);
    if (out->n > LONGCAT_TEXT_TOKENS) {
        log_warn("prompt truncated to %d tokens (it has %d)", LONGCAT_TEXT_TOKENS, out->n);
        out->n = LONGCAT_TEXT_TOKENS;
    }
    return rc;
}

/* ---------------------------------------------------------------- ids per kind */

void qv_prompt_ids_free(QvPromptIds *p) { free(p->ids); free(p->mask); memset(p, 0, sizeof *p); }

static int expect_images(QvPromptKind kind, int n_images, Err *e) {
    int lo = 0, hi = 0;
    const char *what = "text-to-image";
    if (kind == QV_PROMPT_QWEN_EDIT_V1) { lo = hi = 1; what = "Qwen-Image-Edit (edit-v1)"; }
    else if (kind == QV_PROMPT_LONGCAT_EDIT) { lo = hi = 1; what = "LongCat-Image-Edit"; }
    else if (kind == QV_PROMPT_QWEN_EDIT_V2) { lo = 0; hi = 1 << 20; }
    if (n_images < lo || n_images > hi)
        return err_setc(e, EXIT_USAGE, "%s prompt encoding takes %s reference image%s, got %d", what,
                        lo == 1 ? "exactly one" : "no", lo == 1 ? "" : "s", n_images);
    return 0;
}

int qv_prompt_ids(QvPromptKind kind, Tokenizer *tok, const QvConfig *cfg, const char *text,
                  const int64_t *image_tokens, int n_images, QvPromptIds *out, Err *e) {
    memset(out, 0, sizeof *out);
    if (expect_images(kind, n_images, e)) return -1;
    Ids raw = {0}, ids = {0}, mask = {0};
    int rc = -1;
    if (kind == QV_PROMPT_QWEN_T2I || kind == QV_PROMPT_QWEN_EDIT_V1 || kind == QV_PROMPT_QWEN_EDIT_V2) {
        const char *pre = kind == QV_PROMPT_QWEN_T2I ? QWEN_T2I_PRE : QWEN_EDIT_PRE;
        size_t cap = strlen(pre) + strlen(text) + strlen(QWEN_SUFFIX) + (size_t)n_images * (strlen(VISION_SLOT) + 32) + 1;
        char *full = xmalloc(cap), *w = full;
        w += sprintf(w, "%s", pre);
        if (kind == QV_PROMPT_QWEN_EDIT_V1) w += sprintf(w, "%s", VISION_SLOT);
        if (kind == QV_PROMPT_QWEN_EDIT_V2)
            for (int k = 0; k < n_images; k++) w += sprintf(w, "Picture %d: %s", k + 1, VISION_SLOT);
        sprintf(w, "%s%s", text, QWEN_SUFFIX);
        rc = ids_tokenize(&raw, tok, full, e);
        free(full);
        if (rc || (rc = expand_image_pads(&raw, cfg->image_token_id, image_tokens, n_images, &ids, e))) goto done;
        int drop = kind == QV_PROMPT_QWEN_T2I ? QWEN_T2I_DROP : QWEN_EDIT_DROP;
        if (kind == QV_PROMPT_QWEN_T2I && ids.n > QWEN_T2I_MAX_TOKENS + drop) ids.n = QWEN_T2I_MAX_TOKENS + drop;
        if (ids.n - drop > QV_QWEN_MAX_TEXT_ROWS) {
            rc = err_setc(e, EXIT_USAGE, "prompt too long: %d tokens of prompt embedding (its text, image tokens and template), "
                          "more than the %d text positions of Qwen-Image's transformer (diffusers' RoPE table; the edit pipelines "
                          "do not truncate): shorten the text", ids.n - drop, QV_QWEN_MAX_TEXT_ROWS);
            goto done;
        }
        for (int i = 0; i < ids.n; i++) ids_push(&mask, 1);
        if (ids.n < drop) { rc = err_set(e, "prompt template gave %d tokens, fewer than the %d the pipeline drops", ids.n, drop); goto done; }
        out->keep0 = drop;
        out->keep1 = kind == QV_PROMPT_QWEN_T2I && ids.n > drop + QWEN_T2I_MAX_ROWS ? drop + QWEN_T2I_MAX_ROWS : ids.n;
    } else {
        Ids pre = {0}, txt = {0}, suf = {0};
        int64_t pad = 0;
        rc = token_id(tok, "<|endoftext|>", &pad, e);
        if (!rc) rc = ids_tokenize(&raw, tok, kind == QV_PROMPT_LONGCAT_EDIT ? LONGCAT_EDIT_PRE : LONGCAT_T2I_PRE, e);
        if (!rc) rc = expand_image_pads(&raw, cfg->image_token_id, image_tokens, n_images, &pre, e);
        if (!rc) rc = longcat_text_ids(tok, text, &txt, e);
        if (!rc) rc = ids_tokenize(&suf, tok, QWEN_SUFFIX, e);
        if (!rc) {
            int prefix_len = pre.n;
            if (kind == QV_PROMPT_LONGCAT_EDIT) {
                prefix_len = -1;
                for (int i = 0; i < pre.n && prefix_len < 0; i++) if (pre.v[i] == cfg->vision_start_token_id) prefix_len = i;
                if (prefix_len < 0) rc = err_set(e, "LongCat edit prefix has no <|vision_start|> token (id %d)", cfg->vision_start_token_id);
            }
            for (int i = 0; i < pre.n; i++) { ids_push(&ids, pre.v[i]); ids_push(&mask, 1); }
            for (int i = 0; i < LONGCAT_TEXT_TOKENS; i++) { ids_push(&ids, i < txt.n ? txt.v[i] : pad); ids_push(&mask, i < txt.n); }
            for (int i = 0; i < suf.n; i++) { ids_push(&ids, suf.v[i]); ids_push(&mask, 1); }
            out->keep0 = prefix_len; out->keep1 = ids.n - suf.n;
        }
        free(pre.v); free(txt.v); free(suf.v);
        if (rc) goto done;
    }
    out->ids = ids.v; out->mask = mask.v; out->L = ids.n;
    ids.v = mask.v = NULL;
    rc = 0;
done:
    free(raw.v); free(ids.v); free(mask.v);
    return rc;
}

/* ---------------------------------------------------------------- encoding */

void qv_prompt_embeds_free(QvPromptEmbeds *p) { free(p->embeds); free(p->mask); free(p->text_ids); memset(p, 0, sizeof *p); }

int qwenvl_encode_ids(const QwenVL *m, QvPromptKind kind, const QvPromptIds *ids, const float *image_embeds,
                      int64_t n_image_rows, const int64_t *grids, int n_images, const Trace *trace, QvPromptEmbeds *out, Err *e) {
    memset(out, 0, sizeof *out);
    int L = ids->L, C = m->cfg.text.hidden;
    int64_t *pos = xmalloc((size_t)3 * L * sizeof(int64_t) + 8), delta, next = 0;
    float *x = xmalloc((size_t)L * C * sizeof(float) + 4);
    int *key = xmalloc((size_t)L * sizeof(int) + 4);
    int rc = -1;
    if (qv_rope_index(&m->cfg, ids->ids, ids->mask, 1, L, n_images ? grids : NULL, n_images, pos, &delta, e)) goto done;
    if (qv_embed_inputs(m, ids->ids, L, image_embeds, n_image_rows, &next, x, e)) goto done;
    if (next != n_image_rows) { err_set(e, "the prompt has %lld image tokens but the images give %lld rows", (long long)next, (long long)n_image_rows); goto done; }
    for (int i = 0; i < L; i++) key[i] = ids->mask[i] != 0;
    qv_language_forward(m, x, L, pos, (size_t)L, key, NULL, NULL);
    if (trace_on(trace)) {
        int64_t s2[2] = {1, L}, s3[3] = {3, 1, L}, s11[2] = {1, 1}, sx[3] = {1, L, C};
        trace_i64(trace, "input_ids", 2, s2, ids->ids);
        trace_i64(trace, "attention_mask", 2, s2, ids->mask);
        trace_i64(trace, "rope_position_ids", 3, s3, pos);
        trace_i64(trace, "rope_deltas", 2, s11, &delta);
        trace_f32(trace, "hidden_states_last", 3, sx, x);
    }
    /* Qwen pipelines first drop masked rows (none for one prompt: its mask is all ones) */
    int n = ids->keep1 - ids->keep0;
    out->L = n; out->hidden = C;
    out->embeds = xmalloc((size_t)(n ? n : 1) * C * sizeof(float));
    out->mask = xmalloc((size_t)(n ? n : 1) * sizeof(int64_t));
    memcpy(out->embeds, x + (size_t)ids->keep0 * C, (size_t)n * C * sizeof(float));
    for (int i = 0; i < n; i++) out->mask[i] = ids->mask[ids->keep0 + i];
    if (kind == QV_PROMPT_LONGCAT_T2I || kind == QV_PROMPT_LONGCAT_EDIT) {
        out->text_ids = xmalloc((size_t)(n ? n : 1) * 3 * sizeof(float));
        for (int i = 0; i < n; i++) { out->text_ids[3 * i] = 0; out->text_ids[3 * i + 1] = (float)i; out->text_ids[3 * i + 2] = (float)i; }
    }
    if (trace_on(trace)) {
        int64_t se[3] = {1, n, C}, sm[2] = {1, n}, st[2] = {n, 3};
        trace_f32(trace, "prompt_embeds", 3, se, out->embeds);
        if (out->text_ids) trace_f32(trace, "text_ids", 2, st, out->text_ids);
        else trace_i64(trace, "prompt_embeds_mask", 2, sm, out->mask);
    }
    rc = 0;
done:
    free(pos); free(x); free(key);
    if (rc) qv_prompt_embeds_free(out);
    return rc;
}

/* The processor's and the vision tower's outputs, as upstream reports them for all images:
 * pixel_values rows concatenated (only the first 16 are recorded), grids [n, 3], merged rows. */
static void trace_vision(const Trace *trace, const QvImageInput *images, int n_images, const int64_t *grids,
                         int64_t patch_features, const float *image_embeds, int64_t rows, int width) {
    int64_t head = 0, cap = 16;
    float *buf = xmalloc((size_t)cap * patch_features * sizeof(float));
    for (int k = 0; k < n_images && head < cap; k++) {
        int64_t n = images[k].grid[0] * images[k].grid[1] * images[k].grid[2];
        if (n > cap - head) n = cap - head;
        memcpy(buf + head * patch_features, images[k].pixel_values, (size_t)(n * patch_features) * sizeof(float));
        head += n;
    }
    int64_t sp[2] = {head, patch_features}, sg[2] = {n_images, 3}, se[2] = {rows, width};
    trace_f32(trace, "vl.pixel_values_head", 2, sp, buf);
    trace_i64(trace, "vl.image_grid_thw", 2, sg, grids);
    trace_f32(trace, "vl.image_embeds", 2, se, image_embeds);
    free(buf);
}

int qwenvl_encode_prompt_processed(const QwenVL *m, Tokenizer *tok, QvPromptKind kind, const char *text,
                                   const QvImageInput *images, int n_images, const Trace *trace, QvPromptEmbeds *out, Err *e) {
    memset(out, 0, sizeof *out);
    const QvConfig *c = &m->cfg;
    int64_t *tokens = xmalloc(((size_t)n_images + 1) * sizeof(int64_t));
    int64_t *grids = xmalloc(((size_t)n_images + 1) * 3 * sizeof(int64_t)), total = 0;
    for (int k = 0; k < n_images; k++) {
        memcpy(grids + 3 * k, images[k].grid, 3 * sizeof(int64_t));
        if (qv_vision_tokens(c, grids + 3 * k, 1, &tokens[k], e)) { free(tokens); free(grids); return err_prefix(e, "reference image %d", k + 1); }
        total += tokens[k];
    }
    QvPromptIds ids;
    if (qv_prompt_ids(kind, tok, c, text, tokens, n_images, &ids, e)) { free(tokens); free(grids); return -1; }
    int O = c->vision.out_hidden, rc = 0;
    float *img = xmalloc((size_t)(total ? total : 1) * O * sizeof(float));
    int64_t row = 0;
    for (int k = 0; k < n_images && !rc; k++) {
        const int64_t *g = images[k].grid;
        rc = qv_vision_forward(m, images[k].pixel_values, g[0] * g[1] * g[2], m->patch_embed.in, g, 1, img + (size_t)row * O, e);
        row += tokens[k];
    }
    if (!rc && n_images && trace_on(trace)) trace_vision(trace, images, n_images, grids, m->patch_embed.in, img, total, O);
    if (!rc) rc = qwenvl_encode_ids(m, kind, &ids, img, total, grids, n_images, trace, out, e);
    free(img); free(tokens); free(grids);
    qv_prompt_ids_free(&ids);
    return rc;
}

int qv_prompt_condition_image(QvPromptKind kind, const Image *ref, Image *out, Err *e) {
    int w, h;
    double ratio = (double)ref->width / ref->height;
    switch (kind) {
    case QV_PROMPT_QWEN_EDIT_V1: qwenimage_calculate_dimensions(QWENIMAGE_VAE_IMAGE_AREA, ratio, &w, &h); break;
    case QV_PROMPT_QWEN_EDIT_V2: qwenimage_calculate_dimensions(QWENIMAGE_CONDITION_IMAGE_AREA, ratio, &w, &h); break;
    case QV_PROMPT_LONGCAT_EDIT: {
        /* the VAE image first, then half of it from that resized image */
        Image full;
        longcat_calculate_dimensions(1024.0 * 1024.0, ratio, &w, &h);
        if (image_resize_lanczos(ref, w, h, &full, e)) return -1;
        int rc = image_resize_lanczos(&full, w / 2, h / 2, out, e);
        image_free(&full);
        return rc;
    }
    default: return err_set(e, "text-to-image prompt encoding takes no reference image");
    }
    return image_resize_lanczos(ref, w, h, out, e);
}

int qwenvl_encode_prompt(const QwenVL *m, Tokenizer *tok, const QwenVLProcessorConfig *pc, QvPromptKind kind,
                         const char *text, const Image *refs, int n_refs, const Trace *trace, QvPromptEmbeds *out, Err *e) {
    memset(out, 0, sizeof *out);
    if (expect_images(kind, n_refs, e)) return -1;
    QvImageInput *in = xcalloc((size_t)n_refs + 1, sizeof *in);
    float **pix = xcalloc((size_t)n_refs + 1, sizeof *pix);
    int rc = 0;
    for (int k = 0; k < n_refs && !rc; k++) {
        Image cond = {0};
        int rows, g[3];
        rc = qv_prompt_condition_image(kind, &refs[k], &cond, e);
        if (!rc) rc = qwenvl_process_image(pc, &cond, &pix[k], &rows, g, e);
        image_free(&cond);
        if (rc) { err_prefix(e, "reference image %d", k + 1); break; }
        in[k].pixel_values = pix[k];
        for (int j = 0; j < 3; j++) in[k].grid[j] = g[j];
    }
    if (!rc) rc = qwenvl_encode_prompt_processed(m, tok, kind, text, in, n_refs, trace, out, e);
    for (int k = 0; k < n_refs; k++) free(pix[k]);
    free(pix); free(in);
    return rc;
}
