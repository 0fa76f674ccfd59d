/* Synthetic edit pairs: deterministic, instructions follow the edit, references as promised. */
#include "test_util.h"
#include "data/synth.h"

static long diff_pixels(const Image *a, const Image *b) {
    long n = 0;
    for (size_t i = 0; i < (size_t)a->width * a->height; i++) n += memcmp(a->data + 3 * i, b->data + 3 * i, 3) != 0;
    return n;
}

static void test_deterministic(void **state) {
    (void)state;
    SynthPair a, b, c;
    synth_pair(7, 3, 1, 64, 48, &a);
    synth_pair(7, 3, 1, 64, 48, &b);
    synth_pair(8, 3, 1, 64, 48, &c);
    assert_string_equal(a.instruction, b.instruction);
    assert_int_equal(diff_pixels(&a.edit, &b.edit), 0);
    assert_true(diff_pixels(&a.refs[0], &c.refs[0]) > 0 || strcmp(a.instruction, c.instruction));
    synth_pair_free(&a); synth_pair_free(&b); synth_pair_free(&c);
}

static void test_edits_change_the_image(void **state) {
    (void)state;
    int ops_seen[5] = {0};
    for (int i = 0; i < 40; i++) {
        SynthPair p;
        synth_pair(1, i, 1, 64, 64, &p);
        assert_int_equal(p.n_refs, 1);
        assert_non_null(p.refs[0].data);
        assert_null(p.refs[1].data);
        assert_true(strlen(p.instruction) > 8);
        /* recolour/move/add/remove/resize all alter pixels (a move to the same place is the one no-op) */
        if (!strncmp(p.instruction, "make the", 8) && strstr(p.instruction, "bigger")) ops_seen[4]++;
        else if (!strncmp(p.instruction, "make the", 8)) ops_seen[0]++;
        else if (!strncmp(p.instruction, "move", 4)) ops_seen[1]++;
        else if (!strncmp(p.instruction, "add", 3)) ops_seen[2]++;
        else if (!strncmp(p.instruction, "remove", 6)) ops_seen[3]++;
        if (strncmp(p.instruction, "move", 4)) assert_true(diff_pixels(&p.edit, &p.refs[0]) > 0);
        synth_pair_free(&p);
    }
    for (int k = 0; k < 5; k++) assert_true(ops_seen[k] > 0);
}

static void test_multi_reference(void **state) {
    (void)state;
    SynthPair p;
    synth_pair(3, 0, 3, 48, 32, &p);
    assert_int_equal(p.n_refs, 3);
    for (int k = 0; k < 3; k++) { assert_non_null(p.refs[k].data); assert_int_equal(p.refs[k].width, 48); }
    assert_contains(p.instruction, "Picture 2");
    assert_contains(p.instruction, "Picture 3");
    synth_pair_free(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_edits_change_the_image),
        cmocka_unit_test(test_multi_reference),
    };
    return cmocka_run_group_tests_name("synth", tests, NULL, NULL);
}
