/* test_ema.c — the EMA decay ramp and update rule against hand-computed values, warmup, update
 * interval, swap for validation, and save/load. */
#include "test_util.h"
#include <math.h>
#include "train/ema.h"
#include "train/train_setup.h"

static void test_decay_ramp(void **st) {
    (void)st;
    EmaConfig c; ema_config_init(&c);
    assert_true(c.decay == 0.995 && c.update_interval == 1 && c.warmup_steps == 0);
    assert_true(ema_decay_at(&c, 0) == 0.0);
    assert_true(ema_decay_at(&c, 1) == 0.0);                           /* s = 0 */
    assert_true(fabs(ema_decay_at(&c, 2) - 2.0 / 11.0) < 1e-15);       /* s = 1 */
    assert_true(fabs(ema_decay_at(&c, 10) - 10.0 / 19.0) < 1e-15);
    assert_true(fabs(ema_decay_at(&c, 200) - 200.0 / 209.0) < 1e-15);
    assert_true(ema_decay_at(&c, 5000) == 0.995);                      /* capped */
    c.warmup_steps = 3; c.decay = 0.9;
    assert_true(ema_decay_at(&c, 1) == 0.0 && ema_decay_at(&c, 2) == 0.0);
    assert_true(ema_decay_at(&c, 3) == 0.9 && ema_decay_at(&c, 4) == 0.9);
}

static void test_update_rule(void **st) {
    (void)st;
    float w[2] = { 1, 2 };
    TrainParam p = {"w", w, NULL, 2, 0, {0, 0}};
    EmaConfig c; ema_config_init(&c);
    Ema m; Err e;
    assert_int_equal(ema_init(&m, &c, &p, 1, &e), 0);
    assert_true(m.shadow[0][0] == 1 && m.shadow[0][1] == 2);
    w[0] = 2; w[1] = 4;
    assert_int_equal(ema_step(&m, 1), 1);                  /* d = 0: copy */
    assert_true(m.shadow[0][0] == 2 && m.shadow[0][1] == 4);
    w[0] = 3; w[1] = 6;
    ema_step(&m, 2);                                       /* d = 2/11 */
    assert_true(fabsf(m.shadow[0][0] - 31.0f / 11.0f) < 1e-6f);
    assert_true(fabsf(m.shadow[0][1] - 62.0f / 11.0f) < 1e-6f);
    w[0] = 0; w[1] = 0;
    ema_step(&m, 3);                                       /* d = 3/12 */
    assert_true(fabsf(m.shadow[0][0] - 0.25f * 31.0f / 11.0f) < 1e-6f);
    assert_true(fabs(m.last_decay - 0.25) < 1e-15);
    ema_free(&m);
    /* decay cap 0.2: the second update still uses 2/11 < 0.2, the third min(3/12, 0.2) = 0.2 */
    w[0] = 1; w[1] = 2; c.decay = 0.2;
    assert_int_equal(ema_init(&m, &c, &p, 1, &e), 0);
    w[0] = 2; ema_step(&m, 1); w[0] = 3; ema_step(&m, 2); w[0] = 0; ema_step(&m, 3);
    assert_true(fabsf(m.shadow[0][0] - 0.2f * 31.0f / 11.0f) < 1e-6f);
    assert_true(m.last_decay == 0.2);
    ema_free(&m);
}

static void test_interval_and_warmup(void **st) {
    (void)st;
    float w[1] = { 0 };
    TrainParam p = {"w", w, NULL, 1, 0, {0, 0}};
    EmaConfig c = { .decay = 0.5, .update_interval = 2, .warmup_steps = 0 };
    Ema m; Err e;
    assert_int_equal(ema_init(&m, &c, &p, 1, &e), 0);
    w[0] = 8;
    assert_int_equal(ema_step(&m, 1), 0);  /* 1 % 2 != 0: no update */
    assert_true(m.shadow[0][0] == 0);
    assert_int_equal(ema_step(&m, 2), 1);  /* d = min(2/11, 0.5) */
    assert_true(fabsf(m.shadow[0][0] - 8.0f * 9.0f / 11.0f) < 1e-5f);
    assert_true(m.optimization_step == 2);
    ema_free(&m);
    c = (EmaConfig){ .decay = 0.75, .update_interval = 1, .warmup_steps = 2 };
    w[0] = 0;
    assert_int_equal(ema_init(&m, &c, &p, 1, &e), 0);
    w[0] = 4; ema_step(&m, 1);              /* warmup: copy */
    assert_true(m.shadow[0][0] == 4);
    w[0] = 8; ema_step(&m, 2);              /* decay 0.75 */
    assert_true(m.shadow[0][0] == 5);
    ema_free(&m);
}

static void test_swap_save_load(void **st) {
    (void)st;
    float w[3] = { 1, 2, 3 };
    TrainParam p = {"lora.A", w, NULL, 3, 0, {0, 0}};
    EmaConfig c; ema_config_init(&c);
    Ema m, m2; Err e;
    assert_int_equal(ema_init(&m, &c, &p, 1, &e), 0);
    w[0] = 10; ema_step(&m, 1); w[0] = 20; ema_step(&m, 2);
    float shadow0 = m.shadow[0][0];
    ema_swap(&m);
    assert_true(w[0] == shadow0 && m.shadow[0][0] == 20);
    ema_swap(&m);
    assert_true(w[0] == 20 && m.shadow[0][0] == shadow0);
    char *dir = tmpdir_make(), *path = xasprintf("%s/ema.safetensors", dir);
    StWriter wr; stw_init(&wr);
    ema_state_save(&m, &wr);
    assert_int_equal(stw_write(&wr, path, &e), 0);
    stw_free(&wr);
    assert_int_equal(ema_init(&m2, &c, &p, 1, &e), 0);
    StFile f;
    assert_int_equal(st_open(&f, path, &e), 0);
    assert_int_equal(ema_state_load(&m2, &f, &e), 0);
    assert_memory_equal(m.shadow[0], m2.shadow[0], 3 * sizeof(float));
    assert_true(m2.optimization_step == 2);
    TrainParam q = {"other", w, NULL, 3, 0, {0, 0}};
    Ema m3;
    assert_int_equal(ema_init(&m3, &c, &q, 1, &e), 0);
    assert_int_equal(ema_state_load(&m3, &f, &e), -1);
    assert_contains(e.msg, "EMA tensor 'other' is missing");
    st_close(&f); free(path); tmpdir_remove(dir);
    ema_free(&m); ema_free(&m2); ema_free(&m3);
    c.update_interval = 0;
    assert_int_equal(ema_init(&m, &c, &p, 1, &e), -1);
    assert_contains(e.msg, "ema_update_interval must be >= 1");
}

/* The configuration reaches the EMA: ema_decay, ema_update_interval and ema_warmup_steps as a
 * SimpleTuner config.json gives them (EMAModel.get_decay: 0 before the warmup's last step, then
 * ema_decay without the (1+s)/(10+s) ramp). */
static void test_config_keys(void **st) {
    (void)st;
    static const char *const keys[] = {"model_family", "output_dir", "optimizer", "use_ema", "ema_decay",
                                       "ema_update_interval", "ema_warmup_steps"};
    static const char *const vals[] = {"qwen_image", "out", "adamw_bf16", "true", "0.9", "2", "4"};
    Config *c; Err e = {0};
    if (config_from_pairs(&c, keys, vals, 7, &e)) fail_msg("%s", e.msg);
    TrainerConfig t;
    if (trainer_config_from(c, &t, &e)) fail_msg("%s", e.msg);
    assert_true(t.use_ema);
    assert_true(t.ema.decay == 0.9 && t.ema.update_interval == 2 && t.ema.warmup_steps == 4);
    assert_true(ema_decay_at(&t.ema, 3) == 0.0 && ema_decay_at(&t.ema, 4) == 0.9 && ema_decay_at(&t.ema, 20) == 0.9);
    config_free(c);
    /* without the warmup: SimpleTuner's ramp */
    if (config_from_pairs(&c, keys, vals, 6, &e) || trainer_config_from(c, &t, &e)) fail_msg("%s", e.msg);
    assert_int_equal(t.ema.warmup_steps, 0);
    assert_true(fabs(ema_decay_at(&t.ema, 4) - 4.0 / 13.0) < 1e-15);
    config_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decay_ramp), cmocka_unit_test(test_update_rule),
        cmocka_unit_test(test_interval_and_warmup), cmocka_unit_test(test_swap_save_load),
        cmocka_unit_test(test_config_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
