/* Synthetic edit pairs: deterministic, every edit kind makes the change its instruction describes
 * (checked on the pixels, from the pair's own description of the shape), instructions vary, the
 * edit set is respected, references as promised. */
#include "test_util.h"
#include "data/synth.h"
#include <math.h>

static long diff_pixels(const Image *a, const Image *b) {
    long n = 0;
    for (size_t i = 0; i < (size_t)a->width * a->height; i++) n += memcmp(a->data + 3 * i, b->data + 3 * i, 3) != 0;
    return n;
}

typedef struct Blob { long n; float cx, cy; } Blob;   /* pixels of one colour, bounding-box centre as fractions */

static Blob find_color(const Image *im, const uint8_t rgb[3]) {
    Blob b = {0, 0, 0};
    int x0 = im->width, x1 = -1, y0 = im->height, y1 = -1;
    for (int y = 0; y < im->height; y++)
        for (int x = 0; x < im->width; x++)
            if (!memcmp(im->data + ((size_t)y * im->width + x) * 3, rgb, 3)) {
                b.n++;
                if (x < x0) x0 = x;
                if (x > x1) x1 = x;
                if (y < y0) y0 = y;
                if (y > y1) y1 = y;
            }
    if (b.n) { b.cx = (x0 + x1 + 1) * 0.5f / im->width; b.cy = (y0 + y1 + 1) * 0.5f / im->height; }
    return b;
}

static void test_deterministic(void **state) {
    (void)state;
    SynthPair a, b, c;
    synth_pair(7, 3, 1, 64, 48, &a);
    synth_pair(7, 3, 1, 64, 48, &b);
    synth_pair(8, 3, 1, 64, 48, &c);
    assert_string_equal(a.instruction, b.instruction);
    assert_int_equal(diff_pixels(&a.edit, &b.edit), 0);
    assert_int_equal(diff_pixels(&a.refs[0], &b.refs[0]), 0);
    assert_true(diff_pixels(&a.refs[0], &c.refs[0]) > 0 || strcmp(a.instruction, c.instruction));
    synth_pair_free(&a); synth_pair_free(&b); synth_pair_free(&c);
    Image s1, s2;
    synth_scene(5, 9, 32, 32, &s1);
    synth_scene(5, 9, 32, 32, &s2);
    assert_int_equal(diff_pixels(&s1, &s2), 0);
    image_free(&s1); image_free(&s2);
}

/* Pixel checks of one pair of kind k at 128x128. */
static void check_pair(const SynthPair *p) {
    const SynthEditInfo *in = &p->info;
    const Image *src = &p->refs[0], *dst = &p->edit;
    Blob b0 = find_color(src, in->color_before), b1 = find_color(dst, in->color_before);
    Blob a0 = find_color(src, in->color_after), a1 = find_color(dst, in->color_after);
    const float tol = 0.04f;
    switch (in->kind) {
    case SYNTH_RECOLOR:   /* the same pixels, the new colour */
        assert_true(b0.n > 0);
        assert_int_equal(b1.n, 0);
        assert_int_equal(a0.n, 0);
        assert_int_equal(a1.n, b0.n);
        break;
    case SYNTH_MOVE:      /* the same shape at the named place */
        assert_true(b0.n > 0);
        assert_true(labs(b1.n - b0.n) <= b0.n / 10 + 4);
        assert_true(fabsf(b1.cx - in->cx_after) < tol && fabsf(b1.cy - in->cy_after) < tol);
        assert_true(fabsf(in->cx_after - in->cx_before) + fabsf(in->cy_after - in->cy_before) > 0.1f);
        break;
    case SYNTH_ADD:       /* a new colour appears at the named place */
        assert_int_equal(a0.n, 0);
        assert_true(a1.n > 0);
        assert_true(fabsf(a1.cx - in->cx_after) < tol && fabsf(a1.cy - in->cy_after) < tol);
        assert_float_equal(in->r_after, 0.12f, 1e-6);
        break;
    case SYNTH_REMOVE:
        assert_true(b0.n > 0);
        assert_int_equal(b1.n, 0);
        break;
    case SYNTH_BACKGROUND:   /* the top right pixel (never under a shape) takes the new colour */
        assert_memory_equal(dst->data + (size_t)(dst->width - 1) * 3, in->color_after, 3);
        assert_memory_equal(src->data + (size_t)(src->width - 1) * 3, in->color_before, 3);
        assert_true(memcmp(in->color_before, in->color_after, 3));
        break;
    case SYNTH_SCALE: {
        float f = in->r_after / in->r_before;
        assert_true(fabsf(f - 1.5f) < 1e-5f || fabsf(f - 0.6f) < 1e-5f);
        if (f > 1) { assert_true(b1.n > 1.6 * b0.n); assert_true(strstr(p->instruction, "bigger") || strstr(p->instruction, "larg") || strstr(p->instruction, " up ") || strstr(p->instruction, "increase")); }
        else { assert_true(b1.n < 0.5 * b0.n); assert_true(strstr(p->instruction, "small") || strstr(p->instruction, "shrink") || strstr(p->instruction, "down") || strstr(p->instruction, "reduce")); }
        assert_true(fabsf(b1.cx - b0.cx) < tol && fabsf(b1.cy - b0.cy) < tol);
        break;
    }
    case SYNTH_MIRROR:    /* exactly the source flipped left to right */
        for (int y = 0; y < src->height; y++)
            for (int x = 0; x < src->width; x++)
                assert_memory_equal(dst->data + ((size_t)y * dst->width + x) * 3,
                                    src->data + ((size_t)y * src->width + (src->width - 1 - x)) * 3, 3);
        break;
    case SYNTH_STRIPES: {  /* part of the shape's pixels turn stripe-white, nothing outside the shape changes */
        static const uint8_t white[3] = {245, 245, 245};
        Blob w0 = find_color(src, white), w1 = find_color(dst, white);
        assert_int_equal(w0.n, 0);
        assert_true(w1.n > b0.n / 5 && b1.n > b0.n / 5);
        assert_int_equal(w1.n + b1.n, b0.n);   /* stripes follow pixel rows: inner pixels are all stripe or all colour */
        assert_true(diff_pixels(src, dst) >= w1.n);
        const int S = src->width < src->height ? src->width : src->height;
        for (int y = 0; y < src->height; y++)   /* the outline's anti-aliased pixels change too, no others */
            for (int x = 0; x < src->width; x++) {
                float px = (x + 0.5f) / S, py = (y + 0.5f) / S;
                if (fabsf(px - in->cx_before) > in->r_before + 1.5f / S || fabsf(py - in->cy_before) > in->r_before + 1.5f / S)
                    assert_memory_equal(dst->data + ((size_t)y * dst->width + x) * 3, src->data + ((size_t)y * src->width + x) * 3, 3);
            }
        break;
    }
    default:
        fail_msg("unexpected kind %d", in->kind);
    }
}

static void test_every_edit_does_what_it_says(void **state) {
    (void)state;
    for (int k = 0; k < SYNTH_COMPOSE; k++) {
        for (int i = 0; i < 12; i++) {
            SynthPair p;
            synth_edit_pair(11, i, SYNTH_EDIT_BIT(k), 1, 128, 128, &p);
            assert_int_equal(p.info.kind, k);
            assert_int_equal(p.n_refs, 1);
            assert_null(p.refs[1].data);
            check_pair(&p);
            synth_pair_free(&p);
        }
    }
}

/* Several phrasings per edit; the default set draws every default kind and neither mirror nor stripes. */
static void test_instructions_vary(void **state) {
    (void)state;
    int seen[SYNTH_EDIT_COUNT] = {0};
    for (int i = 0; i < 120; i++) {
        SynthPair p;
        synth_pair(3, i, 1, 32, 32, &p);
        seen[p.info.kind]++;
        synth_pair_free(&p);
    }
    for (int k = 0; k <= SYNTH_SCALE; k++) assert_true(seen[k] > 0);
    assert_int_equal(seen[SYNTH_MIRROR] + seen[SYNTH_STRIPES] + seen[SYNTH_COMPOSE], 0);
    /* the mirror instructions have no fill-in words, so distinct texts are distinct phrasings */
    for (int k = SYNTH_MIRROR; k <= SYNTH_STRIPES; k++) {
        char texts[40][256];
        int n = 0;
        for (int i = 0; i < 40; i++) {
            SynthPair p;
            synth_edit_pair(4, i, SYNTH_EDIT_BIT(k), 1, 32, 32, &p);
            int dup = 0;
            for (int j = 0; j < n; j++) dup |= !strcmp(texts[j], p.instruction);
            if (!dup) strcpy(texts[n++], p.instruction);
            synth_pair_free(&p);
        }
        assert_true(n >= 4);
    }
    /* a recolour names the old and the new colour */
    SynthPair p;
    synth_edit_pair(5, 0, SYNTH_EDIT_BIT(SYNTH_RECOLOR), 1, 32, 32, &p);
    const char *names[] = {"red", "green", "blue", "yellow", "purple", "orange"};
    int colours = 0;
    for (int c = 0; c < 6; c++) colours += strstr(p.instruction, names[c]) != NULL;
    assert_int_equal(colours, 2);
    synth_pair_free(&p);
}

static void test_edit_set(void **state) {
    (void)state;
    unsigned m;
    Err e = {0};
    assert_int_equal(synth_edits_parse("mirror,stripes", &m, &e), 0);
    assert_int_equal(m, SYNTH_EDIT_BIT(SYNTH_MIRROR) | SYNTH_EDIT_BIT(SYNTH_STRIPES));
    assert_int_equal(synth_edits_parse("recolour,move,add,remove,background,scale", &m, &e), 0);
    assert_int_equal(m, SYNTH_EDITS_DEFAULT);
    assert_int_equal(synth_edits_parse("move,flip", &m, &e), -1);
    assert_contains(e.msg, "unknown edit 'flip'");
    assert_int_equal(synth_edits_parse("", &m, &e), -1);
    for (int i = 0; i < 30; i++) {
        SynthPair p;
        synth_edit_pair(6, i, SYNTH_EDIT_BIT(SYNTH_MOVE) | SYNTH_EDIT_BIT(SYNTH_STRIPES), 1, 32, 32, &p);
        assert_true(p.info.kind == SYNTH_MOVE || p.info.kind == SYNTH_STRIPES);
        synth_pair_free(&p);
    }
}

/* The backgrounds are the scenes' own: every background edit's target corner is one of them, named
 * in the instruction; the count does not depend on max. */
static void test_backgrounds(void **state) {
    (void)state;
    SynthColor pal[32], few[2];
    const int n = synth_backgrounds(pal, 32);
    assert_int_equal(n, 7);
    assert_int_equal(synth_backgrounds(few, 2), n);
    assert_string_equal(few[1].name, pal[1].name);
    assert_string_equal(pal[n - 1].name, "white");
    for (int i = 0; i < 24; i++) {
        SynthPair p;
        synth_edit_pair(5, i, SYNTH_EDIT_BIT(SYNTH_BACKGROUND), 1, 64, 64, &p);
        int found = -1;
        for (int k = 0; k < n; k++)
            if (!memcmp(p.edit.data, pal[k].rgb, 3)) found = k;
        assert_true(found >= 0);
        /* the first spelling or the second ("pale blue" for "light blue"): the last word matches */
        const char *last = strrchr(pal[found].name, ' ');
        assert_non_null(strstr(p.instruction, last ? last + 1 : pal[found].name));
        synth_pair_free(&p);
    }
}

static void test_multi_reference(void **state) {
    (void)state;
    SynthPair p;
    synth_pair(3, 0, 3, 48, 32, &p);
    assert_int_equal(p.n_refs, 3);
    assert_int_equal(p.info.kind, SYNTH_COMPOSE);
    for (int k = 0; k < 3; k++) { assert_non_null(p.refs[k].data); assert_int_equal(p.refs[k].width, 48); }
    assert_contains(p.instruction, "Picture 2");
    assert_contains(p.instruction, "Picture 3");
    /* the object lands in the target in the swatch's colour */
    const uint8_t *swatch = p.refs[2].data;
    assert_true(find_color(&p.edit, swatch).n > find_color(&p.refs[0], swatch).n);
    synth_pair_free(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_every_edit_does_what_it_says),
        cmocka_unit_test(test_instructions_vary),
        cmocka_unit_test(test_edit_set),
        cmocka_unit_test(test_multi_reference),
        cmocka_unit_test(test_backgrounds),
    };
    return cmocka_run_group_tests_name("synth", tests, NULL, NULL);
}
