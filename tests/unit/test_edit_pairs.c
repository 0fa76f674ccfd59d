/* Reading a paired edit folder (data/edit_pairs.h): the make-dataset layouts with one and three
 * references, nested names and another reference extension, and the errors that name the file
 * (missing folder, a target without reference or instruction, a reference without target, both
 * reference layouts, an empty instruction). */
#include "test_util.h"
#include "base/files.h"
#include "data/edit_pairs.h"
#include "data/synth_write.h"
#include "data/synth.h"
#include "image/image_io.h"

static void write_png(const char *path, int w, int h) {
    Image im = {w, h, 3, calloc((size_t)w * h * 3, 1)};
    Err e = {0};
    char *d = path_dirname(path);
    if (dir_make(d, &e) || image_write_png(path, &im, &e)) fail_msg("%s", e.msg);
    free(d); image_free(&im);
}

static char *at(const char *dir, const char *rel) { return path_join(dir, rel); }

static void test_one_reference_layout(void **state) {
    (void)state;
    char *dir = tmpdir_make();
    Err e = {0};
    assert_int_equal(synth_dataset_write(dir, 3, 1, SYNTH_EDITS_DEFAULT, 32, 32, 7, &e), 0);
    EditPairSet s;
    if (edit_pairs_read(dir, &s, &e)) fail_msg("%s", e.msg);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.n_refs, 1);
    for (int i = 0; i < 3; i++) {
        char name[32], *t, *r;
        snprintf(name, sizeof name, "pair_%04d.png", i);
        assert_string_equal(s.pairs[i].name, name);
        snprintf(name, sizeof name, "images/pair_%04d.png", i); t = at(dir, name);
        snprintf(name, sizeof name, "reference/pair_%04d.png", i); r = at(dir, name);
        assert_string_equal(s.pairs[i].target, t);
        assert_string_equal(s.pairs[i].refs[0], r);
        SynthPair p;
        synth_pair(7, i, 1, 32, 32, &p);
        assert_string_equal(s.pairs[i].instruction, p.instruction);
        synth_pair_free(&p);
        free(t); free(r);
    }
    edit_pairs_free(&s);
    tmpdir_remove(dir);
}

static void test_three_references_in_order(void **state) {
    (void)state;
    char *dir = tmpdir_make();
    Err e = {0};
    assert_int_equal(synth_dataset_write(dir, 2, 3, SYNTH_EDIT_BIT(SYNTH_COMPOSE), 32, 32, 1, &e), 0);
    EditPairSet s;
    if (edit_pairs_read(dir, &s, &e)) fail_msg("%s", e.msg);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.n_refs, 3);
    assert_non_null(strstr(s.pairs[1].refs[0], "/reference_a/pair_0001.png"));
    assert_non_null(strstr(s.pairs[1].refs[1], "/reference_b/pair_0001.png"));
    assert_non_null(strstr(s.pairs[1].refs[2], "/reference_c/pair_0001.png"));
    edit_pairs_free(&s);
    tmpdir_remove(dir);
}

/* Nested names pair by relative path; a reference of another extension pairs by stem; the
 * instruction is the first non-empty line. */
static void test_nested_and_other_extension(void **state) {
    (void)state;
    char *dir = tmpdir_make(), *p;
    p = at(dir, "images/sub/a.png"); write_png(p, 16, 16); free(p);
    p = at(dir, "images/sub/a.txt"); write_text(p, "\n  turn it blue \nsecond line\n"); free(p);
    p = at(dir, "reference/sub/a.jpg"); write_png(p, 16, 16); free(p);
    EditPairSet s; Err e = {0};
    if (edit_pairs_read(dir, &s, &e)) fail_msg("%s", e.msg);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.pairs[0].name, "sub/a.png");
    assert_string_equal(s.pairs[0].instruction, "turn it blue");
    assert_non_null(strstr(s.pairs[0].refs[0], "reference/sub/a.jpg"));
    edit_pairs_free(&s);
    tmpdir_remove(dir);
}

static int read_fails(const char *dir, Err *e) {
    EditPairSet s;
    int rc = edit_pairs_read(dir, &s, e);
    if (!rc) edit_pairs_free(&s);
    return rc;
}

static void test_errors_name_the_file(void **state) {
    (void)state;
    char *dir = tmpdir_make(), *p;
    Err e = {0};
    /* no such folder */
    char *none = at(dir, "nothing");
    assert_int_equal(read_fails(none, &e), -1);
    assert_int_equal(e.code, EXIT_USAGE);
    assert_contains(e.msg, none);
    assert_contains(e.msg, "no such dataset folder");
    free(none);
    /* no images/ */
    assert_int_equal(read_fails(dir, &e), -1);
    assert_contains(e.msg, "no images/ folder");
    assert_int_equal(synth_dataset_write(dir, 4, 1, SYNTH_EDITS_DEFAULT, 16, 16, 3, &e), 0);
    /* a target without its reference */
    p = at(dir, "reference/pair_0002.png"); unlink(p); free(p);
    assert_int_equal(read_fails(dir, &e), -1);
    assert_int_equal(e.code, EXIT_USAGE);
    assert_contains(e.msg, "1 of 4 edit targets");
    assert_contains(e.msg, "no reference with the same name (incomplete pairs): pair_0002.png");
    /* a reference without its target */
    p = at(dir, "reference/pair_0002.png"); write_png(p, 16, 16); free(p);
    p = at(dir, "reference/extra.png"); write_png(p, 16, 16); free(p);
    assert_int_equal(read_fails(dir, &e), -1);
    assert_int_equal(e.code, EXIT_USAGE);
    assert_contains(e.msg, "1 reference without an edit target of the same name");
    assert_contains(e.msg, "extra.png");
    p = at(dir, "reference/extra.png"); unlink(p); free(p);
    /* a target without its instruction */
    p = at(dir, "images/pair_0003.txt"); unlink(p); free(p);
    assert_int_equal(read_fails(dir, &e), -1);
    assert_contains(e.msg, "1 of 4 edit targets have no instruction file");
    assert_contains(e.msg, "pair_0003.png");
    /* an empty instruction */
    p = at(dir, "images/pair_0003.txt"); write_text(p, " \n"); free(p);
    assert_int_equal(read_fails(dir, &e), -1);
    assert_contains(e.msg, "pair_0003.txt: the instruction file is empty");
    p = at(dir, "images/pair_0003.txt"); write_text(p, "make it red\n"); free(p);
    EditPairSet s;
    if (edit_pairs_read(dir, &s, &e)) fail_msg("%s", e.msg);
    assert_string_equal(s.pairs[3].instruction, "make it red");
    edit_pairs_free(&s);
    /* both layouts */
    p = at(dir, "reference_a"); assert_int_equal(dir_make(p, &e), 0); free(p);
    assert_int_equal(read_fails(dir, &e), -1);
    assert_contains(e.msg, "both reference/ and reference_a/ exist");
    /* no reference folder at all */
    p = xasprintf("rm -rf '%s/reference' '%s/reference_a'", dir, dir);
    assert_int_equal(system(p), 0); free(p);
    assert_int_equal(read_fails(dir, &e), -1);
    assert_contains(e.msg, "no reference folder");
    tmpdir_remove(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_reference_layout),
        cmocka_unit_test(test_three_references_in_order),
        cmocka_unit_test(test_nested_and_other_extension),
        cmocka_unit_test(test_errors_name_the_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
