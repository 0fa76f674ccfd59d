/* test_lora.c — LoRA files: a saved LoRA reads back; a NaN or infinity anywhere (lora_A, lora_B,
 * an .alpha tensor, f32 or bf16) is an error naming the file and the tensor, never loaded. */
#include "test_util.h"
#include <math.h>
#include "base/files.h"
#include "tensor/safetensors.h"
#include "models/adapter/lora_file.h"

static const char *const KNOWN[] = {"blocks.0.to_q", "blocks.0.to_k"};

/* Writes two modules (rank 2, 3 -> 4) with A/B in dtype dt; poison (when not 0) replaces value
 * `at` of tensor `which` ("A", "B" or "alpha", on module 1). */
static void write_lora(const char *path, DType dt, const char *which, int at, float poison) {
    StWriter w; stw_init(&w);
    float a[2 * 3], b[4 * 2], alpha = 2;
    for (int i = 0; i < 6; i++) a[i] = 0.1f * (float)i;
    for (int i = 0; i < 8; i++) b[i] = -0.05f * (float)i;
    for (int m = 0; m < 2; m++) {
        float ma[6], mb[8], mal = alpha;
        memcpy(ma, a, sizeof a); memcpy(mb, b, sizeof b);
        if (m == 1 && which && !strcmp(which, "A")) ma[at] = poison;
        if (m == 1 && which && !strcmp(which, "B")) mb[at] = poison;
        if (m == 1 && which && !strcmp(which, "alpha")) mal = poison;
        char key[128];
        int64_t sa[2] = {2, 3}, sb[2] = {4, 2}, s1 = 1;
        uint8_t buf[64];
        snprintf(key, sizeof key, "transformer.%s.lora_A.weight", KNOWN[m]);
        dtype_from_f32(dt, ma, buf, 6); stw_add(&w, key, dt, 2, sa, buf);
        snprintf(key, sizeof key, "transformer.%s.lora_B.weight", KNOWN[m]);
        dtype_from_f32(dt, mb, buf, 8); stw_add(&w, key, dt, 2, sb, buf);
        snprintf(key, sizeof key, "transformer.%s.alpha", KNOWN[m]);
        stw_add_f32(&w, key, 1, &s1, &mal);
    }
    Err e;
    if (stw_write(&w, path, &e)) fail_msg("%s", e.msg);
    stw_free(&w);
}

static void test_finite_lora_reads(void **st) {
    (void)st;
    char *d = tmpdir_make();
    char *p = path_join(d, "ok.safetensors");
    LoraEntry *v; int n; Err e;
    for (int k = 0; k < 2; k++) {
        write_lora(p, k ? DT_BF16 : DT_F32, NULL, 0, 0);
        if (lora_read(p, KNOWN, 2, &v, &n, &e)) fail_msg("%s", e.msg);
        assert_int_equal(n, 2);
        assert_int_equal(v[1].r, 2);
        assert_true(v[1].scale == 1.0f);   /* alpha 2 / rank 2 */
        lora_entries_free(v, n);
    }
    free(p); tmpdir_remove(d);
}

static void test_non_finite_lora_refused(void **st) {
    (void)st;
    char *d = tmpdir_make();
    char *p = path_join(d, "bad.safetensors");
    static const struct { const char *which; int at; DType dt; const char *tensor; } CASES[] = {
        {"A", 5, DT_F32, "transformer.blocks.0.to_k.lora_A.weight"},
        {"B", 0, DT_F32, "transformer.blocks.0.to_k.lora_B.weight"},
        {"B", 7, DT_BF16, "transformer.blocks.0.to_k.lora_B.weight"},
        {"A", 2, DT_BF16, "transformer.blocks.0.to_k.lora_A.weight"},
        {"alpha", 0, DT_F32, "transformer.blocks.0.to_k.alpha"},
    };
    const float poisons[3] = {NAN, INFINITY, -INFINITY};
    for (size_t c = 0; c < sizeof CASES / sizeof *CASES; c++)
        for (int k = 0; k < 3; k++) {
            write_lora(p, CASES[c].dt, CASES[c].which, CASES[c].at, poisons[k]);
            LoraEntry *v = NULL; int n = 0; Err e = {0};
            assert_int_equal(lora_read(p, KNOWN, 2, &v, &n, &e), -1);
            assert_null(v);
            assert_contains(e.msg, p);
            assert_contains(e.msg, CASES[c].tensor);
            assert_contains(e.msg, "values must be finite");
            char at[32];
            snprintf(at, sizeof at, "at index %d", CASES[c].at);
            assert_contains(e.msg, at);
        }
    free(p); tmpdir_remove(d);
}

/* Shapes that would divide by zero or pick an arbitrary value: rank 0, an .alpha with several values. */
static void test_degenerate_lora_refused(void **st) {
    (void)st;
    char *d = tmpdir_make();
    char *p = path_join(d, "odd.safetensors");
    float v[12] = {0}, alpha[3] = {1, 2, 3};
    for (int k = 0; k < 2; k++) {
        StWriter w; stw_init(&w);
        int64_t sa[2] = {k ? 2 : 0, 3}, sb[2] = {4, k ? 2 : 0}, s3 = 3;
        stw_add_f32(&w, "transformer.blocks.0.to_q.lora_A.weight", 2, sa, v);
        stw_add_f32(&w, "transformer.blocks.0.to_q.lora_B.weight", 2, sb, v);
        if (k) stw_add_f32(&w, "transformer.blocks.0.to_q.alpha", 1, &s3, alpha);
        Err e;
        if (stw_write(&w, p, &e)) fail_msg("%s", e.msg);
        stw_free(&w);
        LoraEntry *out = NULL; int n = 0;
        assert_int_equal(lora_read(p, KNOWN, 2, &out, &n, &e), -1);
        assert_contains(e.msg, p);
        assert_contains(e.msg, k ? "LoRA alpha 'transformer.blocks.0.to_q.alpha' has 3 values, expected one"
                                 : "LoRA tensor 'transformer.blocks.0.to_q.lora_A.weight' has shape [0, 3]; expected both sizes in 1..");
    }
    free(p); tmpdir_remove(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finite_lora_reads),
        cmocka_unit_test(test_non_finite_lora_refused),
        cmocka_unit_test(test_degenerate_lora_refused),
    };
    return cmocka_run_group_tests_name("lora", tests, NULL, NULL);
}
