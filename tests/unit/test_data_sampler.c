/* Batch sampler: one bucket of one dataset per batch, repeats, pruning, weights, determinism and
 * exact resume from (epoch, position); random reference choice per path and epoch. */
#include "test_util.h"
#include "data/sampler.h"

static void test_batches_single_bucket_and_repeats(void **state) {
    (void)state;
    int b0[10] = { 0, 1, 0, 1, 0, 1, 0, 1, 0, 2 };   /* bucket 0: 5 items, 1: 4, 2: 1 (pruned at bs 2) */
    SamplerSource s = { "edits", 10, b0, 3, 1, 1.0, 2, 0, 0 };
    Sampler sm; Err e = {0};
    assert_int_equal(sampler_init(&sm, &s, 1, 42, SAMPLING_AUTO_WEIGHTING, &e), 0);
    /* repeats 1: bucket 0 has 10 -> 5 batches, bucket 1 has 8 -> 4, bucket 2 has 2 -> 1 */
    assert_int_equal(sampler_batches_per_epoch(&sm), 10);
    int count[10] = {0};
    for (int k = 0; k < 10; k++) {
        SamplerBatch b; sampler_next(&sm, &b);
        assert_int_equal(b.epoch, 1);
        assert_int_equal(b.n, 2);
        for (int i = 0; i < b.n; i++) { assert_int_equal(b0[b.items[i]], b.bucket); count[b.items[i]]++; }
    }
    for (int i = 0; i < 10; i++) assert_int_equal(count[i], 2);   /* every item seen repeats+1 times */
    SamplerBatch b; sampler_next(&sm, &b);
    assert_int_equal(b.epoch, 2);
    sampler_free(&sm);
    /* without repeats, the lone item of bucket 2 cannot fill a batch: pruned */
    s.repeats = 0;
    assert_int_equal(sampler_init(&sm, &s, 1, 42, SAMPLING_AUTO_WEIGHTING, &e), 0);
    assert_int_equal(sampler_batches_per_epoch(&sm), 4);            /* 2 + 2, leftovers dropped */
    assert_int_equal(sm.pruned_buckets, 1);
    sampler_free(&sm);
}

static void test_deterministic_and_resume(void **state) {
    (void)state;
    int bk[40], bk2[12];
    for (int i = 0; i < 40; i++) bk[i] = i % 3;
    for (int i = 0; i < 12; i++) bk2[i] = 0;
    SamplerSource s[2] = { { "a", 40, bk, 3, 0, 1.0, 4, 0, 0 }, { "b", 12, bk2, 1, 2, 0.5, 3, 0, 0 } };
    Sampler x, y; Err e = {0};
    assert_int_equal(sampler_init(&x, s, 2, 7, SAMPLING_AUTO_WEIGHTING, &e), 0);
    assert_int_equal(sampler_init(&y, s, 2, 7, SAMPLING_AUTO_WEIGHTING, &e), 0);
    int per = sampler_batches_per_epoch(&x);
    assert_int_equal(per, 9 + 12);   /* a: buckets of 14,13,13 -> 3+3+3; b: 36 items -> 12 */
    SamplerBatch bx, by;
    int from_b = 0;
    for (int k = 0; k < per + 5; k++) {
        sampler_next(&x, &bx); sampler_next(&y, &by);
        assert_int_equal(bx.dataset, by.dataset); assert_int_equal(bx.bucket, by.bucket);
        assert_memory_equal(bx.items, by.items, sizeof(int) * bx.n);
        from_b += bx.dataset == 1;
    }
    assert_true(from_b >= 12);
    /* save mid-epoch-2 state, run on, restore into a fresh sampler: identical continuation */
    char *js = sampler_state_to_json(sampler_state(&x));
    SamplerState st;
    assert_int_equal(sampler_state_from_json(js, &st, &e), 0);
    assert_int_equal(st.epoch, 2); assert_int_equal(st.position, 5);
    int want[30][5];
    for (int k = 0; k < 30; k++) {
        sampler_next(&x, &bx);
        want[k][0] = bx.dataset; want[k][1] = bx.bucket; want[k][2] = bx.items[0]; want[k][3] = bx.items[bx.n - 1]; want[k][4] = (int)bx.epoch;
    }
    Sampler z;
    assert_int_equal(sampler_init(&z, s, 2, 7, SAMPLING_AUTO_WEIGHTING, &e), 0);
    assert_int_equal(sampler_restore(&z, st, &e), 0);
    for (int k = 0; k < 30; k++) {
        sampler_next(&z, &bx);
        assert_int_equal(want[k][0], bx.dataset); assert_int_equal(want[k][1], bx.bucket);
        assert_int_equal(want[k][2], bx.items[0]); assert_int_equal(want[k][3], bx.items[bx.n - 1]);
        assert_int_equal(want[k][4], (int)bx.epoch);
    }
    /* epochs differ in order; another seed differs */
    Sampler w;
    assert_int_equal(sampler_init(&w, s, 2, 8, SAMPLING_AUTO_WEIGHTING, &e), 0);
    int same = 0;
    for (int k = 0; k < per; k++) { sampler_next(&w, &bx); sampler_next(&y, &by); same += bx.dataset == by.dataset && bx.items[0] == by.items[0]; }
    assert_true(same < per);
    free(js);
    sampler_free(&x); sampler_free(&y); sampler_free(&z); sampler_free(&w);
    /* bad states are errors */
    SamplerState bad = { 1, 1000 };
    assert_int_equal(sampler_init(&z, s, 2, 7, SAMPLING_AUTO_WEIGHTING, &e), 0);
    assert_int_equal(sampler_restore(&z, bad, &e), -1);
    assert_string_equal(e.msg, "sampler state position 1000 is past the 21 batches of epoch 1 (the datasets changed since the checkpoint?)");
    assert_int_equal(sampler_state_from_json("{\"epoch\": 1}", &bad, &e), -1);
    sampler_free(&z);
}

static void test_probability_zero_and_no_full_batch(void **state) {
    (void)state;
    int bk[4] = { 0, 0, 0, 0 };
    SamplerSource s[2] = { { "a", 4, bk, 1, 0, 1.0, 2, 0, 0 }, { "off", 4, bk, 1, 0, 0.0, 2, 0, 0 } };
    Sampler x; Err e = {0};
    assert_int_equal(sampler_init(&x, s, 2, 1, SAMPLING_UNIFORM, &e), 0);
    for (int k = 0; k < 10; k++) { SamplerBatch b; sampler_next(&x, &b); assert_int_equal(b.dataset, 0); }
    sampler_free(&x);
    SamplerSource t = { "tiny", 4, bk, 1, 0, 1.0, 8, 0, 0 };
    assert_int_equal(sampler_init(&x, &t, 1, 1, SAMPLING_UNIFORM, &e), -1);
    assert_string_equal(e.msg, "no bucket holds a full batch in any dataset: \"tiny\" (4 images, batch size 8); lower train_batch_size, add images or raise repeats");
}

static void test_pick_reference(void **state) {
    (void)state;
    int seen[3] = {0};
    for (int ep = 1; ep <= 30; ep++) {
        int r = sampler_pick_reference(5, ep, "sub/a.png", 3);
        assert_int_equal(r, sampler_pick_reference(5, ep, "sub/a.png", 3));
        assert_true(r >= 0 && r < 3);
        seen[r]++;
    }
    assert_true(seen[0] && seen[1] && seen[2]);
    assert_int_equal(sampler_pick_reference(5, 1, "x", 1), 0);
}

static void test_pruning_threshold_and_keep_small(void **state) {
    (void)state;
    int bk[7] = { 0, 0, 0, 0, 0, 1, 1 };   /* bucket 0: 5 images, bucket 1: 2 images */
    SamplerSource s = { "a", 7, bk, 2, 0, 1.0, 1, 4, 0 };   /* batch 1, effective batch 4 (grad accumulation 4) */
    Sampler x; Err e = {0};
    assert_int_equal(sampler_init(&x, &s, 1, 3, SAMPLING_UNIFORM, &e), 0);
    assert_int_equal(sampler_batches_per_epoch(&x), 5);      /* bucket 1 pruned: 2 < 4 */
    assert_int_equal(x.pruned_buckets, 1);
    sampler_free(&x);
    s.keep_small_buckets = 1;                                /* disable_bucket_pruning */
    assert_int_equal(sampler_init(&x, &s, 1, 3, SAMPLING_UNIFORM, &e), 0);
    assert_int_equal(sampler_batches_per_epoch(&x), 7);
    sampler_free(&x);
    /* batch 3 with a kept 2-image bucket: one batch, its samples cycled to fill it */
    s.batch_size = 3; s.min_bucket = 0;
    assert_int_equal(sampler_init(&x, &s, 1, 3, SAMPLING_UNIFORM, &e), 0);
    assert_int_equal(sampler_batches_per_epoch(&x), 2);      /* 5 -> 1 full batch (2 left over), 2 -> 1 cycled */
    int saw_small = 0;
    for (int k = 0; k < 2; k++) {
        SamplerBatch b; sampler_next(&x, &b);
        assert_int_equal(b.n, 3);
        for (int i = 0; i < 3; i++) assert_int_equal(bk[b.items[i]], b.bucket);
        if (b.bucket == 1) { saw_small = 1; assert_true(b.items[0] == b.items[2] || b.items[1] == b.items[2] || b.items[0] == b.items[1]); }
    }
    assert_true(saw_small);
    sampler_free(&x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batches_single_bucket_and_repeats),
        cmocka_unit_test(test_deterministic_and_resume),
        cmocka_unit_test(test_probability_zero_and_no_full_batch),
        cmocka_unit_test(test_pick_reference),
        cmocka_unit_test(test_pruning_threshold_and_keep_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
