/* safetensors reader/writer: round trip, sets of shards, and every corruption the reader must name. */
#include "test_util.h"
#include "tensor/safetensors.h"
#include "base/files.h"
#include "kernels/linear.h"
#include <math.h>

static void write_raw(const char *path, const char *header, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint64_t hl = strlen(header);
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)(hl >> (8 * i));
    fwrite(len, 1, 8, f); fwrite(header, 1, hl, f);
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

static void test_round_trip(void **state) {
    (void)state;
    char *d = tmpdir_make(), *p = path_join(d, "a.safetensors");
    StWriter w; stw_init(&w);
    float a[6] = {1, -2, 3.5f, 0, 1e-3f, 7};
    int64_t sa[2] = {2, 3};
    stw_add_f32(&w, "layer.weight", 2, sa, a);
    uint16_t b[3] = {f32_to_bf16(1.5f), f32_to_bf16(-0.25f), f32_to_bf16(3.0f)};
    int64_t sb = 3;
    stw_add(&w, "b16", DT_BF16, 1, &sb, b);
    int64_t iv[2] = {-5, 1LL << 40}; int64_t si = 2;
    stw_add(&w, "ids", DT_I64, 1, &si, iv);
    stw_set_meta(&w, "format", "pt");
    Err e = {0};
    assert_int_equal(stw_write(&w, p, &e), 0);
    stw_free(&w);
    StFile f;
    assert_int_equal(st_open(&f, p, &e), 0);
    assert_int_equal(f.n, 3);
    assert_string_equal(st_meta(&f, "format"), "pt");
    const StTensor *t = st_find(&f, "layer.weight");
    assert_non_null(t);
    assert_int_equal(t->ndim, 2); assert_int_equal(t->shape[1], 3);
    float *x = st_to_f32(t);
    for (int i = 0; i < 6; i++) assert_true(x[i] == a[i]);
    free(x);
    x = st_to_f32(st_find(&f, "b16"));
    assert_true(x[0] == 1.5f && x[1] == -0.25f && x[2] == 3.0f);
    free(x);
    const StTensor *ti = st_find(&f, "ids");
    int64_t got; memcpy(&got, (const char *)ti->data + 8, 8);
    assert_true(got == (1LL << 40));
    assert_null(st_find(&f, "nope"));
    int64_t want[2] = {3, 2};
    assert_int_not_equal(st_expect_shape(t, 2, want, &e), 0);
    assert_contains(e.msg, "tensor 'layer.weight' has shape [2, 3], expected [3, 2]");
    st_close(&f);
    free(p); tmpdir_remove(d);
}

static void expect_open_error(const char *header, size_t datalen, const char *needle) {
    char *d = tmpdir_make(), *p = path_join(d, "bad.safetensors");
    char data[64] = {0};
    write_raw(p, header, data, datalen);
    StFile f; Err e = {0};
    assert_int_not_equal(st_open(&f, p, &e), 0);
    assert_contains(e.msg, p);
    assert_contains(e.msg, needle);
    free(p); tmpdir_remove(d);
}

static void test_corrupt(void **state) {
    (void)state;
    expect_open_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]", 8, "not a valid JSON object");
    expect_open_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}", 8, "run past the end of the file");
    expect_open_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", 8, "does not match its shape and dtype F32 (expected 12 bytes)");
    expect_open_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 16, "overlap");
    expect_open_error("{\"a\": {\"dtype\": \"Q4\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 8, "unsupported dtype 'Q4'");
    expect_open_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 0]}}", 8, "invalid data_offsets");
    expect_open_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [-2], \"data_offsets\": [0, 8]}}", 8, "invalid dimension");
}

/* Duplicate keys at any level (cJSON keeps both members): two __metadata__ objects overflowed the
 * metadata arrays; two tensors of one name or two dtypes of one tensor would be read silently. */
static void test_duplicate_keys(void **state) {
    (void)state;
    expect_open_error("{\"__metadata__\": {\"b\": \"2\", \"c\": \"3\", \"d\": \"4\"}, \"__metadata__\": {\"a\": \"1\"}, "
                      "\"x\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 4, "key '__metadata__' appears twice");
    expect_open_error("{\"x\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}, "
                      "\"x\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", 8, "key 'x' appears twice");
    expect_open_error("{\"x\": {\"dtype\": \"F32\", \"dtype\": \"BF16\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 4,
                      "key 'dtype' appears twice in 'x'");
    expect_open_error("{\"__metadata__\": {\"k\": \"1\", \"k\": \"2\"}, \"x\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 4,
                      "key 'k' appears twice in '__metadata__'");
}

/* Shape and offset numbers are doubles in JSON: out-of-range or fractional values are refused before
 * any conversion to an integer (which would be undefined behaviour for 1e300 or 1.8e19). */
static void test_number_ranges(void **state) {
    (void)state;
    const char *dims[] = {"1e300", "1e30", "1.8e19", "-1", "2.5", "1e999"};
    for (size_t i = 0; i < sizeof dims / sizeof *dims; i++) {
        char h[256];
        snprintf(h, sizeof h, "{\"a\": {\"dtype\": \"F32\", \"shape\": [%s], \"data_offsets\": [0, 8]}}", dims[i]);
        expect_open_error(h, 8, "invalid dimension");
    }
    const char *offs[][2] = {{"1e300", "1e300"}, {"0", "1.8e19"}, {"0", "1e30"}, {"-1", "7"}, {"0.5", "8.5"}, {"0", "1e999"}};
    const char *want[] = {"run past the end", "run past the end", "run past the end", "invalid data_offsets", "invalid data_offsets", "invalid data_offsets"};
    for (size_t i = 0; i < sizeof offs / sizeof *offs; i++) {
        char h[256];
        snprintf(h, sizeof h, "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [%s, %s]}}", offs[i][0], offs[i][1]);
        expect_open_error(h, 8, want[i]);
    }
}

/* Tensors lie back to back and cover the data block, as the format requires: an overlap hidden behind
 * a zero-length tensor, a gap and trailing bytes are all refused. */
static void test_layout(void **state) {
    (void)state;
    expect_open_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}, "
                      "\"z\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [4, 4]}, "
                      "\"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 12]}}", 16, "overlap");
    expect_open_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}, "
                      "\"z\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [16, 16]}, "
                      "\"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 12]}}", 16, "tensors 'a' and 'b' overlap");
    expect_open_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, "
                      "\"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [12, 20]}}", 20, "4 unused bytes before tensor 'b'");
    expect_open_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 12, "trailing bytes");
    /* zero-length tensors anywhere on the boundaries are fine */
    char *d = tmpdir_make(), *p = path_join(d, "ok.safetensors");
    float v[2] = {1, 2};
    write_raw(p, "{\"z0\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [0, 0]}, \"a\": {\"dtype\": \"F32\", \"shape\": [2], "
                 "\"data_offsets\": [0, 8]}, \"z1\": {\"dtype\": \"BF16\", \"shape\": [3, 0], \"data_offsets\": [8, 8]}}", v, 8);
    StFile f; Err e = {0};
    assert_int_equal(st_open(&f, p, &e), 0);
    assert_int_equal(f.n, 3);
    st_close(&f);
    free(p); tmpdir_remove(d);
}

/* A header length that is not a multiple of 8 is valid: tensor data then starts at odd addresses.
 * Every reader (st_to_f32, weight_rows_f32, linear_forward on an f32 weight) copes; under
 * SANITIZE=1 a misaligned uint16_t / float load would abort here. */
static void test_unaligned_data(void **state) {
    (void)state;
    char *d = tmpdir_make(), *p = path_join(d, "odd.safetensors");
    float w32[6] = {1, -2, 3, 0.5f, -0.25f, 8};
    uint16_t w16[6], h16[6];
    for (int i = 0; i < 6; i++) { w16[i] = f32_to_bf16(w32[i]); h16[i] = f32_to_f16(w32[i]); }
    unsigned char data[24 + 12 + 12];
    memcpy(data, w32, 24); memcpy(data + 24, w16, 12); memcpy(data + 36, h16, 12);
    const char *hdr = "{\"w32\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]}, "
                      "\"w16\": {\"dtype\": \"BF16\", \"shape\": [2, 3], \"data_offsets\": [24, 36]}, "
                      "\"h16\": {\"dtype\": \"F16\", \"shape\": [2, 3], \"data_offsets\": [36, 48]}}";
    size_t hl = strlen(hdr);
    char *padded = malloc(hl + 8);
    memcpy(padded, hdr, hl);
    size_t pad = (hl % 2) ? 0 : 1;                    /* odd header length: the data starts at an odd offset */
    memset(padded + hl, ' ', pad); padded[hl + pad] = 0;
    write_raw(p, padded, data, sizeof data);
    free(padded);
    StFile f; Err e = {0};
    assert_int_equal(st_open(&f, p, &e), 0);
    const char *names[3] = {"w32", "w16", "h16"};
    float x[3] = {1, 2, -1}, want[2];
    for (int o = 0; o < 2; o++) want[o] = w32[3 * o] * x[0] + w32[3 * o + 1] * x[1] + w32[3 * o + 2] * x[2];
    for (int k = 0; k < 3; k++) {
        const StTensor *t = st_find(&f, names[k]);
        assert_non_null(t);
        assert_true(((uintptr_t)t->data) % 2 == 1);
        float *v = st_to_f32(t);
        for (int i = 0; i < 6; i++) assert_true(v[i] == w32[i]);
        free(v);
        Weight w = {t->dtype, t->data, 2, 3, QUANT_NONE, NULL, 0};
        float rows[6], y[2];
        weight_rows_f32(&w, 1, 1, rows);
        for (int i = 0; i < 3; i++) assert_true(rows[i] == w32[3 + i]);
        linear_forward(x, 3, 1, &w, NULL, y, 2, 0.0f);
        for (int o = 0; o < 2; o++) assert_true(fabsf(y[o] - want[o]) < 1e-6f);
    }
    st_close(&f);
    free(p); tmpdir_remove(d);
}

static void test_truncated(void **state) {
    (void)state;
    char *d = tmpdir_make(), *p = path_join(d, "t.safetensors");
    StWriter w; stw_init(&w);
    float a[64] = {0}; int64_t s = 64;
    stw_add_f32(&w, "x", 1, &s, a);
    Err e = {0};
    assert_int_equal(stw_write(&w, p, &e), 0);
    stw_free(&w);
    assert_int_equal(truncate(p, 100), 0);
    StFile f;
    assert_int_not_equal(st_open(&f, p, &e), 0);
    assert_contains(e.msg, "run past the end of the file");
    assert_int_equal(truncate(p, 20), 0);
    assert_int_not_equal(st_open(&f, p, &e), 0);
    assert_contains(e.msg, "header length");
    assert_int_equal(truncate(p, 3), 0);
    assert_int_not_equal(st_open(&f, p, &e), 0);
    assert_contains(e.msg, "shorter than the 8-byte header length");
    char *missing = path_join(d, "missing.safetensors");
    assert_int_not_equal(st_open(&f, missing, &e), 0);
    assert_contains(e.msg, "cannot open safetensors file");
    free(missing); free(p); tmpdir_remove(d);
}

static void test_sharded(void **state) {
    (void)state;
    char *d = tmpdir_make();
    Err e = {0};
    for (int k = 0; k < 2; k++) {
        StWriter w; stw_init(&w);
        float v = (float)k; int64_t s = 1;
        char name[32]; snprintf(name, sizeof name, "t%d", k);
        stw_add_f32(&w, name, 1, &s, &v);
        char fn[64]; snprintf(fn, sizeof fn, "m-%05d-of-00002.safetensors", k + 1);
        char *p = path_join(d, fn);
        assert_int_equal(stw_write(&w, p, &e), 0);
        free(p); stw_free(&w);
    }
    char *idx = path_join(d, "m.safetensors.index.json");
    write_text(idx, "{\"metadata\": {}, \"weight_map\": {\"t0\": \"m-00001-of-00002.safetensors\", \"t1\": \"m-00002-of-00002.safetensors\"}}");
    StSet s;
    assert_int_equal(stset_open(&s, d, &e), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(stset_count(&s), 2);
    float *x = st_to_f32(stset_find(&s, "t1"));
    assert_true(x[0] == 1.0f);
    free(x);
    stset_close(&s);
    write_text(idx, "{\"weight_map\": {\"t0\": \"m-00001-of-00002.safetensors\", \"t9\": \"m-00002-of-00002.safetensors\"}}");
    assert_int_not_equal(stset_open(&s, idx, &e), 0);
    assert_contains(e.msg, "tensor 't9' is listed in the index but missing");
    free(idx); tmpdir_remove(d);
}

static void test_dtypes(void **state) {
    (void)state;
    float vals[] = {0.0f, 1.0f, -2.5f, 0.15625f, 448.0f, 1e-3f, 65504.0f};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        float v = vals[i];
        assert_true(fabsf(f16_to_f32(f32_to_f16(v)) - v) <= fabsf(v) * 1e-3f + 1e-7f);
        assert_true(fabsf(bf16_to_f32(f32_to_bf16(v)) - v) <= fabsf(v) * 8e-3f);
        if (fabsf(v) <= 448.0f) assert_true(fabsf(f8e4m3_to_f32(f32_to_f8e4m3(v)) - v) <= fabsf(v) * 0.0625f + 1e-3f);
    }
    assert_true(f8e4m3_to_f32(f32_to_f8e4m3(1000.0f)) == 448.0f); /* saturates */
    assert_true(f8e4m3_to_f32(0x38) == 1.0f);
    assert_true(f16_to_f32(0x3c00) == 1.0f);
    assert_true(f8e5m2_to_f32(0x3c) == 1.0f);
    /* bf16 rounds to nearest even */
    assert_true(f32_to_bf16(1.00390625f) == 0x3f80);
}

/* The streaming writer lays out exactly the bytes stw_write does (same header, same data), whatever
 * order the tensors' bytes arrive in; undeclared or missing tensors are errors and leave no file. */
static void test_stream(void **state) {
    (void)state;
    char *d = tmpdir_make(), *pa = path_join(d, "a.safetensors"), *pb = path_join(d, "b.safetensors");
    float a[6] = {1, -2, 3.5f, 0, 1e-3f, 7};
    uint16_t b[3] = {f32_to_bf16(1.5f), f32_to_bf16(-0.25f), f32_to_bf16(3.0f)};
    int64_t sa[2] = {2, 3}, sb = 3, sz = 0;
    StWriter w; stw_init(&w);
    stw_set_meta(&w, "format", "pt");
    stw_add_f32(&w, "layer.weight", 2, sa, a);
    stw_add(&w, "b16", DT_BF16, 1, &sb, b);
    stw_add(&w, "empty", DT_F32, 1, &sz, a);
    Err e = {0};
    assert_int_equal(stw_write(&w, pa, &e), 0);
    stw_free(&w);
    StStream s; sts_init(&s);
    sts_set_meta(&s, "format", "pt");
    sts_declare(&s, "layer.weight", DT_F32, 2, sa);
    sts_declare(&s, "b16", DT_BF16, 1, &sb);
    sts_declare(&s, "empty", DT_F32, 1, &sz);
    assert_int_equal(sts_begin(&s, pb, &e), 0);
    assert_int_equal(sts_write(&s, "empty", a, &e), 0);
    assert_int_equal(sts_write(&s, "b16", b, &e), 0);
    assert_int_not_equal(sts_write(&s, "nope", b, &e), 0);
    assert_contains(e.msg, "tensor 'nope' was not declared");
    assert_int_equal(sts_write(&s, "layer.weight", a, &e), 0);
    assert_int_equal(sts_finish(&s, &e), 0);
    size_t na, nb;
    char *fa = file_read_all(pa, &na, &e), *fb = file_read_all(pb, &nb, &e);
    assert_non_null(fa); assert_non_null(fb);
    assert_int_equal(na, nb);
    assert_memory_equal(fa, fb, na);
    free(fa); free(fb);
    /* a tensor never written: an error naming it, and no file in place */
    char *pc = path_join(d, "c.safetensors");
    sts_init(&s);
    sts_declare(&s, "layer.weight", DT_F32, 2, sa);
    sts_declare(&s, "b16", DT_BF16, 1, &sb);
    assert_int_equal(sts_begin(&s, pc, &e), 0);
    assert_int_equal(sts_write(&s, "b16", b, &e), 0);
    assert_int_not_equal(sts_finish(&s, &e), 0);
    assert_contains(e.msg, "tensor 'layer.weight' was declared but never written");
    assert_false(file_exists(pc));
    char cmd[600]; snprintf(cmd, sizeof cmd, "ls '%s' | grep -c tmp || true", d);
    FILE *ls = popen(cmd, "r"); char out[16] = ""; assert_non_null(fgets(out, sizeof out, ls)); pclose(ls);
    assert_int_equal(atoi(out), 0);   /* the temporary file is gone too */
    free(pa); free(pb); free(pc); tmpdir_remove(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_number_ranges),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_unaligned_data),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_sharded),
        cmocka_unit_test(test_dtypes),
        cmocka_unit_test(test_stream),
    };
    return cmocka_run_group_tests_name("safetensors", tests, NULL, NULL);
}
