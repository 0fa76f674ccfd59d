/* test_processor.c — the Qwen2-VL image processor and the pipelines' resize sizes.
 * Fixtures (tests/data/processor/vl_processor.safetensors): from the qwen25vl_text_encoder golden the
 * raw image and the full upstream pixel_values / image_grid_thw; from the three edit-pipeline goldens
 * the reference images and the first 16 rows of their pixel_values (the whole chain: pipeline resize
 * with Lanczos, smart_resize + bicubic, CLIP normalisation, patch order). All must match exactly. */
#include "test_util.h"
#include "models/qwen25vl/processor.h"
#include "image/image_resize.h"
#include "tensor/safetensors.h"
#include <math.h>

#define D "tests/data/processor/"

static StFile FX;
static int setup(void **state) {
    (void)state;
    Err e = {0};
    if (st_open(&FX, D "vl_processor.safetensors", &e)) { fprintf(stderr, "%s\n", e.msg); return -1; }
    return 0;
}
static int teardown(void **state) { (void)state; st_close(&FX); return 0; }

static Image fixture_image(const char *name) {
    const StTensor *t = st_find(&FX, name);
    if (!t || t->dtype != DT_U8 || t->ndim != 3 || t->shape[2] != 3) fail_msg("fixture %s: expected uint8 [H, W, 3]", name);
    Image im = { (int)t->shape[1], (int)t->shape[0], 3, malloc(t->numel) };
    memcpy(im.data, t->data, t->numel);
    return im;
}
static void expect_grid(const char *name, int row, const int g[3]) {
    const StTensor *t = st_find(&FX, name);
    if (!t) fail_msg("fixture %s missing", name);
    for (int k = 0; k < 3; k++) {
        int64_t v; memcpy(&v, (const char *)t->data + (size_t)(row * 3 + k) * 8, 8);
        if (v != g[k]) fail_msg("%s[%d][%d] = %lld, ours %d", name, row, k, (long long)v, g[k]);
    }
}
/* ours[0 .. rows of the fixture) must equal the fixture exactly. */
static void expect_rows(const char *name, const float *ours, int our_rows) {
    const StTensor *t = st_find(&FX, name);
    if (!t || t->ndim != 2 || t->shape[1] != 1176) fail_msg("fixture %s: expected [rows, 1176]", name);
    assert_true(t->shape[0] <= our_rows);
    float *want = st_to_f32(t);
    double maxd = 0; size_t n = (size_t)t->numel;
    for (size_t i = 0; i < n; i++) maxd = fmax(maxd, fabs((double)ours[i] - want[i]));
    free(want);
    if (maxd != 0) fail_msg("%s: max abs diff %g (expected exact)", name, maxd);
}

static QwenVLProcessorConfig config(void) {
    QwenVLProcessorConfig c; Err e = {0};
    if (qwenvl_processor_config_load(D "preprocessor_config.json", &c, &e)) fail_msg("%s", e.msg);
    return c;
}

static void test_text_encoder_golden(void **state) {
    (void)state;
    QwenVLProcessorConfig c = config();
    Image im = fixture_image("image0_rgb_uint8");
    float *pv; int rows, g[3]; Err e = {0};
    assert_int_equal(qwenvl_process_image(&c, &im, &pv, &rows, g, &e), 0);
    assert_int_equal(rows, 48);
    expect_grid("image_grid_thw", 0, g);
    expect_rows("pixel_values", pv, rows);
    free(pv); image_free(&im);
}

static void run_pipeline(const char *prefix, const Image *imgs, int n) {
    QwenVLProcessorConfig c = config();
    float *pv; int rows, g[3][3]; Err e = {0};
    if (qwenvl_process_images(&c, imgs, n, &pv, &rows, g, &e)) fail_msg("%s", e.msg);
    char name[128];
    snprintf(name, sizeof name, "%s.vl.image_grid_thw", prefix);
    for (int i = 0; i < n; i++) expect_grid(name, i, g[i]);
    snprintf(name, sizeof name, "%s.vl.pixel_values_head", prefix);
    expect_rows(name, pv, rows);
    free(pv);
}

/* Edit v1: calculate_dimensions(1024^2) + Lanczos, that image straight into the processor. */
static void test_qwen_edit_v1(void **state) {
    (void)state;
    Image ref = fixture_image("edit.ref0_rgb_uint8"), cond;
    int w, h; Err e = {0};
    qwenimage_calculate_dimensions(QWENIMAGE_VAE_IMAGE_AREA, (double)ref.width / ref.height, &w, &h);
    assert_int_equal(w, 1248); assert_int_equal(h, 832);
    assert_int_equal(image_resize(&ref, w, h, RESAMPLE_LANCZOS, &cond, &e), 0);
    run_pipeline("edit", &cond, 1);
    image_free(&ref); image_free(&cond);
}

/* Edit v2: each reference resized to the 384^2-area condition size, processed as a batch. */
static void test_qwen_edit_plus(void **state) {
    (void)state;
    Image cond[2]; Err e = {0};
    for (int k = 0; k < 2; k++) {
        char name[64];
        snprintf(name, sizeof name, "editplus.ref%d_rgb_uint8", k);
        Image ref = fixture_image(name);
        int w, h;
        qwenimage_calculate_dimensions(QWENIMAGE_CONDITION_IMAGE_AREA, (double)ref.width / ref.height, &w, &h);
        assert_int_equal(image_resize(&ref, w, h, RESAMPLE_LANCZOS, &cond[k], &e), 0);
        image_free(&ref);
    }
    run_pipeline("editplus", cond, 2);
    image_free(&cond[0]); image_free(&cond[1]);
}

/* LongCat edit: calculate_dimensions rounding up to 16, Lanczos, then Lanczos to half size. */
static void test_longcat_edit(void **state) {
    (void)state;
    Image ref = fixture_image("longcat_edit.ref0_rgb_uint8"), vae, cond;
    int w, h; Err e = {0};
    longcat_calculate_dimensions(1024.0 * 1024.0, (double)ref.width / ref.height, &w, &h);
    assert_int_equal(image_resize(&ref, w, h, RESAMPLE_LANCZOS, &vae, &e), 0);
    assert_int_equal(image_resize(&vae, w / 2, h / 2, RESAMPLE_LANCZOS, &cond, &e), 0);
    run_pipeline("longcat_edit", &cond, 1);
    image_free(&ref); image_free(&vae); image_free(&cond);
}

/* smart_resize by the spec's rules (Python round = half to even; max/min pixel clamps). */
static void test_smart_resize_table(void **state) {
    (void)state;
    static const struct { int h, w; long minp, maxp; int eh, ew; } T[] = {
        {1024, 1024, 3136, 12845056, 1036, 1036},   /* edit v1 square: 74x74 patches, 1369 tokens */
        {384, 384, 3136, 12845056, 392, 392},       /* edit plus square: 196 tokens */
        {512, 512, 3136, 12845056, 504, 504},       /* LongCat square: 324 tokens */
        {832, 1248, 3136, 12845056, 840, 1260},
        {320, 480, 3136, 12845056, 308, 476},
        {416, 352, 3136, 12845056, 420, 364},
        {448, 592, 3136, 12845056, 448, 588},
        {84, 112, 3136, 12845056, 84, 112},         /* already multiples of 28: untouched */
        {42, 70, 3136, 12845056, 56, 56},           /* 1.5 -> 2 and 2.5 -> 2 (ties to even) */
        {98, 126, 3136, 12845056, 112, 112},        /* 3.5 -> 4, 4.5 -> 4 */
        {2048, 2048, 3136, 1003520, 980, 980},      /* the class-default max_pixels caps it */
        {4000, 3000, 3136, 1003520, 1148, 840},
        {10, 10, 3136, 12845056, 56, 56},           /* min_pixels lifts it */
        {10, 1000, 3136, 12845056, 28, 560},
        {20000, 20000, 3136, 12845056, 3556, 3556},
    };
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++) {
        int h, w; Err e = {0};
        if (qwenvl_smart_resize(T[i].h, T[i].w, 28, T[i].minp, T[i].maxp, &h, &w, &e)) fail_msg("%s", e.msg);
        if (h != T[i].eh || w != T[i].ew) fail_msg("smart_resize(%d, %d): got %dx%d, expected %dx%d", T[i].h, T[i].w, h, w, T[i].eh, T[i].ew);
        assert_true((long)h * w <= T[i].maxp && (long)h * w >= T[i].minp);
    }
    int h, w; Err e = {0};
    assert_int_equal(qwenvl_smart_resize(9, 100, 28, 3136, 12845056, &h, &w, &e), -1);
    assert_contains(e.msg, "at least 10");
    assert_int_equal(qwenvl_smart_resize(10, 2010, 28, 3136, 12845056, &h, &w, &e), -1);
    assert_contains(e.msg, "aspect ratio above 200");
}

/* The pipelines' pre-processor sizes for many inputs. */
static void test_pipeline_dimensions(void **state) {
    (void)state;
    static const struct { int w, h; int v1w, v1h, cw, ch, lw, lh; } T[] = {
        /* input     edit v1 / VAE   condition 384^2   LongCat */
        {96, 64,     1248, 832,      480, 320,         1264, 848},
        {64, 80,     928, 1152,      352, 416,         928, 1152},
        {80, 60,     1184, 896,      448, 320,         1184, 896},
        {1024, 1024, 1024, 1024,     384, 384,         1024, 1024},
        {512, 512,   1024, 1024,     384, 384,         1024, 1024},
        {1920, 1080, 1376, 768,      512, 288,         1376, 768},
        {1080, 1920, 768, 1376,      288, 512,         768, 1376},
        {3000, 1000, 1760, 576,      672, 224,         1776, 592},
        {640, 480,   1184, 896,      448, 320,         1184, 896},
    };
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++) {
        double r = (double)T[i].w / T[i].h;
        int w, h;
        qwenimage_calculate_dimensions(QWENIMAGE_VAE_IMAGE_AREA, r, &w, &h);
        if (w != T[i].v1w || h != T[i].v1h) fail_msg("%dx%d: 1024^2 dims %dx%d, expected %dx%d", T[i].w, T[i].h, w, h, T[i].v1w, T[i].v1h);
        qwenimage_calculate_dimensions(QWENIMAGE_CONDITION_IMAGE_AREA, r, &w, &h);
        if (w != T[i].cw || h != T[i].ch) fail_msg("%dx%d: 384^2 dims %dx%d, expected %dx%d", T[i].w, T[i].h, w, h, T[i].cw, T[i].ch);
        longcat_calculate_dimensions(1024.0 * 1024.0, r, &w, &h);
        if (w != T[i].lw || h != T[i].lh) fail_msg("%dx%d: LongCat dims %dx%d, expected %dx%d", T[i].w, T[i].h, w, h, T[i].lw, T[i].lh);
    }
}

static void test_config(void **state) {
    (void)state;
    QwenVLProcessorConfig c = config();
    assert_int_equal(c.min_pixels, 3136);
    assert_int_equal(c.max_pixels, 12845056);
    assert_int_equal(c.patch_size, 14);
    assert_true(c.mean[0] == 0.48145466f && c.std[2] == 0.27577711f);
    char *d = tmpdir_make();
    char p[512];
    snprintf(p, sizeof p, "%s/preprocessor_config.json", d);
    write_text(p, "{\"size\": {\"shortest_edge\": 100, \"longest_edge\": 200000}, \"merge_size\": 2}");
    Err e = {0};
    assert_int_equal(qwenvl_processor_config_load(d, &c, &e), 0);   /* a folder works too */
    assert_int_equal(c.min_pixels, 100);
    assert_int_equal(c.max_pixels, 200000);
    write_text(p, "{\"patch_size\": \"14\"}");
    assert_int_equal(qwenvl_processor_config_load(p, &c, &e), -1);
    assert_contains(e.msg, "\"patch_size\" must be an integer");
    write_text(p, "{\"resample\": 1}");
    assert_int_equal(qwenvl_processor_config_load(p, &c, &e), -1);
    assert_contains(e.msg, "not supported yet: \"resample\" other than 3");
    tmpdir_remove(d);
    /* grayscale input is refused (the decoders give RGB) */
    uint8_t px[28 * 28] = {0};
    Image g = {28, 28, 1, px};
    float *pv; int rows, grid[3];
    qwenvl_processor_config_default(&c);
    assert_int_equal(qwenvl_process_image(&c, &g, &pv, &rows, grid, &e), -1);
    assert_contains(e.msg, "expected an RGB image");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_encoder_golden),
        cmocka_unit_test(test_qwen_edit_v1),
        cmocka_unit_test(test_qwen_edit_plus),
        cmocka_unit_test(test_longcat_edit),
        cmocka_unit_test(test_smart_resize_table),
        cmocka_unit_test(test_pipeline_dimensions),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
