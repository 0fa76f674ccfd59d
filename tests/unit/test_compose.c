/* Validation sheets: layout sizes, caption wrapping and glyph drawing. */
#include "test_util.h"
#include "image/sheet.h"

static Image solid(int w, int h, uint8_t v) {
    Image im = {w, h, 3, malloc((size_t)w * h * 3)};
    memset(im.data, v, (size_t)w * h * 3);
    return im;
}

static int count_dark(const Image *im, int y0, int y1) {
    int n = 0;
    for (int y = y0; y < y1; y++)
        for (int x = 0; x < im->width; x++) n += im->data[((size_t)y * im->width + x) * 3] < 128;
    return n;
}

static void test_sheet_layout(void **state) {
    (void)state;
    Image a = solid(32, 24, 0), b = solid(48, 40, 0);
    Image pair[2] = {a, b};
    Image s = compose_sheet(pair, 2, NULL);
    assert_int_equal(s.width, 8 + 32 + 8 + 48 + 8);
    assert_int_equal(s.height, 40 + 16);
    /* the first image is copied at (8, 8) */
    assert_int_equal(s.data[((size_t)8 * s.width + 8) * 3], 0);
    assert_int_equal(s.data[0], 255);
    image_free(&s);
    Image c = compose_sheet(pair, 2, "make the sky purple and add two small boats near the horizon line");
    assert_true(c.height > 56);                  /* caption strip added */
    assert_true(count_dark(&c, 56, c.height) > 50); /* text drawn in it */
    image_free(&c);
    image_free(&a); image_free(&b);
}

static void test_text(void **state) {
    (void)state;
    assert_int_equal(text_width("abc", 2), 36);
    assert_int_equal(text_width("ção", 1), 18); /* code points, not bytes */
    Image im = solid(40, 10, 255);
    const uint8_t k[3] = {0, 0, 0};
    text_draw(&im, 0, 0, "I", 1, k);
    /* 'I' has a 3-pixel top bar at columns 1..3 */
    assert_int_equal(im.data[(0 * 40 + 1) * 3], 0);
    assert_int_equal(im.data[(0 * 40 + 0) * 3], 255);
    text_draw(&im, 35, 5, "WWWW", 1, k); /* clipped at the border, no overflow */
    image_free(&im);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sheet_layout),
        cmocka_unit_test(test_text),
    };
    return cmocka_run_group_tests_name("compose", tests, NULL, NULL);
}
