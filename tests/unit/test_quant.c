/* Quantised frozen base: per-format round-trip error bounds, linear layers on packed weights, and a
 * whole Qwen-Image forward on an int8 / fp8 / nf4 / int4 base staying close to the f32 forward. */
#include "test_util.h"
#include <math.h>
#include "models/qwen_image/qwen_image.h"
#include "kernels/linear.h"
#include "tensor/quant.h"
#include "base/files.h"
#include "base/meminfo.h"
#include "models/family.h"
#include "models/transformer.h"

/* Element by element, from the format's definition (quant.h): the fast table-driven path must match it
 * bit for bit. */
static float ref_dequant(const Weight *w, int r, int c) {
    static const float NF4[16] = {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
                                  -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
                                  0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
                                  0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};
    const unsigned char *q = w->data;
    int bits = w->quant == QUANT_NF4 || w->quant == QUANT_INT4 ? 4 : w->quant == QUANT_INT2 ? 2 : 8;
    size_t row = (size_t)w->cols * bits / 8;
    float s = w->scale[(size_t)r * (w->cols / w->group) + c / w->group], v;
    const unsigned char *qr = q + (size_t)r * row;
    switch (w->quant) {
    case QUANT_INT8: v = (float)(int8_t)qr[c]; break;
    case QUANT_FP8: v = f8e4m3_to_f32(qr[c]); break;
    case QUANT_NF4: v = NF4[(qr[c / 2] >> (4 * (c & 1))) & 15]; break;
    case QUANT_INT4: { int k = (qr[c / 2] >> (4 * (c & 1))) & 15; v = (float)(k >= 8 ? k - 16 : k); break; }
    default: { int k = (qr[c / 4] >> (2 * (c & 3))) & 3; v = (float)k - 1.5f; break; }
    }
    return v * s;
}

static void test_round_trip(void **state) {
    (void)state;
    enum { R = 8, C = 128 };
    static float w[R * C], back[R * C];
    Rng rng; rng_seed(&rng, 4);
    rng_fill_normal(&rng, w, R * C, 0, 0.05f);
    /* worst error relative to the group's absmax: int8 half a step of 1/127, fp8 a 3-bit mantissa,
     * NF4 half the widest gap of its code book, int4 half of 1/7, int2 the outer levels' reach */
    struct { QuantKind k; double bound; } cases[] = {
        {QUANT_INT8, 0.5 / 127 + 1e-6}, {QUANT_FP8, 1.0 / 16 + 1e-6}, {QUANT_NF4, 0.16}, {QUANT_INT4, 0.5 / 7 + 1e-6}, {QUANT_INT2, 0.34},
    };
    for (size_t t = 0; t < sizeof cases / sizeof *cases; t++) {
        Weight wt = {DT_F32, w, R, C, QUANT_NONE, NULL, 0};
        QuantStorage qs; Err e = {0};
        assert_int_equal(weight_quantize(&wt, cases[t].k, &qs, &e), 0);
        weight_rows_f32(&wt, 0, R, back);
        for (int r = 0; r < R; r++)
            for (int c = 0; c < C; c++)
                if (back[r * C + c] != ref_dequant(&wt, r, c)) fail_msg("%s: [%d,%d] dequantised %g, expected %g", quant_name(cases[t].k), r, c, back[r * C + c], ref_dequant(&wt, r, c));
        float part[3 * C];   /* rows from the middle of the matrix */
        weight_rows_f32(&wt, 2, 3, part);
        assert_memory_equal(part, back + 2 * C, sizeof part);
        int group = wt.group;
        for (int r = 0; r < R; r++)
            for (int g = 0; g < C / group; g++) {
                float amax = 0;
                for (int i = 0; i < group; i++) amax = fmaxf(amax, fabsf(w[r * C + g * group + i]));
                for (int i = 0; i < group; i++) {
                    int c = g * group + i;
                    double err = fabs(back[r * C + c] - w[r * C + c]) / amax;
                    if (err > cases[t].bound) fail_msg("%s: error %.4f of absmax > %.4f", quant_name(cases[t].k), err, cases[t].bound);
                }
            }
        /* a linear on the packed weight equals one on its dequantised copy */
        float x[3 * C], y1[3 * R], y2[3 * R];
        rng_fill_normal(&rng, x, 3 * C, 0, 1);
        Weight wd = {DT_F32, back, R, C, QUANT_NONE, NULL, 0};
        linear_forward(x, C, 3, &wt, NULL, y1, R, 0.0f);
        linear_forward(x, C, 3, &wd, NULL, y2, R, 0.0f);
        for (int i = 0; i < 3 * R; i++) assert_true(fabsf(y1[i] - y2[i]) <= 1e-5f * (1 + fabsf(y2[i])));
        quant_storage_free(&qs);
    }
    QuantKind k; Err e = {0};
    assert_int_not_equal(quant_parse("int3-quanto", &k, &e), 0);
    assert_contains(e.msg, "not supported yet: base_model_precision=int3-quanto");
    assert_int_equal(quant_parse("nf4-bnb", &k, &e), 0);
    assert_int_equal(k, QUANT_NF4);
}

/* NF4 codes are the nearest level (the lower one on a tie), exactly as a full search finds them:
 * rows scaled to absmax 1 hold every midpoint, its neighbouring floats and random values. */
static void test_nf4_nearest_exact(void **state) {
    (void)state;
    static const float NF4[16] = {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
                                  -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
                                  0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
                                  0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};
    enum { C = 64, R = 64 };
    static float w[R * C];
    Rng rng; rng_seed(&rng, 21);
    int k = 0;
    for (int r = 0; r < R; r++) {
        w[r * C] = 1.0f;   /* absmax 1: the scale is 1 and the codes see the values themselves */
        for (int c = 1; c < C; c++, k++) {
            int m = k % 15, v = (k / 15) % 5;
            float mid = 0.5f * (NF4[m] + NF4[m + 1]);
            w[r * C + c] = v == 0 ? mid : v == 1 ? nextafterf(mid, 2) : v == 2 ? nextafterf(mid, -2) : v == 3 ? NF4[m] : rng_uniformf(&rng) * 2 - 1;
        }
    }
    Weight wt = {DT_F32, w, R, C, QUANT_NONE, NULL, 0};
    QuantStorage qs; Err e = {0};
    assert_int_equal(weight_quantize(&wt, QUANT_NF4, &qs, &e), 0);
    const unsigned char *q = qs.data;
    for (int i = 0; i < R * C; i++) {
        int best = 0; float bd = 1e30f;
        for (int j = 0; j < 16; j++) { float d = fabsf(w[i] - NF4[j]); if (d < bd) { bd = d; best = j; } }
        int got = (q[i / 2] >> (4 * (i & 1))) & 15;
        if (got != best) fail_msg("value %.9g: code %d, nearest is %d", w[i], got, best);
    }
    quant_storage_free(&qs);
}

/* int8 codes are lrintf(clamp(x, ±127)) (ties to even; NaN to -127 as fmaxf sends it), int4 and int2
 * their definitions, on rows whose scale is exactly 1 so the codes see the values themselves. */
static void test_int_codes_exact(void **state) {
    (void)state;
    enum { C = 256, R = 8 };
    static float w[R * C];
    Rng rng; rng_seed(&rng, 5);
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) {
            float v = c % 4 == 0 ? (float)(c / 2 - 64) + 0.5f : c % 4 == 1 ? nextafterf((float)(c / 2 - 64) + 0.5f, 1000) : rng_uniformf(&rng) * 254 - 127;
            w[r * C + c] = v;
        }
    for (int r = 0; r < R; r++) { w[r * C] = 127.0f; w[r * C + 3] = -127.0f; }
    w[5] = NAN;   /* the row's absmax ignores it; its code is -127 */
    Weight wt = {DT_F32, w, R, C, QUANT_NONE, NULL, 0};
    QuantStorage qs; Err e = {0};
    assert_int_equal(weight_quantize(&wt, QUANT_INT8, &qs, &e), 0);
    const signed char *q = qs.data;
    for (int i = 0; i < R * C; i++) {
        assert_true(qs.scale[i / C] == 1.0f);
        long want = lrintf(fminf(fmaxf(w[i], -127), 127));
        if (q[i] != want) fail_msg("int8 of %.9g: %d, expected %ld", w[i], q[i], want);
    }
    quant_storage_free(&qs);
    /* int4 (scale absmax/7) and int2 (absmax/1.5): values at the levels' midpoints and beyond */
    static float v4[64];
    for (int i = 0; i < 64; i++) v4[i] = i == 0 ? 7.0f : (float)(i % 17) - 8.5f + (i % 3) * 0.25f;
    Weight w4 = {DT_F32, v4, 1, 64, QUANT_NONE, NULL, 0};
    assert_int_equal(weight_quantize(&w4, QUANT_INT4, &qs, &e), 0);
    for (int i = 0; i < 64; i++) {
        int got = (((const unsigned char *)qs.data)[i / 2] >> (4 * (i & 1))) & 15, want = (int)lrintf(fminf(fmaxf(v4[i] * (1.0f / qs.scale[0]), -8), 7)) & 15;
        if (got != want) fail_msg("int4 of %g: %d, expected %d", v4[i], got, want);
    }
    quant_storage_free(&qs);
    Weight w2 = {DT_F32, v4, 1, 64, QUANT_NONE, NULL, 0};
    assert_int_equal(weight_quantize(&w2, QUANT_INT2, &qs, &e), 0);
    for (int i = 0; i < 64; i++) {
        float x = v4[i] * (1.0f / qs.scale[0]);
        int got = (((const unsigned char *)qs.data)[i / 4] >> (2 * (i & 3))) & 3, want = x < -1.0f ? 0 : x < 0.0f ? 1 : x < 1.0f ? 2 : 3;
        if (got != want) fail_msg("int2 of %g: %d, expected %d", v4[i], got, want);
    }
    quant_storage_free(&qs);
}

static double max_rel(const float *a, const float *b, int n) {
    double d = 0, m = 0;
    for (int i = 0; i < n; i++) { d = fmax(d, fabs(a[i] - b[i])); m = fmax(m, fabs(b[i])); }
    return d / m;
}

static void test_quantised_forward(void **state) {
    (void)state;
    QiConfig c = {0};
    c.in_channels = 16; c.out_channels = 4; c.patch_size = 2; c.num_layers = 2; c.heads = 2; c.head_dim = 32;
    c.joint_attention_dim = 64; c.axes[0] = 8; c.axes[1] = 12; c.axes[2] = 12; c.dim = 64;
    float img[12 * 16], txt[4 * 64], ref[12 * 16], out[12 * 16];
    Rng r; rng_seed(&r, 8);
    rng_fill_normal(&r, img, 12 * 16, 0, 1); rng_fill_normal(&r, txt, 4 * 64, 0, 1);
    QiInput in = {0};
    in.n_img = 1; in.img_h[0] = 3; in.img_w[0] = 4; in.img = img; in.txt = txt; in.txt_len = 4; in.timestep = 0.5f;
    Err e = {0};
    QiModel m;
    assert_int_equal(qi_init_random(&m, &c, 3, DT_BF16, &e), 0);
    assert_int_equal(qi_forward(&m, &in, ref, NULL, &e), 0);
    qi_free(&m);
    /* stated tolerances (max abs error / max abs output) for this 2-block model */
    struct { QuantKind k; double tol; } cases[] = {{QUANT_INT8, 0.02}, {QUANT_FP8, 0.08}, {QUANT_NF4, 0.25}, {QUANT_INT4, 0.25}};
    for (size_t t = 0; t < sizeof cases / sizeof *cases; t++) {
        assert_int_equal(qi_init_random(&m, &c, 3, DT_BF16, &e), 0);
        assert_int_equal(linear_set_quantize(&m.linears, cases[t].k, &e), 0);
        assert_int_equal(qi_forward(&m, &in, out, NULL, &e), 0);
        double err = max_rel(out, ref, 12 * 16);
        if (getenv("QUANT_VERBOSE")) fprintf(stderr, "%s forward rel error %.4f\n", quant_name(cases[t].k), err);
        if (err > cases[t].tol) fail_msg("%s base: forward rel error %.4f > %.2f", quant_name(cases[t].k), err, cases[t].tol);
        assert_true(err > 0); /* it really ran on the packed weights */
        qi_free(&m);
    }
}

/* Quantising a checkpoint straight from its memory-mapped file keeps at most about two tensors of its
 * bf16 bytes resident at any point (the chunk being packed, plus the kernel's fault-around), where
 * packing without releasing leaves the whole file resident; the packed bytes are the same. */
static void test_quantize_releases_mapped_pages(void **state) {
    (void)state;
    enum { NT = 8, R = 384, C = 1024 };          /* 8 tensors of 768 KiB bf16: 6 MiB */
    const long tensor_kib = (long)R * C * 2 / 1024;
    char *d = tmpdir_make(), *p = path_join(d, "model.safetensors");
    StStream s; sts_init(&s);
    int64_t shape[2] = {R, C};
    char name[32];
    for (int t = 0; t < NT; t++) { snprintf(name, sizeof name, "w%d", t); sts_declare(&s, name, DT_BF16, 2, shape); }
    Err e = {0};
    assert_int_equal(sts_begin(&s, p, &e), 0);
    float *f = malloc((size_t)R * C * sizeof(float));
    uint16_t *b = malloc((size_t)R * C * sizeof(uint16_t));
    Rng rng; rng_seed(&rng, 11);
    for (int t = 0; t < NT; t++) {
        rng_fill_normal(&rng, f, (size_t)R * C, 0, 0.05f);
        for (size_t i = 0; i < (size_t)R * C; i++) b[i] = f32_to_bf16(f[i]);
        snprintf(name, sizeof name, "w%d", t);
        assert_int_equal(sts_write(&s, name, b, &e), 0);
    }
    assert_int_equal(sts_finish(&s, &e), 0);
    free(f); free(b);
    QuantKind kinds[2] = {QUANT_NF4, QUANT_INT8};
    for (int kk = 0; kk < 2; kk++) {
        StSet set;
        assert_int_equal(stset_open(&set, p, &e), 0);
        const void *map = set.files[0].map;
        long worst = 0;
        for (int t = 0; t < NT; t++) {
            snprintf(name, sizeof name, "w%d", t);
            const StTensor *st = stset_find(&set, name);
            Weight w = {DT_BF16, st->data, R, C, QUANT_NONE, NULL, 0}, ref = w;
            /* the reference packs a private copy, so the mapping is touched only by the code under test */
            void *copy = malloc(st->nbytes);
            memcpy(copy, st->data, st->nbytes);
            stset_release(&set, st->data, st->nbytes);
            ref.data = copy;
            QuantStorage qs, qr;
            assert_int_equal(weight_quantize_mapped(&w, kinds[kk], &qs, &set, &e), 0);
            assert_int_equal(weight_quantize(&ref, kinds[kk], &qr, &e), 0);
            size_t packed = (size_t)R * (kinds[kk] == QUANT_NF4 ? C / 2 : C);
            assert_memory_equal(qs.data, qr.data, packed);
            assert_memory_equal(qs.scale, qr.scale, (size_t)R * (C / w.group) * sizeof(float));
            long rss = mem_mapping_rss_kib(map);
            assert_true(rss >= 0);
            if (rss > worst) worst = rss;
            quant_storage_free(&qs); quant_storage_free(&qr); free(copy);
        }
        if (getenv("QUANT_VERBOSE")) fprintf(stderr, "%s: at most %ld KiB of the mapping resident (tensor %ld KiB)\n", quant_name(kinds[kk]), worst, tensor_kib);
        if (worst > 2 * tensor_kib) fail_msg("%s: %ld KiB of the mapped checkpoint resident (bound %ld)", quant_name(kinds[kk]), worst, 2 * tensor_kib);
        stset_close(&set);
    }
    /* the measure is real: packing without releasing leaves every tensor's pages resident */
    StSet set;
    assert_int_equal(stset_open(&set, p, &e), 0);
    for (int t = 0; t < NT; t++) {
        snprintf(name, sizeof name, "w%d", t);
        Weight w = {DT_BF16, stset_find(&set, name)->data, R, C, QUANT_NONE, NULL, 0};
        QuantStorage qs;
        assert_int_equal(weight_quantize(&w, QUANT_NF4, &qs, &e), 0);
        quant_storage_free(&qs);
    }
    long all = mem_mapping_rss_kib(set.files[0].map);
    if (getenv("QUANT_VERBOSE")) fprintf(stderr, "without release: %ld KiB resident\n", all);
    if (all < (NT - 1) * tensor_kib) fail_msg("without release only %ld KiB resident; expected about %ld", all, NT * tensor_kib);
    /* releasing memory that is not part of the set is refused (it would zero anonymous pages) */
    char *heap = malloc(8192);
    heap[0] = 42;
    assert_int_equal(stset_release(&set, heap, 8192), 0);
    assert_int_equal(heap[0], 42);
    free(heap);
    stset_close(&set);
    free(p); tmpdir_remove(d);
}

/* Both families' transformers, loaded as train loads them: quantising the base (linear_set_quantize)
 * drops the checkpoint pages the load touched, so the mapping's resident share ends small. */
static void test_loaded_transformer_releases_pages(void **state) {
    (void)state;
    for (int f = 0; MODEL_FAMILIES[f]; f++) {
        const ModelFamily *fam = MODEL_FAMILIES[f];
        char *d = tmpdir_make(), *w = path_join(d, "diffusion_pytorch_model.safetensors"), *c = path_join(d, "config.json");
        ModelInitSpec spec = {fam->name, NULL, SIZE_SMALL, d, 0, NULL, 0, 2, 0, 0, NULL, 0};
        cJSON *j = fam->init_transformer_config(&spec, 0, 64);
        char *txt = cJSON_Print(j);
        Err e = {0};
        assert_int_equal(file_write_atomic(c, txt, strlen(txt), &e), 0);
        assert_int_equal(fam->transformer->write_random(j, 3, DT_BF16, DT_BF16, w, &e), 0);
        free(txt); cJSON_Delete(j);
        Transformer t;
        if (transformer_load(&t, fam->transformer, d, &e)) fail_msg("%s", e.msg);
        /* every frozen weight read once (as a first forward would): all its pages resident */
        double sum = 0;
        const unsigned char *any = NULL;
        for (int i = 0; i < t.linears->n; i++) {
            const Weight *wt = t.linears->l[i]->w;
            const unsigned char *p = wt->data;
            if (!any) any = p;
            for (size_t k = 0; k < (size_t)wt->rows * wt->cols * dtype_size(wt->dtype); k += 512) sum += p[k];
        }
        long before = mem_mapping_rss_kib(any);
        assert_int_equal(linear_set_quantize(t.linears, QUANT_NF4, &e), 0);
        long after = mem_mapping_rss_kib(any);
        if (getenv("QUANT_VERBOSE")) fprintf(stderr, "%s: mapping %ld KiB resident before quantising, %ld after (sum %g)\n", fam->name, before, after, sum);
        if (!(before > 1024 && after * 8 < before)) fail_msg("%s: %ld KiB of the checkpoint resident before quantising, %ld after", fam->name, before, after);
        transformer_free(&t);
        free(w); free(c); tmpdir_remove(d);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_nf4_nearest_exact),
        cmocka_unit_test(test_int_codes_exact),
        cmocka_unit_test(test_quantised_forward),
        cmocka_unit_test(test_quantize_releases_mapped_pages),
        cmocka_unit_test(test_loaded_transformer_releases_pages),
    };
    return cmocka_run_group_tests_name("quant", tests, NULL, NULL);
}
