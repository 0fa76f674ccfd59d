/* LoRA file reading (train/lora.c): the spellings it accepts, and damaged files it must refuse with a
 * message instead of reading out of bounds (an empty .alpha tensor, ranks of lora_A and lora_B that
 * disagree when lora_B is read first, two spellings of one matrix, zero or huge sizes, a metadata
 * alpha out of range). */
#include "test_util.h"
#include "models/adapter/lora_file.h"
#include "tensor/safetensors.h"
#include "base/files.h"
#include <math.h>

static const char *const MODS[] = {"blocks.0.attn.to_q", "blocks.0.attn.to_k"};

typedef struct { const char *name; int64_t s0, s1; int ndim; } T;

/* Writes tensors (values 0.5, 1, 1.5, ...) and optional lora_adapter_metadata; returns the path. */
static char *write_lora(const char *dir, const T *ts, int n, const char *meta) {
    char *p = path_join(dir, "l.safetensors");
    StWriter w; stw_init(&w);
    for (int i = 0; i < n; i++) {
        size_t cnt = (size_t)ts[i].s0 * (ts[i].ndim == 2 ? (size_t)ts[i].s1 : 1);
        float *v = malloc(cnt * sizeof(float) + 4);
        for (size_t k = 0; k < cnt; k++) v[k] = 0.5f * (float)(k + 1);
        int64_t sh[2] = {ts[i].s0, ts[i].s1};
        stw_add_f32(&w, ts[i].name, ts[i].ndim, sh, v);
        free(v);
    }
    if (meta) stw_set_meta(&w, "lora_adapter_metadata", meta);
    Err e = {0};
    if (stw_write(&w, p, &e)) fail_msg("%s", e.msg);
    stw_free(&w);
    return p;
}

static void expect_read_error(const T *ts, int n, const char *meta, const char *needle) {
    char *d = tmpdir_make(), *p = write_lora(d, ts, n, meta);
    LoraEntry *v; int nv; Err e = {0};
    assert_int_equal(lora_read(p, MODS, 2, &v, &nv, &e), -1);
    assert_contains(e.msg, p);
    assert_contains(e.msg, needle);
    free(p); tmpdir_remove(d);
}

static void test_lora_read_spellings(void **state) {
    (void)state;
    char *d = tmpdir_make();
    T kohya[3] = {{"lora_unet_blocks_0_attn_to_q.lora_down.weight", 2, 3, 2}, {"lora_unet_blocks_0_attn_to_q.lora_up.weight", 4, 2, 2},
                  {"lora_unet_blocks_0_attn_to_q.alpha", 1, 0, 1}};
    char *p = write_lora(d, kohya, 3, NULL);
    LoraEntry *v; int nv; Err e = {0};
    assert_int_equal(lora_read(p, MODS, 2, &v, &nv, &e), 0);
    assert_int_equal(nv, 1);
    assert_string_equal(v[0].module, "blocks.0.attn.to_q");
    assert_int_equal(v[0].r, 2); assert_int_equal(v[0].in, 3); assert_int_equal(v[0].out, 4);
    assert_true(fabsf(v[0].scale - 0.25f) < 1e-7f);          /* alpha 0.5 / r 2 */
    assert_true(v[0].B[7] == 4.0f);
    lora_entries_free(v, nv);
    free(p);
    T peft[2] = {{"transformer.blocks.0.attn.to_k.lora_A.weight", 1, 3, 2}, {"transformer.blocks.0.attn.to_k.lora_B.weight", 2, 1, 2}};
    p = write_lora(d, peft, 2, "{\"r\": 1, \"lora_alpha\": 4}");
    assert_int_equal(lora_read(p, MODS, 2, &v, &nv, &e), 0);
    assert_true(v[0].scale == 4.0f);
    lora_entries_free(v, nv);
    free(p);
    tmpdir_remove(d);
}

static void test_lora_read_damaged(void **state) {
    (void)state;
    /* an .alpha tensor with no value was read past its end */
    T empty_alpha[3] = {{"blocks.0.attn.to_q.lora_A.weight", 2, 3, 2}, {"blocks.0.attn.to_q.lora_B.weight", 4, 2, 2},
                        {"blocks.0.attn.to_q.alpha", 0, 0, 1}};
    expect_read_error(empty_alpha, 3, NULL, "LoRA alpha 'blocks.0.attn.to_q.alpha' has 0 values, expected one");
    /* lora_B (sorted first) says rank 1, lora_down says rank 3: B would be read as [4, 3] */
    T ranks[2] = {{"blocks.0.attn.to_q.lora_B.weight", 4, 1, 2}, {"blocks.0.attn.to_q.lora_down.weight", 3, 3, 2}};
    expect_read_error(ranks, 2, NULL, "lora_B rank 1 differs from its lora_A rank 3");
    T twice[3] = {{"blocks.0.attn.to_q.lora_A.weight", 2, 3, 2}, {"blocks.0.attn.to_q.lora_B.weight", 4, 2, 2},
                  {"blocks.0.attn.to_q.lora_down.weight", 2, 3, 2}};
    expect_read_error(twice, 3, NULL, "gives module 'blocks.0.attn.to_q' a second lora_A (down) matrix");
    T zero[2] = {{"blocks.0.attn.to_q.lora_A.weight", 0, 3, 2}, {"blocks.0.attn.to_q.lora_B.weight", 4, 0, 2}};
    expect_read_error(zero, 2, NULL, "has shape [0, 3]");
    T ok[2] = {{"blocks.0.attn.to_q.lora_A.weight", 2, 3, 2}, {"blocks.0.attn.to_q.lora_B.weight", 4, 2, 2}};
    expect_read_error(ok, 2, "{\"lora_alpha\": 1e300}", "lora_alpha is 1e+300, expected a finite value >= 0");
    T unknown[2] = {{"blocks.9.attn.to_q.lora_A.weight", 2, 3, 2}, {"blocks.9.attn.to_q.lora_B.weight", 4, 2, 2}};
    expect_read_error(unknown, 2, NULL, "names no module of this transformer");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lora_read_spellings),
        cmocka_unit_test(test_lora_read_damaged),
    };
    return cmocka_run_group_tests_name("lora_read", tests, NULL, NULL);
}
