/* Batch sampler: one bucket of one dataset per batch, repeats, pruning, weights, determinism and
 * exact resume from (epoch, position); random reference choice per path and epoch. */
#include "test_util.h"
#include "data/batch_sampler.h"

static void test_batches_single_bucket_and_repeats(void **state) {
    (void)state;
    int b0[10] = { 0, 1, 0, 1, 0, 1, 0, 1, 0, 2 };   /* bucket 0: 5 items, 1: 4, 2: 1 (pruned at bs 2) */
    SamplerSource s = { "edits", 10, b0, 3, 1, 1.0, 2, 0, 0, 0, 0, 0, 0 };
    Sampler sm; Err e = {0};
    assert_int_equal(sampler_init(&sm, &s, 1, 42, SAMPLING_AUTO_WEIGHTING, 1, &e), 0);
    /* repeats 1: bucket 0 has 10 -> 5 batches, bucket 1 has 8 -> 4, bucket 2 has 2 -> 1 */
    assert_int_equal(sampler_batches_per_epoch(&sm), 10);
    int count[10] = {0};
    for (int k = 0; k < 10; k++) {
        SamplerBatch b; assert_int_equal(sampler_next(&sm, &b, &e), 0);
        assert_int_equal(b.epoch, 1);
        assert_int_equal(b.n, 2);
        for (int i = 0; i < b.n; i++) { assert_int_equal(b0[b.items[i]], b.bucket); count[b.items[i]]++; }
    }
    for (int i = 0; i < 10; i++) assert_int_equal(count[i], 2);   /* every item seen repeats+1 times */
    SamplerBatch b; assert_int_equal(sampler_next(&sm, &b, &e), 0);
    assert_int_equal(b.epoch, 2);
    sampler_free(&sm);
    /* without repeats, the lone item of bucket 2 cannot fill a batch: pruned */
    s.repeats = 0;
    assert_int_equal(sampler_init(&sm, &s, 1, 42, SAMPLING_AUTO_WEIGHTING, 1, &e), 0);
    assert_int_equal(sampler_batches_per_epoch(&sm), 4);            /* 2 + 2, leftovers dropped */
    assert_int_equal(sm.pruned_buckets, 1);
    sampler_free(&sm);
}

static void test_deterministic_and_resume(void **state) {
    (void)state;
    int bk[40], bk2[12];
    for (int i = 0; i < 40; i++) bk[i] = i % 3;
    for (int i = 0; i < 12; i++) bk2[i] = 0;
    SamplerSource s[2] = { { "a", 40, bk, 3, 0, 1.0, 4, 0, 0, 0, 0, 0, 0 }, { "b", 12, bk2, 1, 2, 0.5, 3, 0, 0, 0, 0, 0, 0 } };
    Sampler x, y; Err e = {0};
    assert_int_equal(sampler_init(&x, s, 2, 7, SAMPLING_AUTO_WEIGHTING, 1, &e), 0);
    assert_int_equal(sampler_init(&y, s, 2, 7, SAMPLING_AUTO_WEIGHTING, 1, &e), 0);
    int per = sampler_batches_per_epoch(&x);
    assert_int_equal(per, 9 + 12);   /* a: buckets of 14,13,13 -> 3+3+3; b: 36 items -> 12 */
    SamplerBatch bx, by;
    int from_b = 0;
    for (int k = 0; k < per + 5; k++) {
        assert_int_equal(sampler_next(&x, &bx, &e), 0); assert_int_equal(sampler_next(&y, &by, &e), 0);
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
        assert_int_equal(sampler_next(&x, &bx, &e), 0);
        want[k][0] = bx.dataset; want[k][1] = bx.bucket; want[k][2] = bx.items[0]; want[k][3] = bx.items[bx.n - 1]; want[k][4] = (int)bx.epoch;
    }
    Sampler z;
    assert_int_equal(sampler_init(&z, s, 2, 7, SAMPLING_AUTO_WEIGHTING, 1, &e), 0);
    assert_int_equal(sampler_restore(&z, st, &e), 0);
    for (int k = 0; k < 30; k++) {
        assert_int_equal(sampler_next(&z, &bx, &e), 0);
        assert_int_equal(want[k][0], bx.dataset); assert_int_equal(want[k][1], bx.bucket);
        assert_int_equal(want[k][2], bx.items[0]); assert_int_equal(want[k][3], bx.items[bx.n - 1]);
        assert_int_equal(want[k][4], (int)bx.epoch);
    }
    /* epochs differ in order; another seed differs */
    Sampler w;
    assert_int_equal(sampler_init(&w, s, 2, 8, SAMPLING_AUTO_WEIGHTING, 1, &e), 0);
    int same = 0;
    for (int k = 0; k < per; k++) { assert_int_equal(sampler_next(&w, &bx, &e), 0); assert_int_equal(sampler_next(&y, &by, &e), 0); same += bx.dataset == by.dataset && bx.items[0] == by.items[0]; }
    assert_true(same < per);
    free(js);
    sampler_free(&x); sampler_free(&y); sampler_free(&z); sampler_free(&w);
    /* bad states are errors */
    SamplerState bad = { 1, 1000, 0 };
    assert_int_equal(sampler_init(&z, s, 2, 7, SAMPLING_AUTO_WEIGHTING, 1, &e), 0);
    assert_int_equal(sampler_restore(&z, bad, &e), -1);
    assert_string_equal(e.msg, "sampler state position 1000 is past the 21 batches of epoch 1 (the datasets changed since the checkpoint?)");
    assert_int_equal(sampler_state_from_json("{\"epoch\": 1}", &bad, &e), -1);
    sampler_free(&z);
}

static void test_probability_zero_and_no_full_batch(void **state) {
    (void)state;
    int bk[4] = { 0, 0, 0, 0 };
    SamplerSource s[2] = { { "a", 4, bk, 1, 0, 1.0, 2, 0, 0, 0, 0, 0, 0 }, { "off", 4, bk, 1, 0, 0.0, 2, 0, 0, 0, 0, 0, 0 } };
    Sampler x; Err e = {0};
    assert_int_equal(sampler_init(&x, s, 2, 1, SAMPLING_UNIFORM, 1, &e), 0);
    for (int k = 0; k < 10; k++) { SamplerBatch b; assert_int_equal(sampler_next(&x, &b, &e), 0); assert_int_equal(b.dataset, 0); }
    sampler_free(&x);
    SamplerSource t = { "tiny", 4, bk, 1, 0, 1.0, 8, 0, 0, 0, 0, 0, 0 };
    assert_int_equal(sampler_init(&x, &t, 1, 1, SAMPLING_UNIFORM, 1, &e), -1);
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
    SamplerSource s = { "a", 7, bk, 2, 0, 1.0, 1, 4, 0, 0, 0, 0, 0 };   /* batch 1, effective batch 4 (grad accumulation 4) */
    Sampler x; Err e = {0};
    assert_int_equal(sampler_init(&x, &s, 1, 3, SAMPLING_UNIFORM, 1, &e), 0);
    assert_int_equal(sampler_batches_per_epoch(&x), 5);      /* bucket 1 pruned: 2 < 4 */
    assert_int_equal(x.pruned_buckets, 1);
    sampler_free(&x);
    s.keep_small_buckets = 1;                                /* disable_bucket_pruning */
    assert_int_equal(sampler_init(&x, &s, 1, 3, SAMPLING_UNIFORM, 1, &e), 0);
    assert_int_equal(sampler_batches_per_epoch(&x), 7);
    sampler_free(&x);
    /* batch 3 with a kept 2-image bucket: one batch, its samples cycled to fill it */
    s.batch_size = 3; s.min_bucket = 0;
    assert_int_equal(sampler_init(&x, &s, 1, 3, SAMPLING_UNIFORM, 1, &e), 0);
    assert_int_equal(sampler_batches_per_epoch(&x), 2);      /* 5 -> 1 full batch (2 left over), 2 -> 1 cycled */
    int saw_small = 0;
    for (int k = 0; k < 2; k++) {
        SamplerBatch b; assert_int_equal(sampler_next(&x, &b, &e), 0);
        assert_int_equal(b.n, 3);
        for (int i = 0; i < 3; i++) assert_int_equal(bk[b.items[i]], b.bucket);
        if (b.bucket == 1) { saw_small = 1; assert_true(b.items[0] == b.items[2] || b.items[1] == b.items[2] || b.items[0] == b.items[1]); }
    }
    assert_true(saw_small);
    sampler_free(&x);
}

/* start/end_step and start/end_epoch: a dataset is sampled only inside its window; the step of a
 * batch is (batches before it) / batches_per_step + 1; the plan stays a pure function of the state. */
static void test_schedule_windows(void **state) {
    (void)state;
    int bk[20] = {0};
    /* a: 20 images, batch 2 -> 10 batches; b the same; curriculum: a for steps 1-3, b from step 4 */
    SamplerSource s[2] = { { "lowres", 20, bk, 1, 0, 1.0, 2, 0, 0, 0, 0, 0, 3 }, { "highres", 20, bk, 1, 0, 1.0, 2, 0, 0, 0, 4, 0, 0 } };
    Sampler x; Err e = {0};
    assert_int_equal(sampler_init(&x, s, 2, 9, SAMPLING_AUTO_WEIGHTING, 2, &e), 0);
    /* epoch 1: 6 batches of a (steps 1-3), then all 10 of b; a's 4 others are out of its window */
    assert_int_equal(sampler_batches_per_epoch(&x), 16);
    SamplerBatch b;
    int want[60][3];
    for (int g = 0; g < 60; g++) {
        assert_int_equal(sampler_next(&x, &b, &e), 0);
        int step = g / 2 + 1;
        assert_int_equal(b.dataset, step <= 3 ? 0 : 1);
        assert_int_equal(b.epoch, g < 16 ? 1 : 2 + (g - 16) / 10);
        want[g][0] = b.dataset; want[g][1] = b.items[0]; want[g][2] = (int)b.epoch;
    }
    sampler_free(&x);
    /* a restored state, with or without "before" (old checkpoints), continues identically */
    for (int variant = 0; variant < 2; variant++) {
        assert_int_equal(sampler_init(&x, s, 2, 9, SAMPLING_AUTO_WEIGHTING, 2, &e), 0);
        for (int g = 0; g < 23; g++) assert_int_equal(sampler_next(&x, &b, &e), 0);
        char *js = sampler_state_to_json(sampler_state(&x));
        assert_contains(js, "\"before\": 16");
        SamplerState st;
        assert_int_equal(sampler_state_from_json(variant ? "{\"epoch\": 2, \"position\": 7}" : js, &st, &e), 0);
        assert_int_equal(st.before, variant ? -1 : 16);
        free(js);
        sampler_free(&x);
        assert_int_equal(sampler_init(&x, s, 2, 9, SAMPLING_AUTO_WEIGHTING, 2, &e), 0);
        assert_int_equal(sampler_restore(&x, st, &e), 0);
        for (int g = 23; g < 60; g++) {
            assert_int_equal(sampler_next(&x, &b, &e), 0);
            assert_int_equal(b.dataset, want[g][0]); assert_int_equal(b.items[0], want[g][1]); assert_int_equal(b.epoch, want[g][2]);
        }
        sampler_free(&x);
    }
    /* epoch windows: a in epoch 1 only, b from epoch 2 */
    SamplerSource t[2] = { s[0], s[1] };
    t[0].end_step = 0; t[0].end_epoch = 1; t[1].start_step = 0; t[1].start_epoch = 2;
    assert_int_equal(sampler_init(&x, t, 2, 9, SAMPLING_AUTO_WEIGHTING, 1, &e), 0);
    for (int g = 0; g < 40; g++) {
        assert_int_equal(sampler_next(&x, &b, &e), 0);
        assert_int_equal(b.dataset, b.epoch == 1 ? 0 : 1);
        assert_int_equal(b.epoch, g < 10 ? 1 : 2 + (g - 10) / 10);
    }
    sampler_free(&x);
    /* a gap (a ends at step 2, b starts at step 5) fails at the first step without data */
    t[0] = s[0]; t[1] = s[1]; t[0].end_step = 2; t[1].start_step = 5;
    assert_int_equal(sampler_init(&x, t, 2, 9, SAMPLING_AUTO_WEIGHTING, 1, &e), 0);
    assert_int_equal(sampler_next(&x, &b, &e), 0);
    assert_int_equal(sampler_next(&x, &b, &e), 0);
    assert_int_equal(sampler_next(&x, &b, &e), -1);
    assert_string_equal(e.msg, "no dataset has a batch for optimizer step 3 (epoch 2): the dataset schedules leave a gap: "
                               "\"lowres\" (epochs 1-, steps 1-2), \"highres\" (epochs 1-, steps 5-)");
    sampler_free(&x);
    /* nothing at the first step, inverted windows */
    t[0] = s[1]; t[1] = s[1]; t[1].start_epoch = 3;
    assert_int_equal(sampler_init(&x, t, 2, 9, SAMPLING_AUTO_WEIGHTING, 1, &e), -1);
    assert_contains(e.msg, "no dataset is active at the first step");
    t[0] = s[0]; t[0].start_step = 5; t[0].end_step = 3;
    assert_int_equal(sampler_init(&x, t, 1, 9, SAMPLING_AUTO_WEIGHTING, 1, &e), -1);
    assert_string_equal(e.msg, "dataset \"lowres\": end_step 3 is before start_step 5");
    /* the window rule itself (SimpleTuner's dataset_is_active) */
    SamplerSource w = { .start_epoch = 2, .start_step = 10, .end_epoch = 4, .end_step = 20 };
    assert_false(sampler_source_active(&w, 1, 15));
    assert_false(sampler_source_active(&w, 2, 9));
    assert_true(sampler_source_active(&w, 2, 10));
    assert_true(sampler_source_active(&w, 4, 20));
    assert_false(sampler_source_active(&w, 5, 15));
    assert_false(sampler_source_active(&w, 3, 21));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batches_single_bucket_and_repeats),
        cmocka_unit_test(test_schedule_windows),
        cmocka_unit_test(test_deterministic_and_resume),
        cmocka_unit_test(test_probability_zero_and_no_full_batch),
        cmocka_unit_test(test_pick_reference),
        cmocka_unit_test(test_pruning_threshold_and_keep_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
