/* Pairing edit images with references: exact relative paths (nested too), same stem with another
 * extension, ambiguity, missing pairs (exact message, at most 10 listed), unused references. */
#include "test_util.h"
#include "data/pairing.h"

static void list_of(FileList *l, const char *const *names, int n) {
    memset(l, 0, sizeof *l);
    for (int i = 0; i < n; i++) filelist_add(l, names[i]);
    filelist_sort(l);
}

static const PairNames NAMES = { "edits", "refs", "/data/refs" };

static void test_exact_nested_and_other_extension(void **state) {
    (void)state;
    const char *en[] = { "a.png", "sub/b.png", "sub/deep/c.jpg", "d.webp" };
    const char *cn[] = { "a.png", "sub/b.png", "sub/deep/c.jpg", "d.jpg", "extra.png", "sub/b.jpg" };
    FileList E, C; list_of(&E, en, 4); list_of(&C, cn, 6);
    int ref[4]; PairStats st; Err e = {0};
    assert_int_equal(pair_images(&NAMES, &E, &C, ref, &st, &e), 0);
    /* E sorted: a.png d.webp sub/b.png sub/deep/c.jpg ; C sorted: a.png d.jpg extra.png sub/b.jpg sub/b.png sub/deep/c.jpg */
    assert_string_equal(C.rel[ref[0]], "a.png");
    assert_string_equal(C.rel[ref[1]], "d.jpg");          /* other extension, unique */
    assert_string_equal(C.rel[ref[2]], "sub/b.png");      /* exact wins over sub/b.jpg */
    assert_string_equal(C.rel[ref[3]], "sub/deep/c.jpg");
    assert_int_equal(st.matched_exact, 3);
    assert_int_equal(st.matched_stem, 1);
    assert_int_equal(st.missing, 0);
    assert_int_equal(st.unused, 2);                       /* extra.png, sub/b.jpg */
    filelist_free(&E); filelist_free(&C);
}

static void test_stem_is_exact_not_prefix(void **state) {
    (void)state;
    /* "a.png" must not pair with "a.b.jpg" (stem a.b) nor with a folder "a.d/x.png" */
    const char *en[] = { "a.png", "x.png" };
    const char *cn[] = { "a.b.jpg", "a.d/x.png", "x.txt" };
    FileList E, C; list_of(&E, en, 2); list_of(&C, cn, 3);
    int ref[2]; PairStats st; Err e = {0};
    assert_int_equal(pair_images(&NAMES, &E, &C, ref, &st, &e), 0);
    assert_int_equal(ref[0], -1); assert_int_equal(ref[1], -1);
    assert_int_equal(st.missing, 2);
    filelist_free(&E); filelist_free(&C);
}

static void test_claimed_reference_not_reused(void **state) {
    (void)state;
    /* edits a.png and a.jpg; refs only a.png: a.jpg must not borrow the reference of a.png */
    const char *en[] = { "a.png", "a.jpg" };
    const char *cn[] = { "a.png" };
    FileList E, C; list_of(&E, en, 2); list_of(&C, cn, 1);
    int ref[2]; PairStats st; Err e = {0};
    assert_int_equal(pair_images(&NAMES, &E, &C, ref, &st, &e), 0);
    assert_int_equal(ref[0], -1);  /* a.jpg (sorted first) */
    assert_int_equal(ref[1], 0);
    char *m = pair_missing_message(&NAMES, &E, ref, st.missing);
    assert_string_equal(m, "conditioning dataset \"refs\" (/data/refs): 1 of 2 images of dataset \"edits\" have no reference with the same relative path: a.jpg");
    free(m);
    filelist_free(&E); filelist_free(&C);
}

static void test_ambiguous_names_both(void **state) {
    (void)state;
    const char *en[] = { "sub/a.webp" };
    const char *cn[] = { "sub/a.png", "sub/a.jpg" };
    FileList E, C; list_of(&E, en, 1); list_of(&C, cn, 2);
    int ref[1]; PairStats st; Err e = {0};
    assert_int_equal(pair_images(&NAMES, &E, &C, ref, &st, &e), -1);
    assert_string_equal(e.msg, "conditioning dataset \"refs\" (/data/refs): ambiguous reference for \"sub/a.webp\" of dataset \"edits\": "
                               "both \"sub/a.jpg\" and \"sub/a.png\" match; rename or remove one");
    filelist_free(&E); filelist_free(&C);
}

static void test_missing_lists_ten_and_counts(void **state) {
    (void)state;
    FileList E = {0}, C = {0};
    char name[32];
    for (int i = 0; i < 25; i++) { snprintf(name, sizeof name, "img%02d.png", i); filelist_add(&E, name); }
    for (int i = 0; i < 25; i += 2) { snprintf(name, sizeof name, "img%02d.png", i); filelist_add(&C, name); }
    filelist_sort(&E); filelist_sort(&C);
    int ref[25]; PairStats st; Err e = {0};
    assert_int_equal(pair_images(&NAMES, &E, &C, ref, &st, &e), 0);
    assert_int_equal(st.missing, 12);
    char *m = pair_missing_message(&NAMES, &E, ref, st.missing);
    assert_string_equal(m, "conditioning dataset \"refs\" (/data/refs): 12 of 25 images of dataset \"edits\" have no reference with the same "
                           "relative path: img01.png, img03.png, img05.png, img07.png, img09.png, img11.png, img13.png, img15.png, "
                           "img17.png, img19.png and 2 more");
    free(m);
    filelist_free(&E); filelist_free(&C);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_nested_and_other_extension),
        cmocka_unit_test(test_stem_is_exact_not_prefix),
        cmocka_unit_test(test_claimed_reference_not_reused),
        cmocka_unit_test(test_ambiguous_names_both),
        cmocka_unit_test(test_missing_lists_ten_and_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
