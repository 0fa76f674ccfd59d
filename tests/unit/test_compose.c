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

/* Panel titles: a strip above the images with each title over its own panel, drawn smaller when one
 * does not fit its panel, never past it; panels move down by the strip. */
static void test_sheet_labels(void **state) {
    (void)state;
    Image a = solid(200, 40, 255), b = solid(200, 40, 255);
    Image pair[2] = {a, b};
    const char *labels[2] = {"reference 1", "result"};
    Image s = compose_sheet_labelled(pair, labels, 2, NULL);
    const int strip = 9 * 2 + 4;   /* the titles fit: caption-sized glyphs */
    assert_int_equal(s.width, 8 + 200 + 8 + 200 + 8);
    assert_int_equal(s.height, 8 + strip + 40 + 8);
    /* dark pixels of each title lie over its own panel */
    int over_a = 0, over_b = 0, gap = 0;
    for (int y = 8; y < 8 + strip; y++)
        for (int x = 0; x < s.width; x++) {
            if (s.data[((size_t)y * s.width + x) * 3] >= 128) continue;
            if (x >= 8 && x < 208) over_a++; else if (x >= 216 && x < 416) over_b++; else gap++;
        }
    assert_true(over_a > 50 && over_b > 30);
    assert_int_equal(gap, 0);
    image_free(&s);
    /* a 48-pixel panel: "reference 1" at scale 2 would be 132 wide: small glyphs, cut to the panel */
    Image n = solid(48, 20, 255);
    Image narrow[2] = {n, n};
    Image t = compose_sheet_labelled(narrow, labels, 2, NULL);
    assert_int_equal(t.height, 8 + (9 + 4) + 20 + 8);
    for (int y = 8; y < 8 + 13; y++)
        for (int x = 8 + 48; x < 8 + 48 + 8; x++) assert_true(t.data[((size_t)y * t.width + x) * 3] >= 128);   /* the gap stays white */
    image_free(&t);
    image_free(&a); image_free(&b); image_free(&n);
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

/* Contact sheets: rows top to bottom under a title strip, a grey rule between rows, narrower rows
 * padded with white. */
static void test_stack_rows(void **state) {
    (void)state;
    Image rows[2] = {solid(40, 10, 0), solid(30, 12, 50)};
    Image s = stack_rows(rows, 2, NULL);
    assert_int_equal(s.width, 40);
    assert_int_equal(s.height, 10 + 1 + 12);
    assert_int_equal(s.data[0], 0);                                   /* row 0 at the top */
    assert_int_equal(s.data[((size_t)10 * 40) * 3], 160);             /* the rule */
    assert_int_equal(s.data[((size_t)11 * 40 + 29) * 3], 50);         /* row 1 */
    assert_int_equal(s.data[((size_t)11 * 40 + 30) * 3], 255);        /* padding */
    image_free(&s);
    Image t = stack_rows(rows, 2, "references | result | target");
    int strip = t.height - 23;
    assert_true(strip > 0);
    assert_true(count_dark(&t, 0, strip) > 20);                      /* the title is drawn */
    assert_int_equal(t.data[((size_t)strip * 40) * 3], 0);            /* rows below it */
    image_free(&t);
    image_free(&rows[0]); image_free(&rows[1]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sheet_layout),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_stack_rows),
        cmocka_unit_test(test_sheet_labels),
    };
    return cmocka_run_group_tests_name("compose", tests, NULL, NULL);
}
