/* test_lr_schedule.c — every schedule against values computed by hand from the formulas in
 * lr_schedule.h (learning_rate 1e-3, lr_end 1e-5, warmup 10, max_train_steps 110 unless stated). */
#include "test_util.h"
#include <math.h>
#include "train/lr_schedule.h"

static LrSchedule make(const char *name, int64_t warmup, int64_t total, double cycles, double power) {
    LrScheduleKeys k; lr_schedule_keys_init(&k);
    k.lr_scheduler = name; k.learning_rate = 1e-3; k.lr_end = 1e-5;
    k.lr_warmup_steps = warmup; k.max_train_steps = total; k.lr_num_cycles = cycles; k.lr_power = power;
    LrSchedule s; Err e;
    if (lr_schedule_init(&s, &k, &e)) fail_msg("%s", e.msg);
    return s;
}

static void expect_lr(const LrSchedule *s, int64_t k, double want) {
    double got = lr_schedule_at(s, k);
    if (fabs(got - want) > 1e-12) fail_msg("step %lld: lr %.12g, expected %.12g", (long long)k, got, want);
}

static void test_constant(void **st) {
    (void)st;
    LrSchedule s = make("constant", 0, 110, 1, 0.8);
    assert_int_equal(s.kind, LR_CONSTANT);
    expect_lr(&s, 0, 1e-3); expect_lr(&s, 500, 1e-3);
    s = make("constant", 10, 110, 1, 0.8); /* renamed: constant with warmup */
    assert_int_equal(s.kind, LR_CONSTANT_WITH_WARMUP);
}

static void test_constant_with_warmup(void **st) {
    (void)st;
    LrSchedule s = make("constant_with_warmup", 10, 110, 1, 0.8);
    expect_lr(&s, 0, 0.0); expect_lr(&s, 1, 1e-4); expect_lr(&s, 5, 5e-4);
    expect_lr(&s, 9, 9e-4); expect_lr(&s, 10, 1e-3); expect_lr(&s, 1000, 1e-3);
    s = make("constant_with_warmup", 0, 0, 1, 0.8);
    expect_lr(&s, 0, 1e-3);
}

static void test_linear(void **st) {
    (void)st;
    LrSchedule s = make("linear", 10, 110, 1, 0.8);
    expect_lr(&s, 0, 0.0); expect_lr(&s, 4, 4e-4);
    expect_lr(&s, 10, 1e-3); expect_lr(&s, 35, 7.5e-4); expect_lr(&s, 60, 5e-4);
    expect_lr(&s, 109, 1e-5); expect_lr(&s, 110, 0.0); expect_lr(&s, 200, 0.0);
}

static void test_polynomial(void **st) {
    (void)st;
    LrSchedule s = make("polynomial", 10, 110, 1, 0.8);
    expect_lr(&s, 5, 5e-4);
    expect_lr(&s, 10, 0.001); expect_lr(&s, 35, 0.000796473701978743);
    expect_lr(&s, 60, 0.0005786056857235323); expect_lr(&s, 110, 1e-5); expect_lr(&s, 500, 1e-5);
    s = make("polynomial", 10, 110, 1, 2.0);
    expect_lr(&s, 60, 0.0002575);
}

/* SimpleTuner's Cosine: a wave of half-period W, no warmup, floored to 1e-9. */
static void test_cosine_wave(void **st) {
    (void)st;
    LrSchedule s = make("cosine", 10, 110, 1, 0.8);
    expect_lr(&s, 0, 0.001); expect_lr(&s, 1, 0.000975772); expect_lr(&s, 5, 0.000505);
    expect_lr(&s, 10, 1e-05); expect_lr(&s, 15, 0.000504999); expect_lr(&s, 20, 0.001);
    s = make("cosine", 0, 110, 1, 0.8); /* W = 0 → 1000 */
    expect_lr(&s, 250, 0.000855017); expect_lr(&s, 1000, 1e-5);
    s = make("cosine_with_warmup", 10, 110, 1, 0.8);
    assert_int_equal(s.kind, LR_COSINE);
}

static void test_sine_wave(void **st) {
    (void)st;
    LrSchedule s = make("sine", 10, 110, 1, 0.8);
    expect_lr(&s, 0, 0.000505); expect_lr(&s, 5, 0.001); expect_lr(&s, 10, 0.000505);
    expect_lr(&s, 15, 1e-05); expect_lr(&s, 20, 0.000504999);
}

static void test_cosine_with_restarts(void **st) {
    (void)st;
    LrSchedule s = make("cosine_with_restarts", 10, 110, 2, 0.8);
    expect_lr(&s, 5, 5e-4);
    expect_lr(&s, 10, 0.001); expect_lr(&s, 35, 0.0005); expect_lr(&s, 59, 9.866357858642206e-07);
    expect_lr(&s, 60, 0.001); expect_lr(&s, 85, 0.0005); expect_lr(&s, 109, 9.866357858642206e-07);
    expect_lr(&s, 110, 0.0);
}

static void test_errors(void **st) {
    (void)st;
    LrScheduleKeys k; lr_schedule_keys_init(&k);
    LrSchedule s; Err e;
    k.lr_scheduler = "cosine_annealing";
    assert_int_equal(lr_schedule_init(&s, &k, &e), -1);
    assert_int_equal(e.code, EXIT_USAGE);
    assert_contains(e.msg, "lr_scheduler 'cosine_annealing' is not supported; supported: constant, constant_with_warmup, linear");
    k.lr_scheduler = "polynomial"; k.max_train_steps = 100; /* learning_rate and lr_end both 4e-7 by default */
    assert_int_equal(lr_schedule_init(&s, &k, &e), -1);
    assert_contains(e.msg, "lr_end (4e-07) must be smaller than learning_rate (4e-07)");
    k.lr_scheduler = "sine";
    assert_int_equal(lr_schedule_init(&s, &k, &e), -1);
    assert_contains(e.msg, "set lr_warmup_steps > 0");
    k.lr_scheduler = "linear"; k.max_train_steps = 0;
    assert_int_equal(lr_schedule_init(&s, &k, &e), -1);
    assert_contains(e.msg, "needs max_train_steps > 0");
    k.lr_scheduler = NULL; /* default */
    assert_int_equal(lr_schedule_init(&s, &k, &e), 0);
    assert_int_equal(s.kind, LR_CONSTANT_WITH_WARMUP);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constant), cmocka_unit_test(test_constant_with_warmup),
        cmocka_unit_test(test_linear), cmocka_unit_test(test_polynomial),
        cmocka_unit_test(test_cosine_wave), cmocka_unit_test(test_sine_wave),
        cmocka_unit_test(test_cosine_with_restarts), cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
