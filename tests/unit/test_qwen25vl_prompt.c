/* test_qwen25vl_prompt.c — prompt encoding per family: LongCat's quote split, the id layout of
 * every template (with a stand-in tokenizer whose ids show the structure), and the numbers of the
 * upstream pipelines: the tiny bf16 text encoder of the pipeline goldens, run on their token ids
 * and image features (tests/data/qwen25vl_prompt: Qwen-Image-Edit-2509 with two references,
 * LongCat-Image-Edit with 512 padding in the middle), must give their prompt_embeds and M-RoPE
 * positions. */
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

/* Stand-in tokenizer: special tokens by name (real Qwen2.5-VL ids), every other run of
 * non-space bytes one id (1000 + length), each space its own id 5. Word-level ids show whether a
 * span was tokenised whole or character by character. */
static int fake_encode(void *ctx, const char *text, int64_t **ids, int *n, Err *e) {
    (void)ctx; (void)e;
    static const struct { const char *s; int id; } SP[] = {
        {"<|endoftext|>", 151643}, {"<|im_start|>", 151644}, {"<|im_end|>", 151645}, {"<|vision_start|>", 151652},
        {"<|vision_end|>", 151653}, {"<|image_pad|>", 151655} };
    int cap = (int)strlen(text) + 1;
    *ids = xmalloc((size_t)cap * sizeof(int64_t)); *n = 0;
    for (const char *p = text; *p;) {
        int hit = 0;
        for (size_t k = 0; k < sizeof SP / sizeof SP[0] && !hit; k++)
            if (!strncmp(p, SP[k].s, strlen(SP[k].s))) { (*ids)[(*n)++] = SP[k].id; p += strlen(SP[k].s); hit = 1; }
        if (hit) continue;
        if (*p == ' ') { (*ids)[(*n)++] = 5; p++; continue; }
        const char *q = p;
        while (*q && *q != ' ' && strncmp(q, "<|", 2)) q++;
        if (q == p) q++;
        (*ids)[(*n)++] = 1000 + (q - p);
        p = q;
    }
    return 0;
}

static QvConfig real_ids_config(void) {
    QvConfig c; memset(&c, 0, sizeof c);
    c.image_token_id = 151655; c.vision_start_token_id = 151652; c.vision_end_token_id = 151653; c.video_token_id = 151656;
    c.vision.merge = 2;
    return c;
}

static int count(const QvPromptIds *p, int64_t id) { int k = 0; for (int i = 0; i < p->L; i++) k += p->ids[i] == id; return k; }

static void test_prompt_layouts(void **s) {
    (void)s;
    QvTokenizer tok = { fake_encode, NULL };
    QvConfig c = real_ids_config();
    QvPromptIds p; Err e = {0};
    /* edit-v2: "Picture k: " blocks, each image's pads expanded, first 64 rows dropped */
    int64_t nt[2] = { 6, 4 };
    assert_int_equal(qv_prompt_ids(QV_PROMPT_QWEN_EDIT_V2, &tok, &c, "swap them", nt, 2, &p, &e), 0);
    assert_int_equal(count(&p, 151655), 10);
    assert_int_equal(p.keep0, 64); assert_int_equal(p.keep1, p.L);
    int vs = -1;
    for (int i = 0; i < p.L && vs < 0; i++) if (p.ids[i] == 151652) vs = i;
    assert_true(vs > 3);
    assert_int_equal(p.ids[vs - 1], 5);                 /* "Picture 1: " then the slot */
    assert_int_equal(p.ids[vs + 7], 151653);            /* 6 pads then vision_end */
    assert_int_equal(p.ids[p.L - 4], 151645);            /* suffix: im_end, "\n", im_start, "assistant\n" here */
    for (int i = 0; i < p.L; i++) assert_int_equal(p.mask[i], 1);
    qv_prompt_ids_free(&p);
    /* edit-v1 takes exactly one image */
    assert_int_equal(qv_prompt_ids(QV_PROMPT_QWEN_EDIT_V1, &tok, &c, "x", nt, 2, &p, &e), -1);
    assert_contains(e.msg, "exactly one");
    /* LongCat edit: pads in the middle, masked; rows from <|vision_start|> to 5 before the end */
    int64_t one = 9;
    assert_int_equal(qv_prompt_ids(QV_PROMPT_LONGCAT_EDIT, &tok, &c, "write 'AB' now", &one, 1, &p, &e), 0);
    vs = -1;
    for (int i = 0; i < p.L && vs < 0; i++) if (p.ids[i] == 151652) vs = i;
    int prefix = vs + 9 + 2;
    assert_int_equal(p.keep0, vs);
    assert_int_equal(p.L, prefix + 512 + 4);            /* the stand-in makes 4 suffix ids (real: 5) */
    assert_int_equal(p.keep1, p.L - 4);
    /* "write", " ", then 'AB' per character: ', A, B, ', then " ", "now" */
    static const int64_t want[] = { 1005, 5, 1001, 1001, 1001, 1001, 5, 1003 };
    for (int i = 0; i < 8; i++) assert_int_equal(p.ids[prefix + i], want[i]);
    for (int i = 8; i < 512; i++) { assert_int_equal(p.ids[prefix + i], 151643); assert_int_equal(p.mask[prefix + i], 0); }
    assert_int_equal(p.mask[prefix + 7], 1);
    assert_int_equal(p.mask[p.L - 1], 1);
    qv_prompt_ids_free(&p);
    /* LongCat text-to-image: rows start right after the prefix */
    assert_int_equal(qv_prompt_ids(QV_PROMPT_LONGCAT_T2I, &tok, &c, "", NULL, 0, &p, &e), 0);
    assert_int_equal(p.L - p.keep0 - 4, 512);
    assert_int_equal(p.keep1 - p.keep0, 512);
    qv_prompt_ids_free(&p);
    /* Qwen text-to-image drops 34 */
    assert_int_equal(qv_prompt_ids(QV_PROMPT_QWEN_T2I, &tok, &c, "a cat", NULL, 0, &p, &e), 0);
    assert_int_equal(p.keep0, 34);
    qv_prompt_ids_free(&p);
    QvPromptKind k;
    assert_int_equal(qv_prompt_kind("qwen_image", "edit-v2+", &k, &e), 0); assert_int_equal(k, QV_PROMPT_QWEN_EDIT_V2);
    assert_int_equal(qv_prompt_kind("longcat_image", "final", &k, &e), 0); assert_int_equal(k, QV_PROMPT_LONGCAT_T2I);
    assert_int_equal(qv_prompt_kind("flux", "dev", &k, &e), -1);
}

static double rel_err(const float *got, const StTensor *want) {
    float *w = st_to_f32(want);
    double ma = 0, mr = 0;
    for (size_t i = 0; i < want->numel; i++) { double d = fabs(got[i] - w[i]); if (d > ma) ma = d; if (fabs(w[i]) > mr) mr = fabs(w[i]); }
    free(w);
    return mr > 0 ? ma / mr : ma;
}

static void run_case(const QwenVL *m, const StFile *io, const char *cs, const char *which, QvPromptKind kind) {
    char nm[128];
    const StTensor *ti, *tm, *te, *tg, *tp, *tr, *tt;
    snprintf(nm, sizeof nm, "%s.%s.input_ids", cs, which); assert_non_null(ti = st_find(io, nm));
    snprintf(nm, sizeof nm, "%s.%s.attention_mask", cs, which); assert_non_null(tm = st_find(io, nm));
    snprintf(nm, sizeof nm, "%s.vl.image_embeds", cs); assert_non_null(te = st_find(io, nm));
    snprintf(nm, sizeof nm, "%s.vl.image_grid_thw", cs); assert_non_null(tg = st_find(io, nm));
    snprintf(nm, sizeof nm, "%s.%s.prompt_embeds", cs, which); assert_non_null(tp = st_find(io, nm));
    snprintf(nm, sizeof nm, "%s.%s.rope_position_ids", cs, which); assert_non_null(tr = st_find(io, nm));
    snprintf(nm, sizeof nm, "%s.%s.text_ids", cs, which); tt = st_find(io, nm);
    int L = (int)ti->shape[1];
    QvPromptIds ids = { .ids = xmalloc((size_t)L * 8), .mask = xmalloc((size_t)L * 8), .L = L };
    memcpy(ids.ids, ti->data, (size_t)L * 8); memcpy(ids.mask, tm->data, (size_t)L * 8);
    /* the pipelines' rows: Qwen edit drops 64; LongCat keeps <|vision_start|> .. L - 5 */
    ids.keep0 = 64; ids.keep1 = L;
    if (kind == QV_PROMPT_LONGCAT_EDIT) {
        for (int i = L - 1; i >= 0; i--) if (ids.ids[i] == m->cfg.vision_start_token_id) ids.keep0 = i;
        ids.keep1 = L - 5;
    }
    int ng = (int)tg->shape[0];
    int64_t *grid = xmalloc((size_t)ng * 3 * 8), *pos = xmalloc((size_t)3 * L * 8), d;
    memcpy(grid, tg->data, (size_t)ng * 3 * 8);
    Err e = {0};
    assert_int_equal(qv_rope_index(&m->cfg, ids.ids, ids.mask, 1, L, grid, ng, pos, &d, &e), 0);
    assert_memory_equal(pos, tr->data, (size_t)3 * L * 8);
    float *img = st_to_f32(te);
    QvPromptEmbeds out;
    assert_int_equal(qwenvl_encode_ids(m, kind, &ids, img, te->shape[0], grid, ng, &out, &e), 0);
    assert_int_equal(out.L, tp->shape[1]);
    double r = rel_err(out.embeds, tp);
    if (r > 1e-4) fail_msg("%s.%s.prompt_embeds: rel error %.3e", cs, which, r);
    if (tt) { assert_non_null(out.text_ids); assert_true(rel_err(out.text_ids, tt) == 0); }
    qv_prompt_embeds_free(&out);
    free(img); free(grid); free(pos); qv_prompt_ids_free(&ids);
}

static void test_pipeline_prompt_embeds(void **s) {
    (void)s;
    QwenVL m; Err e = {0};
    if (qwenvl_load(&m, "tests/data/qwen25vl_prompt/text_encoder", &e)) fail_msg("%s", e.msg);
    assert_int_equal(m.p[m.embed].dtype, DT_BF16);
    assert_int_equal(m.lm_head.w, m.embed);           /* tied, no lm_head tensor */
    StFile io;
    if (st_open(&io, "tests/data/qwen25vl_prompt/io.safetensors", &e)) fail_msg("%s", e.msg);
    run_case(&m, &io, "editplus", "prompt", QV_PROMPT_QWEN_EDIT_V2);
    run_case(&m, &io, "editplus", "negative", QV_PROMPT_QWEN_EDIT_V2);
    run_case(&m, &io, "longcat_edit", "prompt", QV_PROMPT_LONGCAT_EDIT);
    run_case(&m, &io, "longcat_edit", "negative", QV_PROMPT_LONGCAT_EDIT);
    st_close(&io);
    qwenvl_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_quotation),
        cmocka_unit_test(test_prompt_layouts),
        cmocka_unit_test(test_pipeline_prompt_embeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
