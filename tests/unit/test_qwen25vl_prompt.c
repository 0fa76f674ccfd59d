/* test_qwen25vl_prompt.c — prompt encoding per family: LongCat's quote split, the text-to-image
 * layouts on the real vocabulary (tests/data/qwen_tokenizer), and the upstream pipelines end to
 * end: from the instruction text and the raw reference images, with the tiny bf16 text encoder of
 * the pipeline goldens (tests/golden/<name>_pipeline), the token ids, masks and M-RoPE positions
 * must equal theirs and prompt_embeds must match (Qwen-Image-Edit with one reference, Edit-2509
 * with two, LongCat-Image-Edit with the instruction padded to 512 in the middle). */
#include "test_util.h"
#include "models/qwen25vl/mrope.h"
#include "models/qwen25vl/prompt.h"
#include <math.h>

static void check_split(const char *text, int n_want, const char *const *parts, const int *quoted) {
    int *st, *ln, *qu;
    int n = qv_split_quotation(text, &st, &ln, &qu);
    assert_int_equal(n, n_want);
    for (int i = 0; i < n; i++) {
        char buf[256];
        memcpy(buf, text + st[i], (size_t)ln[i]); buf[ln[i]] = 0;
        assert_string_equal(buf, parts[i]);
        assert_int_equal(qu[i], quoted[i]);
    }
    free(st); free(ln); free(qu);
}

static void test_split_quotation(void **s) {
    (void)s;
    /* the golden LongCat prompt (split recorded in its README) */
    const char *p1[] = { "Don't change the cat; write ", "\"OPEN 24h\"", " on the sign and make the sky orange." };
    check_split("Don't change the cat; write \"OPEN 24h\" on the sign and make the sky orange.", 3, p1, (int[]){ 0, 1, 0 });
    const char *p2[] = { "Please write ", "'Hello'", " on the blackboard for me." };
    check_split("Please write 'Hello' on the blackboard for me.", 3, p2, (int[]){ 0, 1, 0 });
    /* curly pairs, a quote at the very start, word-internal apostrophes inside a quote */
    const char *p3[] = { "\xE2\x80\x9C" "caf\xC3\xA9" "\xE2\x80\x9D", " and ", "\xE2\x80\x98it's\xE2\x80\x99" };
    check_split("\xE2\x80\x9C" "caf\xC3\xA9" "\xE2\x80\x9D and \xE2\x80\x98it's\xE2\x80\x99", 3, p3, (int[]){ 1, 0, 1 });
    const char *p4[] = { "it's 'open" };
    check_split("it's 'open", 1, p4, (int[]){ 0 });
    check_split("", 0, NULL, NULL);
    const char *p5[] = { "say ", "'a'", "'b'" };
    check_split("say 'a''b'", 3, p5, (int[]){ 0, 1, 1 });
}

static Tokenizer *load_tok(void) {
    Err e = {0};
    Tokenizer *t = tokenizer_load("tests/data/qwen_tokenizer", &e);
    if (!t) fail_msg("%s", e.msg);
    return t;
}

static void test_text_to_image_layouts(void **s) {
    (void)s;
    Tokenizer *tok = load_tok();
    QvConfig c; memset(&c, 0, sizeof c);
    c.image_token_id = QWEN_TOKEN_IMAGE_PAD; c.vision_start_token_id = QWEN_TOKEN_VISION_START;
    c.vision_end_token_id = QWEN_TOKEN_VISION_END; c.video_token_id = 151656; c.vision.merge = 2;
    QvPromptIds p; Err e = {0};
    /* Qwen text-to-image: the 34-token system turn is dropped, the prompt starts right after it */
    assert_int_equal(qv_prompt_ids(QV_PROMPT_QWEN_T2I, tok, &c, "a cat", NULL, 0, &p, &e), 0);
    assert_int_equal(p.keep0, 34);
    assert_int_equal(p.ids[33], 198);                  /* "\n" after user */
    assert_int_equal(p.keep1, p.L);
    assert_int_equal(p.L - 34, 2 + 5);
    qv_prompt_ids_free(&p);
    /* LongCat text-to-image: 36-token prefix, 512 text rows (pads masked), 5-token suffix */
    assert_int_equal(qv_prompt_ids(QV_PROMPT_LONGCAT_T2I, tok, &c, "", NULL, 0, &p, &e), 0);
    assert_int_equal(p.keep0, 36);
    assert_int_equal(p.L, 36 + 512 + 5);
    assert_int_equal(p.keep1, 36 + 512);
    for (int i = 36; i < 36 + 512; i++) { assert_int_equal(p.ids[i], QWEN_TOKEN_ENDOFTEXT); assert_int_equal(p.mask[i], 0); }
    qv_prompt_ids_free(&p);
    /* quoted text one character at a time: "AB" -> ", A, B, " (4 ids), not one BPE piece */
    assert_int_equal(qv_prompt_ids(QV_PROMPT_LONGCAT_T2I, tok, &c, "say \"AB\"", NULL, 0, &p, &e), 0);
    int n = 0;
    for (int i = 36; i < 36 + 512; i++) n += p.mask[i] != 0;
    assert_int_equal(n, 2 + 4);                        /* "say", " ", then the 4 characters */
    qv_prompt_ids_free(&p);
    /* image counts per kind */
    int64_t nt[2] = { 4, 4 };
    assert_int_equal(qv_prompt_ids(QV_PROMPT_QWEN_EDIT_V1, tok, &c, "x", nt, 2, &p, &e), -1);
    assert_contains(e.msg, "exactly one");
    assert_int_equal(qv_prompt_ids(QV_PROMPT_QWEN_T2I, tok, &c, "x", nt, 1, &p, &e), -1);
    tokenizer_free(tok);
}

/* "a" followed by k times " a": one token per " a" on the Qwen vocabulary. */
static char *a_words(int k) {
    char *t = malloc(2 * (size_t)k + 2), *w = t;
    *w++ = 'a';
    for (int i = 0; i < k; i++) { *w++ = ' '; *w++ = 'a'; }
    *w = 0;
    return t;
}

/* Long prompts: Qwen-Image's transformer has 4096 text positions and its edit pipelines do not
 * truncate, so a longer prompt embedding is refused before the text encoder runs (exit 2), exactly
 * at the boundary; LongCat truncates its text to 512 tokens, so an 8000-word caption is processed. */
static void test_long_prompts(void **s) {
    (void)s;
    Tokenizer *tok = load_tok();
    QvConfig c; memset(&c, 0, sizeof c);
    c.image_token_id = QWEN_TOKEN_IMAGE_PAD; c.vision_start_token_id = QWEN_TOKEN_VISION_START;
    c.vision_end_token_id = QWEN_TOKEN_VISION_END; c.video_token_id = 151656; c.vision.merge = 2;
    QvPromptIds p; Err e = {0};
    int64_t img[1] = {1369};                            /* a 1 MP reference */
    char *t = a_words(0);
    assert_int_equal(qv_prompt_ids(QV_PROMPT_QWEN_EDIT_V1, tok, &c, t, img, 1, &p, &e), 0);
    int base = p.keep1 - p.keep0;                       /* rows with a one-token text */
    assert_int_equal(base, 1369 + 2 + 1 + 5);
    qv_prompt_ids_free(&p); free(t);
    t = a_words(QV_QWEN_MAX_TEXT_ROWS - base);
    assert_int_equal(qv_prompt_ids(QV_PROMPT_QWEN_EDIT_V1, tok, &c, t, img, 1, &p, &e), 0);
    assert_int_equal(p.keep1 - p.keep0, QV_QWEN_MAX_TEXT_ROWS);
    qv_prompt_ids_free(&p); free(t);
    t = a_words(QV_QWEN_MAX_TEXT_ROWS - base + 1);
    assert_int_equal(qv_prompt_ids(QV_PROMPT_QWEN_EDIT_V1, tok, &c, t, img, 1, &p, &e), -1);
    assert_contains(e.msg, "prompt too long: 4097 tokens of prompt embedding");
    assert_int_equal(e.code, EXIT_USAGE);
    free(t);
    /* 8000 words: refused for Qwen-Image (edit-v2, one 384² reference), processed for LongCat */
    static const char *WORDS[] = {"make", "the", "sky", "darker", "and", "add", "a", "small", "red", "boat", "near", "shore"};
    char *words = malloc(8000 * 8), *w = words;
    for (int i = 0; i < 8000; i++) w += sprintf(w, "%s%s", i ? " " : "", WORDS[i % 12]);
    int64_t small[1] = {196};
    assert_int_equal(qv_prompt_ids(QV_PROMPT_QWEN_EDIT_V2, tok, &c, words, small, 1, &p, &e), -1);
    assert_contains(e.msg, "prompt too long");
    int64_t lc[1] = {324};
    assert_int_equal(qv_prompt_ids(QV_PROMPT_LONGCAT_EDIT, tok, &c, words, lc, 1, &p, &e), 0);
    int n = 0;
    for (int i = 0; i < p.L; i++) n += p.mask[i] == 0;
    assert_int_equal(n, 0);                             /* 512 real text tokens: no padding */
    assert_int_equal(p.keep1 - p.keep0, 2 + 324 + 512);
    qv_prompt_ids_free(&p);
    free(words);
    tokenizer_free(tok);
}

static double rel_err(const float *got, const StTensor *want) {
    float *w = st_to_f32(want);
    double ma = 0, mr = 0;
    for (size_t i = 0; i < want->numel; i++) { double d = fabs(got[i] - w[i]); if (d > ma) ma = d; if (fabs(w[i]) > mr) mr = fabs(w[i]); }
    free(w);
    return mr > 0 ? ma / mr : ma;
}

/* The text of io tensor name (uint8 bytes) as a C string. */
static char *utf8_tensor(const StFile *io, const char *name) {
    const StTensor *t = st_find(io, name);
    assert_non_null(t);
    char *s = xmalloc(t->numel + 1);
    memcpy(s, t->data, t->numel); s[t->numel] = 0;
    return s;
}

static void run_case(const QwenVL *m, Tokenizer *tok, const StFile *io, const char *cs, const char *which, QvPromptKind kind) {
    char nm[128];
    const StTensor *ti, *tm, *tg, *tp, *tr, *tt;
    snprintf(nm, sizeof nm, "%s.%s.input_ids", cs, which); assert_non_null(ti = st_find(io, nm));
    snprintf(nm, sizeof nm, "%s.%s.attention_mask", cs, which); assert_non_null(tm = st_find(io, nm));
    snprintf(nm, sizeof nm, "%s.vl.image_grid_thw", cs); assert_non_null(tg = st_find(io, nm));
    snprintf(nm, sizeof nm, "%s.%s.prompt_embeds", cs, which); assert_non_null(tp = st_find(io, nm));
    snprintf(nm, sizeof nm, "%s.%s.rope_position_ids", cs, which); assert_non_null(tr = st_find(io, nm));
    snprintf(nm, sizeof nm, "%s.%s.text_ids", cs, which); tt = st_find(io, nm);
    snprintf(nm, sizeof nm, "%s.%s", cs, !strcmp(which, "prompt") ? "prompt_utf8" : "negative_prompt_utf8");
    char *text = utf8_tensor(io, nm);
    /* ids from the text and the image grids equal the pipeline's */
    int ng = (int)tg->shape[0], L = (int)ti->shape[1];
    int64_t grid[9], tokens[3];
    memcpy(grid, tg->data, (size_t)ng * 3 * 8);
    for (int k = 0; k < ng; k++) tokens[k] = grid[3 * k] * grid[3 * k + 1] * grid[3 * k + 2] / 4;
    QvPromptIds ids; Err e = {0};
    if (qv_prompt_ids(kind, tok, &m->cfg, text, tokens, ng, &ids, &e)) fail_msg("%s", e.msg);
    assert_int_equal(ids.L, L);
    assert_memory_equal(ids.ids, ti->data, (size_t)L * 8);
    assert_memory_equal(ids.mask, tm->data, (size_t)L * 8);
    assert_int_equal(ids.keep1 - ids.keep0, tp->shape[1]);
    int64_t *pos = xmalloc((size_t)3 * L * 8), d;
    assert_int_equal(qv_rope_index(&m->cfg, ids.ids, ids.mask, 1, L, grid, ng, pos, &d, &e), 0);
    assert_memory_equal(pos, tr->data, (size_t)3 * L * 8);
    /* the whole encoding from the raw reference images */
    Image refs[3];
    for (int k = 0; k < ng; k++) {
        snprintf(nm, sizeof nm, "%s.ref%d_rgb_uint8", cs, k);
        const StTensor *ri = st_find(io, nm);
        assert_non_null(ri);
        refs[k] = (Image){ .width = (int)ri->shape[1], .height = (int)ri->shape[0], .channels = 3, .data = (uint8_t *)ri->data };
    }
    QwenVLProcessorConfig pc;
    qwenvl_processor_config_default(&pc);
    QvPromptEmbeds out;
    if (qwenvl_encode_prompt(m, tok, &pc, kind, text, refs, ng, NULL, &out, &e)) fail_msg("%s", e.msg);
    assert_int_equal(out.L, tp->shape[1]);
    double r = rel_err(out.embeds, tp);
    if (r > 1e-4) fail_msg("%s.%s.prompt_embeds: rel error %.3e", cs, which, r);
    for (int i = 0; i < out.L; i++) assert_int_equal(out.mask[i], ids.mask[ids.keep0 + i]);
    if (tt) { assert_non_null(out.text_ids); assert_true(rel_err(out.text_ids, tt) == 0); }
    qv_prompt_embeds_free(&out);
    free(pos); free(text); qv_prompt_ids_free(&ids);
}

static void check_pipeline(const QwenVL *m, Tokenizer *tok, const char *dir, const char *cs, QvPromptKind kind) {
    StFile io; Err e = {0};
    char *p = xasprintf("tests/golden/%s/io.safetensors", dir);
    if (st_open(&io, p, &e)) fail_msg("%s", e.msg);
    run_case(m, tok, &io, cs, "prompt", kind);
    run_case(m, tok, &io, cs, "negative", kind);
    st_close(&io);
    free(p);
}

static void test_pipeline_prompt_embeds(void **s) {
    (void)s;
    QwenVL m; Err e = {0};
    if (qwenvl_load(&m, "tests/data/models/qwenimage_edit/text_encoder", &e)) fail_msg("%s", e.msg);
    assert_int_equal(m.p[m.embed].dtype, DT_BF16);
    assert_int_equal(m.lm_head.w, m.embed);           /* tied, no lm_head tensor */
    Tokenizer *tok = load_tok();
    check_pipeline(&m, tok, "qwenimage_edit_pipeline", "edit", QV_PROMPT_QWEN_EDIT_V1);
    check_pipeline(&m, tok, "qwenimage_edit_plus_pipeline", "editplus", QV_PROMPT_QWEN_EDIT_V2);
    check_pipeline(&m, tok, "longcat_edit_pipeline", "longcat_edit", QV_PROMPT_LONGCAT_EDIT);
    tokenizer_free(tok);
    qwenvl_free(&m);
}

/* text_encoder_1_precision: a quantised encoder stays close to the bf16 one (int8 per channel) and
 * is not the same computation (the test would pass vacuously otherwise). */
static void test_quantised_encoder(void **s) {
    (void)s;
    QwenVL m; Err e = {0};
    if (qwenvl_load(&m, "tests/data/models/qwenimage_edit/text_encoder", &e)) fail_msg("%s", e.msg);
    Tokenizer *tok = load_tok();
    StFile io;
    if (st_open(&io, "tests/golden/qwenimage_edit_plus_pipeline/io.safetensors", &e)) fail_msg("%s", e.msg);
    const StTensor *want = st_find(&io, "editplus.prompt.prompt_embeds");
    assert_non_null(want);
    char *text = utf8_tensor(&io, "editplus.prompt_utf8");
    Image refs[2];
    for (int k = 0; k < 2; k++) {
        char nm[64]; snprintf(nm, sizeof nm, "editplus.ref%d_rgb_uint8", k);
        const StTensor *ri = st_find(&io, nm);
        refs[k] = (Image){ .width = (int)ri->shape[1], .height = (int)ri->shape[0], .channels = 3, .data = (uint8_t *)ri->data };
    }
    QwenVLProcessorConfig pc;
    qwenvl_processor_config_default(&pc);
    static const struct { QuantKind k; double lo, hi; } KINDS[] = { {QUANT_INT8, 1e-4, 0.04}, {QUANT_NF4, 1e-3, 0.4} };
    for (int i = 0; i < 2; i++) {
        QwenVL q;
        if (qwenvl_load(&q, "tests/data/models/qwenimage_edit/text_encoder", &e) || qwenvl_quantize(&q, KINDS[i].k, &e)) fail_msg("%s", e.msg);
        QvPromptEmbeds out;
        if (qwenvl_encode_prompt(&q, tok, &pc, QV_PROMPT_QWEN_EDIT_V2, text, refs, 2, NULL, &out, &e)) fail_msg("%s", e.msg);
        double r = rel_err(out.embeds, want);
        if (r < KINDS[i].lo || r > KINDS[i].hi) fail_msg("%s text encoder: prompt_embeds rel error %.3e outside [%.0e, %.0e]", quant_name(KINDS[i].k), r, KINDS[i].lo, KINDS[i].hi);
        qv_prompt_embeds_free(&out);
        qwenvl_free(&q);
    }
    free(text);
    st_close(&io);
    tokenizer_free(tok);
    qwenvl_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_quotation),
        cmocka_unit_test(test_text_to_image_layouts),
        cmocka_unit_test(test_long_prompts),
        cmocka_unit_test(test_pipeline_prompt_embeds),
        cmocka_unit_test(test_quantised_encoder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
