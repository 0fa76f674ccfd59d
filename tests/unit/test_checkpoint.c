/* test_checkpoint.c — checkpoint directories: contents, atomicity (a killed writer and leftover temp
 * dirs), rotation, re-saving a step, resume lookup, and loading the parts back. */
#include "test_util.h"
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "base/files.h"
#include "train/checkpoint.h"

static int exists(const char *dir, const char *name) {
    char *p = path_join(dir, name);
    struct stat st;
    int ok = stat(p, &st) == 0;
    free(p);
    return ok;
}

/* The model's LoRA writer stand-in: one tensor. */
static int write_lora(void *ctx, const char *dir, Err *e) {
    const float *v = ctx;
    StWriter w; stw_init(&w);
    int64_t shape[1] = { 2 };
    stw_add_f32(&w, "transformer.x.lora_A.weight", 1, shape, v);
    char *path = path_join(dir, CKPT_LORA_FILE);
    int rc = stw_write(&w, path, e);
    free(path); stw_free(&w);
    return rc;
}

/* A second file in the checkpoint (so a deletion can be stopped half way). */
static int write_lora_as_optimizer(void *ctx, const char *dir, Err *e) {
    const float *v = ctx;
    StWriter w; stw_init(&w);
    int64_t shape[1] = { 2 };
    stw_add_f32(&w, "x", 1, shape, v);
    char *path = path_join(dir, CKPT_OPTIMIZER_FILE);
    int rc = stw_write(&w, path, e);
    free(path); stw_free(&w);
    return rc;
}

static int write_fails(void *ctx, const char *dir, Err *e) {
    (void)ctx; (void)dir;
    return err_set(e, "disk full");
}

static void save_simple(const char *out, int64_t step, int limit) {
    float v[2] = { (float)step, 1 };
    CheckpointPart parts[1] = { { "LoRA weights", write_lora, v } };
    TrainingState ts = { .global_step = step, .epoch = 1 };
    Err e;
    if (checkpoint_save(out, &ts, parts, 1, limit, NULL, &e)) fail_msg("%s", e.msg);
}

static int64_t lora_step(const char *dir) {
    StFile f; Err e;
    char *p = path_join(dir, CKPT_LORA_FILE);
    if (st_open(&f, p, &e)) fail_msg("%s", e.msg);
    float v = ((const float *)st_find(&f, "transformer.x.lora_A.weight")->data)[0];
    st_close(&f); free(p);
    return (int64_t)v;
}

static void test_save_contents_and_load(void **st) {
    (void)st;
    char *out = tmpdir_make();
    char *od = path_join(out, "run"); /* created by the save */
    float w[3] = { 1, 2, 3 }, g[3] = { 0.1f, -0.2f, 0.3f }, lora[2] = { 7, 8 };
    TrainParam p = {"lora.A", w, g, 3, 0, {0, 0}};
    OptimConfig c; OptimUserKeys k; optim_user_keys_init(&k); k.optimizer = "torch-adamw"; k.learning_rate = 1e-2;
    Err e;
    assert_int_equal(optim_config_resolve(&k, &c, &e), 0);
    Optimizer o; assert_int_equal(optim_init(&o, &c, &p, 1, 1, &e), 0);
    optim_step(&o, 1e-2);
    EmaConfig ec; ema_config_init(&ec);
    Ema m; assert_int_equal(ema_init(&m, &ec, &p, 1, &e), 0);
    ema_step(&m, 1);
    Rng rng; rng_seed(&rng, 42);
    CheckpointBlob blob = { "rng", &rng, sizeof rng };
    CheckpointPart parts[4] = { { "LoRA weights", write_lora, lora }, checkpoint_part_optimizer(&o),
                                checkpoint_part_ema(&m), checkpoint_part_blob(&blob) };
    char *ex[2] = { "edits", "refs" }, *ids[1] = { "edits" };
    int64_t counts[1] = { 2 };
    TrainingState ts = { .global_step = 1, .epoch_step = 1, .epoch = 3, .n_exhausted = 2, .exhausted_backends = ex,
                         .n_repeats = 1, .repeat_ids = ids, .repeat_counts = counts };
    char *dir;
    assert_int_equal(checkpoint_save(od, &ts, parts, 4, 5, &dir, &e), 0);
    char *want = xasprintf("%s/checkpoint-1", od);
    assert_string_equal(dir, want);
    assert_true(exists(dir, CKPT_LORA_FILE) && exists(dir, CKPT_OPTIMIZER_FILE) && exists(dir, CKPT_EMA_FILE));
    assert_true(exists(dir, "rng.bin") && exists(dir, CKPT_STATE_FILE));
    size_t len;
    free(want);
    char *json = file_read_all(want = path_join(dir, CKPT_STATE_FILE), &len, &e);
    assert_string_equal(json, "{\"global_step\":1,\"epoch_step\":1,\"epoch\":3,\"exhausted_backends\":[\"edits\",\"refs\"],\"repeats\":{\"edits\":2}}");
    free(json); free(want);
    TrainingState back;
    assert_int_equal(training_state_read(dir, &back, &e), 0);
    assert_true(back.global_step == 1 && back.epoch_step == 1 && back.epoch == 3);
    assert_int_equal(back.n_exhausted, 2);
    assert_string_equal(back.exhausted_backends[1], "refs");
    assert_string_equal(back.repeat_ids[0], "edits");
    assert_true(back.repeat_counts[0] == 2);
    training_state_free(&back);
    /* parts load back */
    Optimizer o2; assert_int_equal(optim_init(&o2, &c, &p, 1, 9, &e), 0);
    assert_int_equal(checkpoint_load_optimizer(dir, &o2, &e), 0);
    assert_memory_equal(o.m[0], o2.m[0], sizeof w);
    assert_true(o2.step == 1);
    Ema m2; w[0] = 100; assert_int_equal(ema_init(&m2, &ec, &p, 1, &e), 0);
    assert_int_equal(checkpoint_load_ema(dir, &m2, &e), 0);
    assert_memory_equal(m.shadow[0], m2.shadow[0], sizeof w);
    Rng *r2 = checkpoint_read_blob(dir, "rng", &len, &e);
    assert_non_null(r2);
    assert_int_equal(len, sizeof rng);
    assert_memory_equal(r2, &rng, sizeof rng);
    free(r2);
    assert_null(checkpoint_read_blob(dir, "sampler", &len, &e));
    assert_contains(e.msg, "sampler.bin");
    optim_free(&o); optim_free(&o2); ema_free(&m); ema_free(&m2);
    free(dir); free(od); tmpdir_remove(out);
}

static void test_rotation(void **st) {
    (void)st;
    char *out = tmpdir_make();
    save_simple(out, 10, 2); save_simple(out, 20, 2); save_simple(out, 30, 2);
    assert_false(exists(out, "checkpoint-10"));
    assert_true(exists(out, "checkpoint-20") && exists(out, "checkpoint-30"));
    /* a resumed run writing a lower step keeps its new checkpoint and drops the oldest other */
    save_simple(out, 25, 2);
    assert_false(exists(out, "checkpoint-20"));
    assert_true(exists(out, "checkpoint-25") && exists(out, "checkpoint-30"));
    char cmd[600];   /* rotation moves a checkpoint to a trash name before deleting: none is left over */
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q '\\.del\\.'", out);
    assert_int_not_equal(system(cmd), 0);
    save_simple(out, 40, 0); /* 0: no limit */
    int64_t *steps; Err e;
    assert_int_equal(checkpoint_list(out, &steps, &e), 3);
    assert_true(steps[0] == 25 && steps[1] == 30 && steps[2] == 40);
    free(steps);
    tmpdir_remove(out);
}

static void test_resave_same_step(void **st) {
    (void)st;
    char *out = tmpdir_make();
    save_simple(out, 10, 5);
    char *dir = path_join(out, "checkpoint-10");
    assert_true(lora_step(dir) == 10);
    free(dir);
    float v[2] = { 99, 0 };
    CheckpointPart parts[1] = { { "LoRA weights", write_lora, v } };
    TrainingState ts = { .global_step = 10, .epoch = 1 };
    Err e;
    assert_int_equal(checkpoint_save(out, &ts, parts, 1, 5, NULL, &e), 0);
    dir = path_join(out, "checkpoint-10");
    assert_true(lora_step(dir) == 99);
    int64_t *steps;
    assert_int_equal(checkpoint_list(out, &steps, &e), 1);
    free(steps); free(dir);
    tmpdir_remove(out);
}

static void test_failed_part_leaves_nothing(void **st) {
    (void)st;
    char *out = tmpdir_make();
    save_simple(out, 10, 5);
    CheckpointPart parts[1] = { { "LoRA weights", write_fails, NULL } };
    TrainingState ts = { .global_step = 20, .epoch = 1 };
    Err e;
    assert_int_equal(checkpoint_save(out, &ts, parts, 1, 1, NULL, &e), -1);
    assert_contains(e.msg, "checkpoint LoRA weights: disk full");
    assert_false(exists(out, "checkpoint-20"));
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q tmp", out);
    assert_int_not_equal(system(cmd), 0);  /* no temp dir left */
    assert_true(exists(out, "checkpoint-10")); /* rotation did not run */
    tmpdir_remove(out);
}

static void test_leftovers_and_resolve(void **st) {
    (void)st;
    char *out = tmpdir_make();
    char *dir; Err e;
    char *missing = path_join(out, "nothing-here");
    assert_int_equal(checkpoint_resolve(missing, "latest", &dir, &e), 0);
    assert_null(dir);
    free(missing);
    save_simple(out, 20, 5);
    /* a crash mid-save of step 30: the temp dir has a half file and no training_state.json */
    char *tmp = path_join(out, "checkpoint-30.tmp.12345");
    Err ignore;
    assert_int_equal(dir_make(tmp, &ignore), 0);
    char *half = path_join(tmp, CKPT_LORA_FILE);
    write_text(half, "half");
    /* a crash while replacing step 40: only the moved-aside old copy exists */
    save_simple(out, 40, 5);
    char *c40 = path_join(out, "checkpoint-40"), *old40 = path_join(out, "checkpoint-40.old.777");
    assert_int_equal(rename(c40, old40), 0);
    /* and a directory without training_state.json is not offered */
    char *c50 = path_join(out, "checkpoint-50");
    assert_int_equal(dir_make(c50, &ignore), 0);
    assert_int_equal(checkpoint_resolve(out, "latest", &dir, &e), 0);
    assert_string_equal(dir, c40);          /* restored, and 50 skipped */
    assert_false(exists(out, "checkpoint-30.tmp.12345"));
    assert_false(exists(out, "checkpoint-40.old.777"));
    assert_true(lora_step(dir) == 40);
    free(dir);
    assert_int_equal(checkpoint_resolve(out, NULL, &dir, &e), 0);
    assert_null(dir);
    assert_int_equal(checkpoint_resolve(out, "checkpoint-20", &dir, &e), 0);
    char *c20 = path_join(out, "checkpoint-20");
    assert_string_equal(dir, c20);
    free(dir);
    assert_int_equal(checkpoint_resolve(out, c20, &dir, &e), 0); /* absolute path */
    assert_string_equal(dir, c20);
    free(dir);
    assert_int_equal(checkpoint_resolve(out, "checkpoint-99", &dir, &e), -1);
    assert_int_equal(e.code, EXIT_USAGE);
    assert_contains(e.msg, "checkpoint-99 is not a directory");
    assert_int_equal(checkpoint_resolve(out, "checkpoint-50", &dir, &e), -1);
    assert_contains(e.msg, "is not a complete checkpoint (no training_state.json)");
    free(tmp); free(half); free(c40); free(old40); free(c50); free(c20);
    tmpdir_remove(out);
}

/* A writer killed with SIGKILL in the middle of a save leaves the previous checkpoint usable. */
static int write_then_hang(void *ctx, const char *dir, Err *e) {
    int fd = *(int *)ctx;
    char *p = path_join(dir, CKPT_LORA_FILE);
    write_text(p, "partial");
    free(p);
    (void)e;
    if (write(fd, "x", 1) != 1) _exit(3);
    for (;;) pause();
}

static void test_killed_writer(void **st) {
    (void)st;
    char *out = tmpdir_make();
    save_simple(out, 10, 1);
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(pipefd[0]);
        CheckpointPart parts[1] = { { "LoRA weights", write_then_hang, &pipefd[1] } };
        TrainingState ts = { .global_step = 20, .epoch = 1 };
        Err e;
        checkpoint_save(out, &ts, parts, 1, 1, NULL, &e);
        _exit(2);
    }
    close(pipefd[1]);
    char c;
    assert_int_equal(read(pipefd[0], &c, 1), 1); /* the child is inside the save */
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status));
    close(pipefd[0]);
    char *dir; Err e;
    assert_int_equal(checkpoint_resolve(out, "latest", &dir, &e), 0);
    char *c10 = path_join(out, "checkpoint-10");
    assert_string_equal(dir, c10);
    assert_true(lora_step(dir) == 10);
    assert_false(exists(out, "checkpoint-20"));
    int64_t *steps;
    assert_int_equal(checkpoint_list(out, &steps, &e), 1); /* the temp dir was cleaned */
    free(steps); free(dir); free(c10);
    tmpdir_remove(out);
}

static void test_training_state_errors(void **st) {
    (void)st;
    char *out = tmpdir_make();
    char *p = path_join(out, CKPT_STATE_FILE);
    TrainingState ts; Err e;
    write_text(p, "{\"global_step\": 1.5}");
    assert_int_equal(training_state_read(out, &ts, &e), -1);
    assert_contains(e.msg, "'global_step' must be a whole number");
    write_text(p, "[1]");
    assert_int_equal(training_state_read(out, &ts, &e), -1);
    assert_contains(e.msg, "not a JSON object");
    static const char *const BAD[][2] = {
        {"{\"global_step\": -5}", "'global_step' must be a whole number >= 0, got -5"},
        {"{\"global_step\": 3, \"epoch\": -1}", "'epoch' must be a whole number >= 0, got -1"},
        {"{\"global_step\": 3, \"epoch_step\": -2}", "'epoch_step' must be a whole number >= 0"},
        {"{\"global_step\": 1e300}", "'global_step' must be a whole number >= 0"},
        {"{\"global_step\": 3, \"repeats\": {\"a\": -1}}", "repeats['a'] must be a count >= 0"},
        {"{\"global_step\": 3, ", "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++) {
        write_text(p, BAD[i][0]);
        assert_int_equal(training_state_read(out, &ts, &e), -1);
        assert_contains(e.msg, p);
        assert_contains(e.msg, BAD[i][1]);
    }
    /* in a folder checkpoint-<N>, global_step must be N */
    char *c12 = path_join(out, "checkpoint-12"), *p12 = path_join(c12, CKPT_STATE_FILE);
    assert_int_equal(dir_make(c12, &e), 0);
    write_text(p12, "{\"global_step\": 11}");
    assert_int_equal(training_state_read(c12, &ts, &e), -1);
    assert_contains(e.msg, "global_step 11 disagrees with its folder name (checkpoint-12)");
    write_text(p12, "{\"global_step\": 12}");
    assert_int_equal(training_state_read(c12, &ts, &e), 0);
    training_state_free(&ts);
    free(c12); free(p12);
    write_text(p, "{\"global_step\": 7}"); /* missing keys: SimpleTuner's defaults; another folder name: no check */
    assert_int_equal(training_state_read(out, &ts, &e), 0);
    assert_true(ts.global_step == 7 && ts.epoch_step == 0 && ts.epoch == 1 && ts.n_exhausted == 0);
    training_state_free(&ts);
    free(p);
    tmpdir_remove(out);
}

static long dead_pid(void) {
    pid_t p = fork();
    if (p == 0) _exit(0);
    int st;
    waitpid(p, &st, 0);
    return (long)p;
}

/* Leftovers of a killed process go (an unfinished save, a rotation that had begun deleting, a step
 * moved aside); those of a live run of this program (here: this process) are its work in progress. */
static void test_leftovers_only_of_dead_runs(void **st) {
    (void)st;
    char *out = tmpdir_make();
    save_simple(out, 10, 0);
    long dead = dead_pid(), me = (long)getpid();
    char *names[4] = {xasprintf("checkpoint-20.tmp.%ld", dead), xasprintf("checkpoint-5.del.%ld", dead),
                      xasprintf("checkpoint-30.tmp.%ld", me), xasprintf("checkpoint-6.del.%ld", me)};
    Err e;
    for (int i = 0; i < 4; i++) {
        char *p = path_join(out, names[i]), *f = path_join(p, CKPT_STATE_FILE);
        assert_int_equal(dir_make(p, &e), 0);
        write_text(f, "{}");   /* even a complete-looking one: its name says it is not */
        free(p); free(f);
    }
    int64_t *steps;
    assert_int_equal(checkpoint_list(out, &steps, &e), 1);
    assert_true(steps[0] == 10);
    free(steps);
    assert_false(exists(out, names[0]));
    assert_false(exists(out, names[1]));
    assert_true(exists(out, names[2]));
    assert_true(exists(out, names[3]));
    char *dir;
    assert_int_equal(checkpoint_resolve(out, "latest", &dir, &e), 0);
    char *c10 = path_join(out, "checkpoint-10");
    assert_string_equal(dir, c10);
    free(dir); free(c10);
    for (int i = 0; i < 4; i++) free(names[i]);
    tmpdir_remove(out);
}

/* A kill while rotation deletes an old checkpoint (SIMPLETUNER_CRASH_AT, base/crash_point.h): the old
 * one is never left half-deleted under its own name, and the next listing removes the rest. */
static void test_kill_during_rotation(void **st) {
    (void)st;
    static const char *const POINTS[] = {"rotate checkpoint-10", "checkpoint-10.del.", "checkpoint-30 rotate"};
    for (int k = 0; k < 3; k++) {
        char *out = tmpdir_make();
        save_simple(out, 10, 2); save_simple(out, 20, 2);
        pid_t pid = fork();
        if (pid == 0) {
            setenv("SIMPLETUNER_CRASH_AT", POINTS[k], 1);
            float v[2] = {30, 1};
            CheckpointPart parts[2] = {{"LoRA weights", write_lora, v}, {"optimizer", write_lora_as_optimizer, v}};
            TrainingState ts = {.global_step = 30, .epoch = 1};
            Err e;
            checkpoint_save(out, &ts, parts, 2, 2, NULL, &e);
            _exit(2);
        }
        int status;
        waitpid(pid, &status, 0);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) fail_msg("%s: the crash point was not reached", POINTS[k]);
        /* what resume sees: only complete checkpoints under their normal names */
        assert_true(exists(out, "checkpoint-30") && exists(out, "checkpoint-20"));
        if (exists(out, "checkpoint-10")) {
            assert_int_equal(k, 2);   /* killed before rotation began: 10 is whole */
            char *c10 = path_join(out, "checkpoint-10");
            assert_true(lora_step(c10) == 10);
            free(c10);
        }
        int64_t *steps; Err e;
        int n = checkpoint_list(out, &steps, &e);
        assert_int_equal(n, k == 2 ? 3 : 2);
        free(steps);
        char cmd[600];
        snprintf(cmd, sizeof cmd, "ls '%s' | grep -q '\\.del\\.'", out);
        assert_int_not_equal(system(cmd), 0);   /* the trash went with the listing */
        tmpdir_remove(out);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_save_contents_and_load), cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_resave_same_step), cmocka_unit_test(test_failed_part_leaves_nothing),
        cmocka_unit_test(test_leftovers_and_resolve), cmocka_unit_test(test_killed_writer),
        cmocka_unit_test(test_training_state_errors), cmocka_unit_test(test_leftovers_only_of_dead_runs),
        cmocka_unit_test(test_kill_during_rotation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
