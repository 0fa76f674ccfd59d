/* test_tokenizer.c — the Qwen2 tokenizer on the real Qwen2.5-VL vocabulary (tests/data/qwen_tokenizer):
 * spec §1.5 vectors, the pipelines' template prefixes (34 / 64 / 67 tokens), the exact input_ids the
 * upstream pipelines produced (tests/data/tokenizer/pipeline_prompts.safetensors, copied from the
 * qwenimage_edit, qwenimage_edit_plus and longcat_edit goldens), decoding, the vocab.json+merges.txt
 * path and the error messages. */
#include "test_util.h"
#include "models/qwen25vl/tokenizer.h"
#include "tensor/safetensors.h"

#define TOKDIR "tests/data/qwen_tokenizer"
#define PROMPTS "tests/data/tokenizer/pipeline_prompts.safetensors"

static Tokenizer *TOK;   /* loaded once: the real vocabulary takes ~0.3 s to load */

static int setup(void **state) {
    (void)state;
    Err e = {0};
    TOK = tokenizer_load(TOKDIR, &e);
    if (!TOK) fprintf(stderr, "%s\n", e.msg);
    return TOK ? 0 : -1;
}
static int teardown(void **state) { (void)state; tokenizer_free(TOK); return 0; }

static void expect_ids(const char *text, const int32_t *want, int n) {
    TokenIds v = {0};
    Err e = {0};
    if (tokenizer_encode(TOK, text, strlen(text), &v, &e)) fail_msg("%s", e.msg);
    if (v.n != n) fail_msg("\"%s\": %d ids, expected %d", text, v.n, n);
    for (int i = 0; i < n; i++) if (v.ids[i] != want[i]) fail_msg("\"%s\": id %d is %d, expected %d", text, i, v.ids[i], want[i]);
    token_ids_free(&v);
}
#define EXPECT(text, ...) do { static const int32_t w_[] = {__VA_ARGS__}; expect_ids(text, w_, (int)(sizeof w_ / sizeof w_[0])); } while (0)

static int count_ids(const char *text) {
    TokenIds v = {0};
    Err e = {0};
    if (tokenizer_encode(TOK, text, strlen(text), &v, &e)) fail_msg("%s", e.msg);
    int n = v.n;
    token_ids_free(&v);
    return n;
}

static void test_spec_vectors(void **state) {
    (void)state;
    EXPECT("Hello world", 9707, 1879);
    EXPECT(" Hello world", 21927, 1879);
    EXPECT("Change the sky to 2025 sunset colors!", 4072, 279, 12884, 311, 220, 17, 15, 17, 20, 42984, 7987, 0);
    EXPECT("  two  spaces\n\nnewline", 220, 1378, 220, 12621, 271, 89202);
    EXPECT("你好，世界", 108386, 3837, 99489);
    EXPECT("café", 924, 58858);
    EXPECT("cafe\xcc\x81", 924, 58858);   /* decomposed é: NFC first */
    EXPECT("<|im_end|>\n<|im_start|>assistant\n", 151645, 198, 151644, 77091, 198);
    EXPECT("Picture 1: <|vision_start|>", 24669, 220, 16, 25, 220, 151652);
    assert_int_equal(count_ids(""), 0);
}

static const char *SYS_EDIT =
    "<|im_start|>system\nDescribe the key features of the input image (color, shape, size, texture, objects, "
    "background), then explain how the user's text instruction should alter or modify the image. Generate a new "
    "image that meets the user's requirements while maintaining consistency with the original input where "
    "appropriate.<|im_end|>\n<|im_start|>user\n";

static void test_template_prefixes(void **state) {
    (void)state;
    assert_int_equal(count_ids("<|im_start|>system\nDescribe the image by detailing the color, shape, size, texture, "
                               "quantity, text, spatial relationships of the objects and background:<|im_end|>\n"
                               "<|im_start|>user\n"), 34);
    assert_int_equal(count_ids(SYS_EDIT), 64);
    EXPECT(SYS_EDIT, 151644, 8948, 198, 74785, 279, 1376, 4419, 315, 279, 1946, 2168, 320, 3423, 11, 6083, 11, 1379,
           11, 10434, 11, 6171, 11, 4004, 701, 1221, 10339, 1246, 279, 1196, 594, 1467, 7600, 1265, 11596, 476, 5602,
           279, 2168, 13, 19813, 264, 501, 2168, 429, 20027, 279, 1196, 594, 8502, 1393, 20337, 28137, 448, 279, 4024,
           1946, 1380, 8311, 13, 151645, 198, 151644, 872, 198);
    assert_int_equal(count_ids("<|im_start|>system\nAs an image editing expert, first analyze the content and attributes "
                               "of the input image(s). Then, based on the user's editing instructions, clearly and "
                               "precisely determine how to modify the given image(s), ensuring that only the specified "
                               "parts are altered and all other aspects remain consistent with the original(s)."
                               "<|im_end|>\n<|im_start|>user\n"), 67);
    assert_int_equal(count_ids("<|im_start|>system\nAs an image captioning expert, generate a descriptive text prompt "
                               "based on an image content, suitable for input to a text-to-image model.<|im_end|>\n"
                               "<|im_start|>user\n"), 36);
}

/* ---- the pipelines' own ids ---------------------------------------------------------------- */

typedef struct Golden { StFile f; } Golden;

static char *golden_text(const StFile *f, const char *name) {
    const StTensor *t = st_find(f, name);
    if (!t) fail_msg("%s: missing %s", PROMPTS, name);
    char *s = malloc(t->numel + 1);
    memcpy(s, t->data, t->numel);
    s[t->numel] = 0;
    return s;
}
static void golden_grid(const StFile *f, const char *name, int (*grid)[3], int *n) {
    const StTensor *t = st_find(f, name);
    if (!t || t->ndim != 2 || t->shape[1] != 3) fail_msg("%s: %s must be [n, 3]", PROMPTS, name);
    *n = (int)t->shape[0];
    for (int i = 0; i < *n * 3; i++) { int64_t v; memcpy(&v, (const char *)t->data + i * 8, 8); grid[i / 3][i % 3] = (int)v; }
}
static void expect_golden_ids(const StFile *f, const char *name, const TokenIds *v) {
    const StTensor *t = st_find(f, name);
    if (!t || t->dtype != DT_I64) fail_msg("%s: missing int64 %s", PROMPTS, name);
    if ((int64_t)v->n != t->shape[t->ndim - 1]) fail_msg("%s: %d ids, golden has %lld", name, v->n, (long long)t->shape[t->ndim - 1]);
    for (int i = 0; i < v->n; i++) {
        int64_t g; memcpy(&g, (const char *)t->data + (size_t)i * 8, 8);
        if (g != v->ids[i]) fail_msg("%s: id %d is %d, golden %lld", name, i, v->ids[i], (long long)g);
    }
}

static void encode_template(const char *fmt, const char *prompt, int (*grid)[3], int n_img, TokenIds *out) {
    size_t n = strlen(fmt) + strlen(prompt) + 1;
    char *text = malloc(n);
    const char *slot = strstr(fmt, "{}");
    snprintf(text, n, "%.*s%s%s", (int)(slot - fmt), fmt, prompt, slot + 2);
    Err e = {0};
    if (tokenizer_encode_with_images(TOK, text, strlen(text), (const int (*)[3])grid, n_img, 2, out, &e)) fail_msg("%s", e.msg);
    free(text);
}

static void test_qwen_edit_v1_ids(void **state) {
    (void)state;
    StFile f; Err e = {0};
    if (st_open(&f, PROMPTS, &e)) fail_msg("%s", e.msg);
    int grid[3][3], n;
    golden_grid(&f, "edit.vl.image_grid_thw", grid, &n);
    char *fmt = malloc(4096);
    snprintf(fmt, 4096, "%s<|vision_start|><|image_pad|><|vision_end|>{}<|im_end|>\n<|im_start|>assistant\n", SYS_EDIT);
    const char *which[2][2] = {{"edit.prompt_utf8", "edit.prompt.input_ids"}, {"edit.negative_prompt_utf8", "edit.negative.input_ids"}};
    for (int k = 0; k < 2; k++) {
        char *p = golden_text(&f, which[k][0]);
        TokenIds v = {0};
        encode_template(fmt, p, grid, n, &v);
        expect_golden_ids(&f, which[k][1], &v);
        token_ids_free(&v); free(p);
    }
    free(fmt);
    st_close(&f);
}

static void test_qwen_edit_plus_ids(void **state) {
    (void)state;
    StFile f; Err e = {0};
    if (st_open(&f, PROMPTS, &e)) fail_msg("%s", e.msg);
    int grid[3][3], n;
    golden_grid(&f, "editplus.vl.image_grid_thw", grid, &n);
    assert_int_equal(n, 2);
    char *fmt = malloc(4096);
    snprintf(fmt, 4096, "%s{}<|im_end|>\n<|im_start|>assistant\n", SYS_EDIT);
    const char *which[2][2] = {{"editplus.prompt_utf8", "editplus.prompt.input_ids"}, {"editplus.negative_prompt_utf8", "editplus.negative.input_ids"}};
    for (int k = 0; k < 2; k++) {
        char *p = golden_text(&f, which[k][0]);
        char user[1024] = "";
        for (int i = 0; i < n; i++) {
            size_t l = strlen(user);
            snprintf(user + l, sizeof user - l, "Picture %d: <|vision_start|><|image_pad|><|vision_end|>", i + 1);
        }
        strncat(user, p, sizeof user - strlen(user) - 1);
        TokenIds v = {0};
        encode_template(fmt, user, grid, n, &v);
        expect_golden_ids(&f, which[k][1], &v);
        token_ids_free(&v); free(p);
    }
    free(fmt);
    st_close(&f);
}

/* LongCat edit: prefix with the expanded image, then the prompt — the quoted span '"OPEN 24h"' one
 * character at a time (the split is written out here; split_quotation belongs to the prompt encoder) —
 * right-padded with <|endoftext|> to 512, then the suffix. */
static void test_longcat_edit_ids(void **state) {
    (void)state;
    StFile f; Err e = {0};
    if (st_open(&f, PROMPTS, &e)) fail_msg("%s", e.msg);
    int grid[3][3], n;
    golden_grid(&f, "longcat_edit.vl.image_grid_thw", grid, &n);
    char *p = golden_text(&f, "longcat_edit.prompt_utf8");
    assert_string_equal(p, "Don't change the cat; write \"OPEN 24h\" on the sign and make the sky orange.");
    const char *prefix =
        "<|im_start|>system\nAs an image editing expert, first analyze the content and attributes of the input image(s). "
        "Then, based on the user's editing instructions, clearly and precisely determine how to modify the given image(s), "
        "ensuring that only the specified parts are altered and all other aspects remain consistent with the original(s)."
        "<|im_end|>\n<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>";
    for (int neg = 0; neg < 2; neg++) {
        TokenIds v = {0};
        if (tokenizer_encode_with_images(TOK, prefix, strlen(prefix), (const int (*)[3])grid, n, 2, &v, &e)) fail_msg("%s", e.msg);
        int start = v.n;
        if (!neg) {
            const char *quoted = "\"OPEN 24h\"";
            assert_int_equal(tokenizer_encode(TOK, p, 28, &v, &e), 0);
            for (const char *c = quoted; *c; c++) assert_int_equal(tokenizer_encode(TOK, c, 1, &v, &e), 0);
            const char *rest = p + 28 + strlen(quoted);
            assert_int_equal(tokenizer_encode(TOK, rest, strlen(rest), &v, &e), 0);
            assert_int_equal(v.n - start, 27);
        }
        while (v.n - start < 512) token_ids_push(&v, QWEN_TOKEN_ENDOFTEXT);
        const char *suffix = "<|im_end|>\n<|im_start|>assistant\n";
        assert_int_equal(tokenizer_encode(TOK, suffix, strlen(suffix), &v, &e), 0);
        expect_golden_ids(&f, neg ? "longcat_edit.negative.input_ids" : "longcat_edit.prompt.input_ids", &v);
        token_ids_free(&v);
    }
    free(p);
    st_close(&f);
}

static void test_image_expansion(void **state) {
    (void)state;
    Err e = {0};
    TokenIds v = {0};
    const int grid[2][3] = {{1, 4, 6}, {1, 2, 2}};
    const char *t = "a<|image_pad|>b<|image_pad|>";
    assert_int_equal(tokenizer_encode_with_images(TOK, t, strlen(t), grid, 2, 2, &v, &e), 0);
    assert_int_equal(v.n, 1 + 6 + 1 + 1);
    for (int i = 1; i <= 6; i++) assert_int_equal(v.ids[i], QWEN_TOKEN_IMAGE_PAD);
    assert_int_equal(v.ids[8], QWEN_TOKEN_IMAGE_PAD);
    token_ids_free(&v);
    assert_int_equal(tokenizer_encode_with_images(TOK, t, strlen(t), grid, 1, 2, &v, &e), -1);
    assert_contains(e.msg, "2 <|image_pad|> tokens but 1 images");
    token_ids_free(&v);
    const int odd[1][3] = {{1, 3, 3}};
    assert_int_equal(tokenizer_encode_with_images(TOK, "<|image_pad|>", 13, odd, 1, 2, &v, &e), -1);
    assert_contains(e.msg, "divisible by merge_size^2");
    token_ids_free(&v);
}

static void test_decode(void **state) {
    (void)state;
    const char *texts[] = {"Don't change the cat; write \"OPEN 24h\"!", "你好，世界 😀 naïve\n\n  x",
                           "<|im_start|>user\nhi<|im_end|>", "tabs\tand\r\nCRLF"};
    for (int k = 0; k < 4; k++) {
        TokenIds v = {0}; Err e = {0};
        assert_int_equal(tokenizer_encode(TOK, texts[k], strlen(texts[k]), &v, &e), 0);
        char *back = tokenizer_decode(TOK, v.ids, v.n, 0, &e);
        assert_non_null(back);
        assert_string_equal(back, texts[k]);
        free(back);
        token_ids_free(&v);
    }
    const int32_t ids[] = {151644, 872, 198, 6023, 151645};
    Err e = {0};
    char *s = tokenizer_decode(TOK, ids, 5, 1, &e);
    assert_string_equal(s, "user\nhi");
    free(s);
    /* half of a multi-byte char: the byte-level token of 0xE4 alone decodes to U+FFFD */
    int32_t half = tokenizer_token_to_id(TOK, "\xc3\xa4");   /* 'ä' as a byte char = byte 0xE4 */
    assert_true(half >= 0);
    s = tokenizer_decode(TOK, &half, 1, 0, &e);
    assert_string_equal(s, "\xEF\xBF\xBD");
    free(s);
    const int32_t bad = 999999;
    assert_null(tokenizer_decode(TOK, &bad, 1, 0, &e));
    assert_contains(e.msg, "id 999999");
}

static void test_lookups(void **state) {
    (void)state;
    assert_int_equal(tokenizer_token_to_id(TOK, "<|im_end|>"), QWEN_TOKEN_IM_END);
    assert_int_equal(tokenizer_token_to_id(TOK, "<|image_pad|>"), QWEN_TOKEN_IMAGE_PAD);
    assert_int_equal(tokenizer_token_to_id(TOK, "<|file_sep|>"), 151664);
    assert_int_equal(tokenizer_token_to_id(TOK, "<think>"), -1);
    assert_int_equal(tokenizer_token_to_id(TOK, "\xc4\xa0the"), 279);   /* "Ġthe" */
    assert_int_equal(tokenizer_size(TOK), 151665);
    assert_string_equal(tokenizer_id_to_token(TOK, 151652), "<|vision_start|>");
    /* "<think>" is not a Qwen2.5-VL token: BPE-split */
    assert_true(count_ids("<think>") > 1);
    Err e = {0};
    TokenIds v = {0};
    assert_int_equal(tokenizer_encode(TOK, "ab\xff", 3, &v, &e), -1);
    assert_contains(e.msg, "not valid UTF-8");
    token_ids_free(&v);
}

/* The slow files (vocab.json + merges.txt, no tokenizer.json) give the same ids. */
static void test_slow_files(void **state) {
    (void)state;
    char *d = tmpdir_make();
    char cwd[1024], cmd[3000];
    assert_non_null(getcwd(cwd, sizeof cwd));
    const char *files[] = {"vocab.json", "merges.txt", "tokenizer_config.json", "added_tokens.json"};
    for (int i = 0; i < 4; i++) {
        snprintf(cmd, sizeof cmd, "ln -s '%s/" TOKDIR "/%s' '%s/%s'", cwd, files[i], d, files[i]);
        assert_int_equal(system(cmd), 0);
    }
    Err e = {0};
    Tokenizer *slow = tokenizer_load(d, &e);
    if (!slow) fail_msg("%s", e.msg);
    const char *texts[] = {SYS_EDIT, "Don't change the cat; write \"OPEN 24h\" 你好 😀 ok?!\n\n  end", "<|vision_start|><|image_pad|>x"};
    for (int k = 0; k < 3; k++) {
        TokenIds a = {0}, b = {0};
        assert_int_equal(tokenizer_encode(TOK, texts[k], strlen(texts[k]), &a, &e), 0);
        assert_int_equal(tokenizer_encode(slow, texts[k], strlen(texts[k]), &b, &e), 0);
        assert_int_equal(a.n, b.n);
        assert_memory_equal(a.ids, b.ids, (size_t)a.n * sizeof *a.ids);
        token_ids_free(&a); token_ids_free(&b);
    }
    tokenizer_free(slow);
    tmpdir_remove(d);
}

/* A tiny hand-written tokenizer.json: merges as "a b" strings, merge order decides. */
static void test_small_and_errors(void **state) {
    (void)state;
    char *d = tmpdir_make();
    char path[512];
    snprintf(path, sizeof path, "%s/tokenizer.json", d);
    /* vocab: the 256 byte chars are required; build them with a loop */
    char *json = malloc(65536);
    size_t o = (size_t)sprintf(json, "{\"model\":{\"type\":\"BPE\",\"vocab\":{");
    int id = 0, next = 0;
    for (int b = 0; b < 256; b++) {
        int keep = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        int cp = keep ? b : 256 + next++;
        char u[8];
        if (cp < 0x80) snprintf(u, sizeof u, "%s", cp == '"' ? "\\\"" : cp == '\\' ? "\\\\" : (char[]){(char)cp, 0});
        else snprintf(u, sizeof u, "%c%c", 0xC0 | (cp >> 6), 0x80 | (cp & 0x3F));
        o += (size_t)sprintf(json + o, "\"%s\":%d,", u, id++);
    }
    size_t bytes_end = o;
    o += (size_t)sprintf(json + o, "\"ab\":256,\"bc\":257,\"abc\":258},\"merges\":[\"b c\",\"a b\",\"a bc\"]},"
                                   "\"added_tokens\":[{\"id\":300,\"content\":\"<x>\",\"special\":true}]}");
    write_text(path, json);
    Err e = {0};
    Tokenizer *t = tokenizer_load(d, &e);
    if (!t) fail_msg("%s", e.msg);
    TokenIds v = {0};
    assert_int_equal(tokenizer_encode(t, "abc<x>ab", 8, &v, &e), 0);   /* b c first (rank 0), then a bc */
    assert_int_equal(v.n, 3);
    assert_int_equal(v.ids[0], 258); assert_int_equal(v.ids[1], 300); assert_int_equal(v.ids[2], 256);
    token_ids_free(&v);
    tokenizer_free(t);
    /* a merge whose parts are not in the vocabulary */
    sprintf(json + bytes_end, "\"ab\":256},\"merges\":[\"a b\",\"x yz\"]}}");
    write_text(path, json);
    assert_null(tokenizer_load(d, &e));
    assert_contains(e.msg, "merge 2 (\"x\" \"yz\") uses a token that is not in the vocabulary");
    /* ids that are not whole numbers in 0..2^20-1 (1e300 was converted to int: undefined behaviour; 1e8
     * allocated gigabytes of id tables) */
    sprintf(json + bytes_end, "\"ab\":256},\"merges\":[\"a b\"]},\"added_tokens\":[{\"id\":1e300,\"content\":\"<x>\"}]}");
    write_text(path, json);
    assert_null(tokenizer_load(d, &e));
    assert_contains(e.msg, "added token \"<x>\" has an invalid id (expected an integer in 0..1048575)");
    sprintf(json + bytes_end, "\"ab\":256},\"merges\":[\"a b\"]},\"added_tokens\":[{\"id\":100000000,\"content\":\"<x>\"}]}");
    write_text(path, json);
    assert_null(tokenizer_load(d, &e));
    assert_contains(e.msg, "added token \"<x>\" has an invalid id");
    sprintf(json + bytes_end, "\"ab\":-1e300},\"merges\":[]}}");
    write_text(path, json);
    assert_null(tokenizer_load(d, &e));
    assert_contains(e.msg, "vocabulary entry \"ab\" must have an integer id in 0..1048575");
    write_text(path, "{\"model\":");
    assert_null(tokenizer_load(d, &e));
    assert_contains(e.msg, "tokenizer.json: not valid JSON");
    free(json);
    tmpdir_remove(d);
    assert_null(tokenizer_load("/nonexistent/tok", &e));
    assert_contains(e.msg, "no tokenizer.json or vocab.json + merges.txt");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_vectors),
        cmocka_unit_test(test_template_prefixes),
        cmocka_unit_test(test_qwen_edit_v1_ids),
        cmocka_unit_test(test_qwen_edit_plus_ids),
        cmocka_unit_test(test_longcat_edit_ids),
        cmocka_unit_test(test_image_expansion),
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_lookups),
        cmocka_unit_test(test_slow_files),
        cmocka_unit_test(test_small_and_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
