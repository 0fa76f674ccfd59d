/* test_resize.c — PIL-exact resampling: the intermediate images the upstream pipelines wrote with PIL
 * (the PNGs in tests/data/processor/, copied from the longcat_edit and qwenimage_edit_plus goldens) must be
 * reproduced bit for bit: Lanczos up (80x60 -> 1184x896), Lanczos down (-> 592x448), bicubic
 * (-> 588x448, the processor's smart_resize), and the edit-plus condition images. */
#include "test_util.h"
#include "image/image_io.h"
#include "image/image_resize.h"
#include "models/qwen25vl/processor.h"

#define D "tests/data/processor/"

static Image load(const char *path) {
    Image im; Err e = {0};
    if (image_read(path, &im, &e)) fail_msg("%s", e.msg);
    return im;
}

static void expect_same(const Image *got, const char *want_path) {
    Image want = load(want_path);
    if (got->width != want.width || got->height != want.height) fail_msg("%s: %dx%d, got %dx%d", want_path, want.width, want.height, got->width, got->height);
    long diff = 0; int maxd = 0;
    for (size_t i = 0; i < (size_t)want.width * want.height * 3; i++) {
        int d = abs(got->data[i] - want.data[i]);
        diff += d != 0; if (d > maxd) maxd = d;
    }
    if (diff) fail_msg("%s: %ld values differ from PIL (max %d)", want_path, diff, maxd);
    image_free(&want);
}

static Image resized(const Image *src, int w, int h, ResampleFilter f) {
    Image out; Err e = {0};
    if (image_resize(src, w, h, f, &out, &e)) fail_msg("%s", e.msg);
    return out;
}

static void test_longcat_chain(void **state) {
    (void)state;
    Image ref = load(D "longcat_edit.ref0.png");
    int w, h, vh, vw;
    longcat_calculate_dimensions(1024.0 * 1024.0, (double)ref.width / ref.height, &w, &h);
    assert_int_equal(w, 1184); assert_int_equal(h, 896);
    Image vae = resized(&ref, w, h, RESAMPLE_LANCZOS);                 /* Lanczos up */
    Image cond = resized(&vae, w / 2, h / 2, RESAMPLE_LANCZOS);        /* Lanczos down */
    expect_same(&cond, D "longcat_edit.condition_image0.png");
    Err e = {0};
    assert_int_equal(qwenvl_smart_resize(cond.height, cond.width, 28, 3136, 12845056, &vh, &vw, &e), 0);
    Image vl = resized(&cond, vw, vh, RESAMPLE_BICUBIC);
    expect_same(&vl, D "longcat_edit.vl_resized0.png");
    image_free(&ref); image_free(&vae); image_free(&cond); image_free(&vl);
}

static void test_edit_plus_conditions(void **state) {
    (void)state;
    for (int k = 0; k < 2; k++) {
        char p[256];
        snprintf(p, sizeof p, D "editplus.ref%d.png", k);
        Image ref = load(p);
        int w, h, vh, vw;
        qwenimage_calculate_dimensions(384.0 * 384.0, (double)ref.width / ref.height, &w, &h);
        Image cond = resized(&ref, w, h, RESAMPLE_LANCZOS);
        snprintf(p, sizeof p, D "editplus.condition_image%d.png", k);
        expect_same(&cond, p);
        Err e = {0};
        assert_int_equal(qwenvl_smart_resize(cond.height, cond.width, 28, 3136, 12845056, &vh, &vw, &e), 0);
        Image vl = resized(&cond, vw, vh, RESAMPLE_BICUBIC);
        snprintf(p, sizeof p, D "editplus.vl_resized%d.png", k);
        expect_same(&vl, p);
        image_free(&ref); image_free(&cond); image_free(&vl);
    }
}

/* Worked by hand from Pillow's coefficients: 2 -> 4 pixels, bilinear (support 1, scale 0.5). */
static void test_bilinear_by_hand(void **state) {
    (void)state;
    uint8_t px[2] = {0, 255};
    Image src = {2, 1, 1, px};
    Image out = resized(&src, 4, 1, RESAMPLE_BILINEAR);
    assert_int_equal(out.data[0], 0);
    assert_int_equal(out.data[1], 64);    /* 0.25 * 255 = 63.75 */
    assert_int_equal(out.data[2], 191);   /* 0.75 * 255 = 191.25 */
    assert_int_equal(out.data[3], 255);
    image_free(&out);
    /* bicubic overshoot is clipped to 0..255: a step edge upsampled */
    uint8_t step[4] = {0, 0, 255, 255};
    Image s2 = {4, 1, 1, step};
    out = resized(&s2, 16, 1, RESAMPLE_BICUBIC);
    int saw_clip = 0;
    for (int i = 0; i < 16; i++) saw_clip |= out.data[i] == 0 || out.data[i] == 255;
    assert_true(saw_clip);
    assert_true(out.data[0] == 0 && out.data[15] == 255);
    image_free(&out);
}

static void test_same_size_and_axes(void **state) {
    (void)state;
    Image ref = load(D "edit.ref0.png");
    Image same = resized(&ref, ref.width, ref.height, RESAMPLE_LANCZOS);
    assert_memory_equal(same.data, ref.data, (size_t)ref.width * ref.height * 3);
    /* one axis only: a width-only resize leaves every column's vertical profile to the horizontal
     * pass, equal to resizing with the height pass a no-op */
    Image wide = resized(&ref, ref.width * 2, ref.height, RESAMPLE_BICUBIC);
    assert_int_equal(wide.width, ref.width * 2); assert_int_equal(wide.height, ref.height);
    Image tall = resized(&ref, ref.width, ref.height + 7, RESAMPLE_LANCZOS);
    assert_int_equal(tall.height, ref.height + 7);
    /* a constant image stays constant under every filter, up and down */
    Image flat = { 37, 23, 3, malloc(37 * 23 * 3) };
    memset(flat.data, 200, 37 * 23 * 3);
    ResampleFilter fs[3] = {RESAMPLE_BILINEAR, RESAMPLE_BICUBIC, RESAMPLE_LANCZOS};
    for (int f = 0; f < 3; f++) {
        Image o = resized(&flat, 101, 9, fs[f]);
        for (int i = 0; i < 101 * 9 * 3; i++) if (o.data[i] != 200) fail_msg("filter %d: value %d at %d", fs[f], o.data[i], i);
        image_free(&o);
    }
    image_free(&flat); image_free(&ref); image_free(&same); image_free(&wide); image_free(&tall);
}

static void test_errors(void **state) {
    (void)state;
    uint8_t px[12] = {0};
    Image src = {2, 2, 3, px}, out;
    Err e = {0};
    assert_int_equal(image_resize(&src, 0, 5, RESAMPLE_BICUBIC, &out, &e), -1);
    assert_contains(e.msg, "target size 0x5 must be positive");
    Image bad = {2, 2, 5, px};
    assert_int_equal(image_resize(&bad, 4, 4, RESAMPLE_BICUBIC, &out, &e), -1);
    assert_contains(e.msg, "5 channels");
    assert_int_equal(image_resize(&src, 4, 4, (ResampleFilter)9, &out, &e), -1);
    assert_contains(e.msg, "unknown filter 9");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_longcat_chain),
        cmocka_unit_test(test_edit_plus_conditions),
        cmocka_unit_test(test_bilinear_by_hand),
        cmocka_unit_test(test_same_size_and_axes),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
