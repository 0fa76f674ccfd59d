/* Aspect buckets against spec §4's examples, the pixel and area types, filters, crop geometry. */
#include "test_util.h"
#include "data/buckets.h"

static void expect_bucket(const BucketParams *p, double ar, int w, int h) {
    int W, H;
    bucket_size_for_aspect(p, ar, &W, &H);
    if (W != w || H != h) fail_msg("aspect %.2f: got %dx%d expected %dx%d", ar, W, H, w, h);
}

static void test_spec_examples_pixel_area(void **state) {
    (void)state;
    BucketParams p; bucket_params_default(&p);
    p.type = RES_PIXEL_AREA; p.resolution = 1024; p.alignment = 32;   /* Qwen */
    expect_bucket(&p, 1.0, 1024, 1024);
    expect_bucket(&p, 0.75, 896, 1184);
    expect_bucket(&p, 1.33, 1184, 896);
    expect_bucket(&p, 0.67, 832, 1248);
    expect_bucket(&p, 0.56, 768, 1376);
    expect_bucket(&p, 1.78, 1376, 768);
    expect_bucket(&p, 2.0, 1440, 736);
    p.alignment = 64;                                                  /* LongCat */
    expect_bucket(&p, 0.75, 896, 1152);
    expect_bucket(&p, 1.33, 1152, 896);
    expect_bucket(&p, 0.67, 832, 1280);
    expect_bucket(&p, 0.56, 768, 1344);
    expect_bucket(&p, 0.5, 704, 1472);
    expect_bucket(&p, 1.0, 1024, 1024);
}

static void test_pixel_and_area_types(void **state) {
    (void)state;
    BucketParams p; bucket_params_default(&p);
    p.type = RES_PIXEL; p.resolution = 512; p.alignment = 64;
    expect_bucket(&p, 1.5, 768, 512);     /* short edge 512, long 768 */
    expect_bucket(&p, 0.5, 512, 1024);
    expect_bucket(&p, 1.33, 704, 512);    /* 680.96 -> 704 */
    expect_bucket(&p, 1.0, 512, 512);
    p.type = RES_AREA; p.resolution = 1.0; p.alignment = 64;
    expect_bucket(&p, 1.0, 1024, 1024);   /* 1.0 MP maps to 1024² as upstream */
    expect_bucket(&p, 0.75, 896, 1152);   /* edge round(1000/64)*64 = 1024 */
    p.resolution = 0.25;
    expect_bucket(&p, 1.0, 512, 512);
    expect_bucket(&p, 1.5, 640, 448);     /* edge 512: 627 -> 640, 418 -> 448 */
    /* pixel_area 768 with alignment 32 (seed configs use resolution 768) */
    p.type = RES_PIXEL_AREA; p.resolution = 768; p.alignment = 64;
    expect_bucket(&p, 1.0, 768, 768);
    expect_bucket(&p, 0.75, 640, 896);    /* 665 -> 640, 886.8 -> 896 */
}

static void test_aspect_round_like_python(void **state) {
    (void)state;
    assert_true(aspect_round(4.0 / 3.0, 2) == 1.33);
    assert_true(aspect_round(2.0 / 3.0, 2) == 0.67);
    assert_true(aspect_round(0.125, 2) == 0.12);  /* exact tie -> even, as Python */
    assert_true(aspect_round(0.375, 2) == 0.38);
}

static void test_geometry_cover_and_crop(void **state) {
    (void)state;
    BucketParams p; bucket_params_default(&p);
    p.alignment = 32; p.crop_style = CROP_STYLE_CENTER;
    SampleGeometry g; char why[256]; Err e = {0};
    /* 3000x2000 (1.5) -> 1.5 bucket: edge 1024, W=round(1254.1/32)*32=1248, H=round(836.1/32)*32=832 */
    assert_int_equal(bucket_geometry(&p, 3000, 2000, "a.png", &g, why, sizeof why, &e), 0);
    assert_int_equal(g.target_w, 1248); assert_int_equal(g.target_h, 832);
    assert_int_equal(g.inter_w, 1248); assert_int_equal(g.inter_h, 832);
    assert_int_equal(g.crop_x, 0); assert_int_equal(g.crop_y, 0);
    /* 1000x700 (1.43) -> bucket of 1.43, intermediary covers it with the image's aspect */
    assert_int_equal(bucket_geometry(&p, 1000, 700, "b.png", &g, why, sizeof why, &e), 0);
    assert_true(g.inter_w >= g.target_w && g.inter_h >= g.target_h);
    assert_true(g.inter_w == g.target_w || g.inter_h == g.target_h);
    assert_int_equal(g.crop_x, (g.inter_w - g.target_w) / 2);
    assert_int_equal(g.crop_y, (g.inter_h - g.target_h) / 2);
    assert_int_equal(g.target_w % 32, 0); assert_int_equal(g.target_h % 32, 0);
    /* corner: top-left */
    p.crop_style = CROP_STYLE_CORNER;
    assert_int_equal(bucket_geometry(&p, 1000, 701, "b.png", &g, why, sizeof why, &e), 0);
    assert_int_equal(g.crop_x, 0); assert_int_equal(g.crop_y, 0);
    /* random: inside the slack, fixed per (seed, path), varies across paths */
    p.crop = 1; p.crop_aspect = CROP_ASPECT_SQUARE; p.crop_style = CROP_STYLE_RANDOM; p.resolution = 256;
    int xs = 0;
    for (int i = 0; i < 20; i++) {
        char rel[16]; snprintf(rel, sizeof rel, "r%d.png", i);
        SampleGeometry g2;
        assert_int_equal(bucket_geometry(&p, 800, 600, rel, &g, why, sizeof why, &e), 0);
        assert_int_equal(bucket_geometry(&p, 800, 600, rel, &g2, why, sizeof why, &e), 0);
        assert_int_equal(g.crop_x, g2.crop_x); assert_int_equal(g.crop_y, g2.crop_y);
        assert_int_equal(g.target_w, 256); assert_int_equal(g.target_h, 256);
        assert_int_equal(g.inter_w, 800); assert_int_equal(g.inter_h, 600);  /* crop=true: no resize */
        assert_true(g.crop_x >= 0 && g.crop_x <= 800 - 256 && g.crop_y >= 0 && g.crop_y <= 600 - 256);
        xs += g.crop_x;
    }
    assert_true(xs > 0);
}

static void test_crop_downsample_and_filters(void **state) {
    (void)state;
    BucketParams p; bucket_params_default(&p);
    p.type = RES_PIXEL_AREA; p.resolution = 512; p.alignment = 64; p.crop = 1; p.crop_style = CROP_STYLE_CENTER;
    p.maximum_image_size = 1024; p.target_downsample_size = 768; p.minimum_image_size = 256;
    SampleGeometry g; char why[256]; Err e = {0};
    /* 2000x1500 = 3 MP > 1024² -> downsampled to 768² area: 887x665, then a centre 512² crop */
    assert_int_equal(bucket_geometry(&p, 2000, 1500, "big.png", &g, why, sizeof why, &e), 0);
    assert_int_equal(g.inter_w, 887); assert_int_equal(g.inter_h, 665);
    assert_int_equal(g.target_w, 512); assert_int_equal(g.target_h, 512);
    assert_int_equal(g.crop_x, (887 - 512) / 2); assert_int_equal(g.crop_y, (665 - 512) / 2);
    /* too small: 200x200 = 0.04 MP < 256² */
    assert_int_equal(bucket_geometry(&p, 200, 200, "s.png", &g, why, sizeof why, &e), 1);
    assert_string_equal(why, "smaller than minimum_image_size 256 (200x200)");
    /* small but allowed image smaller than the crop: upscaled to cover */
    assert_int_equal(bucket_geometry(&p, 400, 300, "m.png", &g, why, sizeof why, &e), 0);
    assert_int_equal(g.inter_h, 512); assert_int_equal(g.inter_w, 683);
    /* aspect filters */
    p.crop = 0; p.minimum_aspect_ratio = 0.5; p.maximum_aspect_ratio = 2.0;
    assert_int_equal(bucket_geometry(&p, 3000, 1000, "w.png", &g, why, sizeof why, &e), 1);
    assert_string_equal(why, "aspect ratio 3.00 above maximum_aspect_ratio 2 (3000x1000)");
    /* pixel type minimum is the short edge */
    p.type = RES_PIXEL; p.minimum_image_size = 300; p.minimum_aspect_ratio = p.maximum_aspect_ratio = 0;
    assert_int_equal(bucket_geometry(&p, 1000, 299, "t.png", &g, why, sizeof why, &e), 1);
    assert_int_equal(bucket_geometry(&p, 1000, 300, "t.png", &g, why, sizeof why, &e), 0);
}

static void test_crop_aspect_buckets(void **state) {
    (void)state;
    BucketParams p; bucket_params_default(&p);
    p.resolution = 512; p.alignment = 64; p.crop = 1; p.crop_aspect = CROP_ASPECT_CLOSEST;
    p.n_crop_aspects = 3; p.crop_aspects[0] = 0.75; p.crop_aspects[1] = 1.0; p.crop_aspects[2] = 1.5;
    SampleGeometry g; char why[256]; Err e = {0};
    assert_int_equal(bucket_geometry(&p, 1600, 1000, "c.png", &g, why, sizeof why, &e), 0); /* 1.6 -> 1.5 */
    int w, h; bucket_size_for_aspect(&p, 1.5, &w, &h);
    assert_int_equal(g.target_w, w); assert_int_equal(g.target_h, h);
    p.crop_aspect = CROP_ASPECT_RANDOM;
    int seen[3] = {0};
    for (int i = 0; i < 60; i++) {
        char rel[16]; snprintf(rel, sizeof rel, "r%d.png", i);
        assert_int_equal(bucket_geometry(&p, 1600, 1000, rel, &g, why, sizeof why, &e), 0);
        for (int k = 0; k < 3; k++) { bucket_size_for_aspect(&p, p.crop_aspects[k], &w, &h); if (w == g.target_w && h == g.target_h) seen[k]++; }
    }
    assert_true(seen[0] > 0 && seen[1] > 0 && seen[2] > 0);
    /* max_upscale_threshold 0 on a 600x560 image: only buckets no larger than it on both edges
     * (at 512 px area: 1.0 -> 512x512 fits, 0.75 -> 448x576 and 1.5 -> 640x448 do not) */
    p.max_upscale_threshold = 0;
    for (int i = 0; i < 20; i++) {
        char rel[16]; snprintf(rel, sizeof rel, "u%d.png", i);
        assert_int_equal(bucket_geometry(&p, 600, 560, rel, &g, why, sizeof why, &e), 0);
        assert_int_equal(g.target_w, 512); assert_int_equal(g.target_h, 512);
    }
    /* nothing fits a tiny image: square */
    assert_int_equal(bucket_geometry(&p, 100, 100, "tiny.png", &g, why, sizeof why, &e), 0);
    assert_int_equal(g.target_w, 512); assert_int_equal(g.target_h, 512);
    p.max_upscale_threshold = -1;
    p.n_crop_aspects = 0;
    assert_int_equal(bucket_geometry(&p, 1600, 1000, "c.png", &g, why, sizeof why, &e), -1);
    assert_string_equal(e.msg, "crop_aspect random needs crop_aspect_buckets");
}

static void test_parsers(void **state) {
    (void)state;
    Err e = {0}; CropStyle cs; ResolutionType rt; CropAspect ca;
    assert_int_equal(crop_style_parse("centre", &cs, &e), 0); assert_int_equal(cs, CROP_STYLE_CENTER);
    assert_int_equal(crop_style_parse("face", &cs, &e), -1);
    assert_string_equal(e.msg, "crop_style \"face\": not supported yet: face detection (use random, center or corner)");
    assert_int_equal(resolution_type_parse("megapixel", &rt, &e), -1);
    assert_string_equal(e.msg, "resolution_type \"megapixel\": expected pixel, area or pixel_area");
    assert_int_equal(crop_aspect_parse("closest", &ca, &e), 0); assert_int_equal(ca, CROP_ASPECT_CLOSEST);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_examples_pixel_area),
        cmocka_unit_test(test_pixel_and_area_types),
        cmocka_unit_test(test_aspect_round_like_python),
        cmocka_unit_test(test_geometry_cover_and_crop),
        cmocka_unit_test(test_crop_downsample_and_filters),
        cmocka_unit_test(test_crop_aspect_buckets),
        cmocka_unit_test(test_parsers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
