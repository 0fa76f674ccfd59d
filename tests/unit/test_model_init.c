/* test_model_init.c — init-model's folders parse with the loaders of real checkpoints: the
 * full-size configs are the published architectures (Qwen-Image 60 blocks of width 3072, LongCat
 * 10 + 20 blocks, Qwen2.5-VL-7B, both VAEs), tiny and small load with their weights, small is larger
 * than tiny, and the generated vocabulary's special tokens are the ids the encoder config names. */
#include "test_util.h"
#include "base/error.h"
#include "base/files.h"
#include "models/longcat_image/longcat.h"
#include "models/model_init.h"
#include "models/qwen25vl/model.h"
#include "models/qwen25vl/tokenizer.h"
#include "models/qwen_image/qwen_image.h"
#include "models/vae/vae.h"
#include <cjson/cJSON.h>

static cJSON *json_at(const char *dir, const char *sub, const char *file) {
    char *p = xasprintf("%s/%s/%s", dir, sub, file);
    Err e = {0};
    char *txt = file_read_all(p, NULL, &e);
    if (!txt) fail_msg("%s", e.msg);
    cJSON *j = cJSON_Parse(txt);
    assert_non_null(j);
    free(txt); free(p);
    return j;
}

static void test_full_configs_are_the_published_ones(void **state) {
    (void)state;
    char *d = tmpdir_make(), *q = xasprintf("%s/qwen", d), *l = xasprintf("%s/longcat", d);
    Err e = {0};
    ModelInitSpec sq = {"qwen_image", "edit-v2", SIZE_FULL, q, 0, "tests/data/qwen_tokenizer", 0, 0, 0, 0, NULL, 0};
    ModelInitSpec sl = {"longcat_image", "edit", SIZE_FULL, l, 0, "tests/data/qwen_tokenizer", 0, 0, 0, 0, NULL, 0};
    if (model_init_write(&sq, &e) || model_init_write(&sl, &e)) fail_msg("%s", e.msg);
    cJSON *j = json_at(q, "transformer", "config.json");
    QiConfig qc;
    if (qi_config_parse(j, &qc, "qwen", &e)) fail_msg("%s", e.msg);
    assert_int_equal(qc.num_layers, 60); assert_int_equal(qc.dim, 3072); assert_int_equal(qc.joint_attention_dim, 3584);
    assert_int_equal(qc.axes[1], 56);
    cJSON_Delete(j);
    j = json_at(l, "transformer", "config.json");
    LcConfig lc;
    if (lc_config_parse(j, &lc, &e)) fail_msg("%s", e.msg);
    assert_int_equal(lc.layers, 10); assert_int_equal(lc.single_layers, 20); assert_int_equal(lc.dim, 3072);
    cJSON_Delete(j);
    j = json_at(q, "text_encoder", "config.json");
    QvConfig vc;
    if (qv_config_parse(j, &vc, &e)) fail_msg("%s", e.msg);
    assert_int_equal(vc.text.hidden, 3584); assert_int_equal(vc.text.layers, 28); assert_int_equal(vc.vision.out_hidden, 3584);
    assert_int_equal(vc.image_token_id, 151655);
    cJSON_Delete(j);
    const char *vaes[2] = {q, l};
    for (int i = 0; i < 2; i++) {
        j = json_at(vaes[i], "vae", "config.json");
        Vae v;
        if (vae_build(&v, j, &e)) fail_msg("%s", e.msg);
        assert_int_equal(vae_latent_channels(&v), 16);
        vae_free(&v);
        cJSON_Delete(j);
    }
    /* the real tokenizer came along */
    char *tj = xasprintf("%s/tokenizer/tokenizer.json", q);
    assert_true(file_exists(tj));
    free(tj); free(q); free(l);
    tmpdir_remove(d);
}

static size_t qwen_numel(const char *dir) {
    char *p = xasprintf("%s/transformer", dir);
    QiModel m; Err e = {0};
    if (qi_load(&m, p, &e)) fail_msg("%s", e.msg);
    size_t n = 0;
    for (int i = 0; i < m.linears.n; i++) n += (size_t)m.linears.l[i]->out * m.linears.l[i]->in;
    qi_free(&m); free(p);
    return n;
}

static void test_tiny_and_small_load(void **state) {
    (void)state;
    char *d = tmpdir_make(), *t = xasprintf("%s/tiny", d), *s = xasprintf("%s/small", d);
    Err e = {0};
    ModelInitSpec st = {"qwen_image", "edit-v1", SIZE_TINY, t, 3, NULL, 0, 0, 0, 0, NULL, 0}, ss = {"qwen_image", "edit-v1", SIZE_SMALL, s, 3, NULL, 0, 0, 0, 0, NULL, 0};
    if (model_init_write(&st, &e) || model_init_write(&ss, &e)) fail_msg("%s", e.msg);
    size_t nt = qwen_numel(t), ns = qwen_numel(s);
    assert_true(ns > 8 * nt);
    /* the encoder config's special-token ids are the vocabulary's */
    char *te = xasprintf("%s/text_encoder", s), *tk = xasprintf("%s/tokenizer", s);
    QwenVL m;
    if (qwenvl_load(&m, te, &e)) fail_msg("%s", e.msg);
    Tokenizer *tok = tokenizer_load(tk, &e);
    if (!tok) fail_msg("%s", e.msg);
    assert_int_equal(tokenizer_token_to_id(tok, "<|image_pad|>"), m.cfg.image_token_id);
    assert_int_equal(tokenizer_token_to_id(tok, "<|vision_start|>"), m.cfg.vision_start_token_id);
    assert_int_equal(tokenizer_token_to_id(tok, "<|vision_end|>"), m.cfg.vision_end_token_id);
    assert_true(tokenizer_size(tok) <= m.cfg.text.vocab);
    /* the templates compress: the Qwen edit system prompt is far fewer tokens than bytes */
    TokenIds ids = {0};
    const char *sys = "Describe the key features of the input image (color, shape, size, texture, objects, background)";
    if (tokenizer_encode(tok, sys, strlen(sys), &ids, &e)) fail_msg("%s", e.msg);
    assert_true(ids.n < (int)strlen(sys) / 3);
    token_ids_free(&ids);
    tokenizer_free(tok);
    qwenvl_free(&m);
    free(te); free(tk); free(t); free(s);
    tmpdir_remove(d);
}

static void expect_same_file(const char *a, const char *b) {
    Err e = {0};
    size_t na, nb;
    char *x = file_read_all(a, &na, &e), *y = file_read_all(b, &nb, &e);
    if (!x || !y) fail_msg("%s", e.msg);
    if (na != nb || memcmp(x, y, na)) fail_msg("%s and %s differ (%zu vs %zu bytes)", a, b, na, nb);
    free(x); free(y);
}

/* The weights init-model streams tensor by tensor are the bytes the in-memory builders + savers
 * write (the tiny presets and their expected losses depend on them). */
static void test_streamed_weights_are_the_built_ones(void **state) {
    (void)state;
    char *d = tmpdir_make(), *q = xasprintf("%s/q", d), *l = xasprintf("%s/l", d), *ref = xasprintf("%s/ref.safetensors", d);
    Err e = {0};
    ModelInitSpec sq = {"qwen_image", "edit-v2", SIZE_TINY, q, 3, NULL, 0, 0, 0, 0, NULL, 0};
    ModelInitSpec sl = {"longcat_image", "edit", SIZE_SMALL, l, 5, NULL, 0, 0, 0, 0, NULL, 0};
    if (model_init_write(&sq, &e) || model_init_write(&sl, &e)) fail_msg("%s", e.msg);
    cJSON *j = json_at(q, "transformer", "config.json");
    QiConfig qc; QiModel qm;
    if (qi_config_parse(j, &qc, "qwen", &e) || qi_init_random(&qm, &qc, 3, DT_BF16, &e) || qi_save(&qm, ref, DT_BF16, &e)) fail_msg("%s", e.msg);
    qi_free(&qm); cJSON_Delete(j);
    char *f = xasprintf("%s/transformer/diffusion_pytorch_model.safetensors", q);
    expect_same_file(f, ref); free(f);
    j = json_at(q, "text_encoder", "config.json");
    QwenVL vm;
    if (qwenvl_init_random(&vm, j, 5, DT_BF16, &e) || qwenvl_save(&vm, ref, &e)) fail_msg("%s", e.msg);
    qwenvl_free(&vm); cJSON_Delete(j);
    f = xasprintf("%s/text_encoder/model.safetensors", q);
    expect_same_file(f, ref); free(f);
    j = json_at(l, "transformer", "config.json");
    LcModel lm;
    if (lc_init_random(&lm, j, 5, DT_BF16, &e) || lc_save_full(&lm, ref, &e)) fail_msg("%s", e.msg);
    lc_free(&lm); cJSON_Delete(j);
    f = xasprintf("%s/transformer/diffusion_pytorch_model.safetensors", l);
    expect_same_file(f, ref); free(f);
    free(q); free(l); free(ref);
    tmpdir_remove(d);
}

/* --layers / --single / --text-layers change depths only: full widths on a few blocks. */
static void test_full_width_few_layers(void **state) {
    (void)state;
    char *d = tmpdir_make(), *q = xasprintf("%s/q", d), *l = xasprintf("%s/l", d);
    Err e = {0};
    ModelInitSpec sq = {"qwen_image", "edit-v2", SIZE_FULL, q, 0, "tests/data/qwen_tokenizer", 0, 3, 0, 9, NULL, 0};
    ModelInitSpec sl = {"longcat_image", "edit", SIZE_FULL, l, 0, "tests/data/qwen_tokenizer", 0, 2, 0, 0, NULL, 0};
    if (model_init_write(&sq, &e) || model_init_write(&sl, &e)) fail_msg("%s", e.msg);
    cJSON *j = json_at(q, "transformer", "config.json");
    QiConfig qc;
    if (qi_config_parse(j, &qc, "qwen", &e)) fail_msg("%s", e.msg);
    assert_int_equal(qc.num_layers, 3); assert_int_equal(qc.dim, 3072); assert_int_equal(qc.joint_attention_dim, 3584);
    cJSON_Delete(j);
    j = json_at(q, "text_encoder", "config.json");
    QvConfig vc;
    if (qv_config_parse(j, &vc, &e)) fail_msg("%s", e.msg);
    assert_int_equal(vc.text.layers, 9); assert_int_equal(vc.text.hidden, 3584); assert_int_equal(vc.vision.depth, 9);
    const cJSON *fa = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "vision_config"), "fullatt_block_indexes");
    assert_int_equal(cJSON_GetArraySize(fa), 1);
    assert_int_equal(cJSON_GetArrayItem(fa, 0)->valueint, 7);   /* the published index that exists at depth 9 */
    cJSON_Delete(j);
    j = json_at(l, "transformer", "config.json");
    LcConfig lc;
    if (lc_config_parse(j, &lc, &e)) fail_msg("%s", e.msg);
    assert_int_equal(lc.layers, 2); assert_int_equal(lc.single_layers, 4); assert_int_equal(lc.dim, 3072);
    cJSON_Delete(j);
    free(q); free(l);
    tmpdir_remove(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_configs_are_the_published_ones),
        cmocka_unit_test(test_tiny_and_small_load),
        cmocka_unit_test(test_streamed_weights_are_the_built_ones),
        cmocka_unit_test(test_full_width_few_layers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
