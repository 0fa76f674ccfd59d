/* The training loop on a small linear denoiser: loss falls, gradient accumulation of k micro-batches
 * equals one batch of k, a resumed run reproduces the uninterrupted one bit for bit, and the final
 * weights and logs land in output_dir. */
#include "test_util.h"
#include <math.h>
#include <cjson/cJSON.h>
#include <signal.h>
#include <sys/wait.h>
#include "base/files.h"
#include "base/temp_files.h"
#include "train/checkpoint.h"
#include "train/loss_plot.h"
#include "train/train_log.h"
#include "train/trainer.h"

/* pred[t, :] = (W · x[t, :] + R · ref[t, :]) / σ + b over the C packed features of each target token:
 * v = ε − x0 = (x_σ − x0)/σ, so W = I, R = −I is exact when the reference is the target. */
enum { LAT_C = 4, LAT_H = 4, LAT_W = 4, C = LAT_C * 4, NTOK = (LAT_H / 2) * (LAT_W / 2), NSAMPLES = 4 };
typedef struct Toy {
    float W[C * C], R[C * C], b[C];
    float gW[C * C], gR[C * C], gb[C];
    float x[NTOK * C], ref[NTOK * C], inv_sigma;
    TrainParam params[3];
    int backward_calls, poison_call;   /* poison_call > 0: that backward call (1-based) puts poison into a gradient */
    float poison;
} Toy;

static int toy_forward(void *self, const DenoiseInput *in, float *pred, Err *e) {
    Toy *t = self;
    (void)e;
    int nt = in->grid_h[0] * in->grid_w[0];
    assert_int_equal(nt, NTOK);
    assert_int_equal(in->n_img, 2);
    memcpy(t->x, in->tokens, sizeof t->x);
    assert_int_equal(in->grid_h[1] * in->grid_w[1], NTOK);
    memcpy(t->ref, in->tokens + NTOK * C, sizeof t->ref);
    t->inv_sigma = 1.0f / fmaxf(in->sigma, 0.05f);
    for (int i = 0; i < NTOK; i++)
        for (int o = 0; o < C; o++) {
            float acc = 0;
            for (int k = 0; k < C; k++) acc += t->W[o * C + k] * t->x[i * C + k] + t->R[o * C + k] * t->ref[i * C + k];
            pred[i * C + o] = acc * t->inv_sigma + t->b[o];
        }
    return 0;
}

static int toy_backward(void *self, const float *dpred, Err *e) {
    Toy *t = self;
    (void)e;
    for (int i = 0; i < NTOK; i++)
        for (int o = 0; o < C; o++) {
            float d = dpred[i * C + o], ds = d * t->inv_sigma;
            t->gb[o] += d;
            for (int k = 0; k < C; k++) { t->gW[o * C + k] += ds * t->x[i * C + k]; t->gR[o * C + k] += ds * t->ref[i * C + k]; }
        }
    if (++t->backward_calls == t->poison_call) t->gW[3] = t->poison;
    return 0;
}

static int toy_save(void *self, const char *path, Err *e) {
    Toy *t = self;
    StWriter w; stw_init(&w);
    int64_t s2[2] = {C, C}, s1 = C;
    stw_add_f32(&w, "toy.W", 2, s2, t->W);
    stw_add_f32(&w, "toy.R", 2, s2, t->R);
    stw_add_f32(&w, "toy.b", 1, &s1, t->b);
    int rc = stw_write(&w, path, e);
    stw_free(&w);
    return rc;
}

static void toy_init(Toy *t, Denoiser *d) {
    memset(t, 0, sizeof *t);
    Rng r; rng_seed(&r, 5);
    rng_fill_normal(&r, t->W, C * C, 0, 0.05f);
    t->params[0] = (TrainParam){"toy.W", t->W, t->gW, C * C, 0, {0, 0}};
    t->params[1] = (TrainParam){"toy.R", t->R, t->gR, C * C, 0, {0, 0}};
    t->params[2] = (TrainParam){"toy.b", t->b, t->gb, C, 0, {0, 0}};
    *d = (Denoiser){t, toy_forward, toy_backward, toy_save, t->params, 3};
}

/* A fixed set of samples served round-robin. */
typedef struct Fixture {
    float x0[NSAMPLES][LAT_C * LAT_H * LAT_W], ref[NSAMPLES][LAT_C * LAT_H * LAT_W], txt[8 * 6];
    const float *mask;           /* [LAT_H, LAT_W] loss weights given to every sample, or NULL */
    int64_t pos;
} Fixture;

static int fx_next(void *self, TrainSample *out, int cap, int *n, Err *e) {
    Fixture *f = self;
    (void)e;
    for (int i = 0; i < cap; i++) {
        int k = (int)(f->pos++ % NSAMPLES);
        out[i] = (TrainSample){LAT_C, LAT_H, LAT_W, f->x0[k], 1, {LAT_H}, {LAT_W}, {f->ref[k]}, 8, 6, f->txt, 0.0, f->mask};
    }
    *n = cap;
    return 0;
}
static char *fx_save(void *self) { return xasprintf("%lld", (long long)((Fixture *)self)->pos); }
static int fx_load(void *self, const char *s, Err *e) { (void)e; ((Fixture *)self)->pos = atoll(s); return 0; }
static int64_t fx_epoch(void *self) { return 1 + ((Fixture *)self)->pos / NSAMPLES; }

static void fixture_init(Fixture *f, SampleSource *s) {
    memset(f, 0, sizeof *f);
    Rng r; rng_seed(&r, 11);
    for (int k = 0; k < NSAMPLES; k++) {
        rng_fill_normal(&r, f->x0[k], LAT_C * LAT_H * LAT_W, 0.5f, 0.8f);
        /* the reference carries the target: the model can learn x0 from it */
        for (int i = 0; i < LAT_C * LAT_H * LAT_W; i++) f->ref[k][i] = f->x0[k][i];
    }
    *s = (SampleSource){f, fx_next, fx_save, fx_load, fx_epoch};
}

static void config_init(TrainerConfig *c, const char *dir, int64_t steps) {
    memset(c, 0, sizeof *c);
    c->output_dir = dir;
    c->max_train_steps = steps;
    c->train_batch_size = 1;
    c->gradient_accumulation_steps = 1;
    c->max_grad_norm = 1.0;
    c->clip_method = GRAD_CLIP_NORM;
    c->seed = 42;

    flow_config_init(&c->flow);
    c->flow.shift = 1.0;
    OptimUserKeys k; optim_user_keys_init(&k);
    k.optimizer = "torch-adamw"; k.learning_rate = 3e-2;
    Err e = {0};
    assert_int_equal(optim_config_resolve(&k, &c->optim, &e), 0);
    LrScheduleKeys lk; lr_schedule_keys_init(&lk);
    lk.lr_scheduler = "constant"; lk.learning_rate = 3e-2; lk.max_train_steps = steps;
    assert_int_equal(lr_schedule_init(&c->lr, &lk, &e), 0);
}

/* The losses logged in output_dir/training_log.jsonl, in order. */
static int read_losses(const char *dir, double *loss, int cap) {
    char *p = path_join(dir, "training_log.jsonl");
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    char line[512]; int n = 0;
    while (n < cap && fgets(line, sizeof line, f)) {
        char *q = strstr(line, "\"loss\": ");
        assert_non_null(q);
        loss[n++] = strtod(q + 8, NULL);
    }
    fclose(f); free(p);
    return n;
}

static void test_loss_falls(void **state) {
    (void)state;
    char *d = tmpdir_make();
    Toy toy; Denoiser m; toy_init(&toy, &m);
    Fixture fx; SampleSource src; fixture_init(&fx, &src);
    TrainerConfig c; config_init(&c, d, 200);
    TrainResult r; Err e = {0};
    assert_int_equal(trainer_run(&c, &m, &src, NULL, &r, &e), 0);
    double loss[200];
    assert_int_equal(read_losses(d, loss, 200), 200);
    double first = 0, last = 0;
    for (int i = 0; i < 20; i++) { first += loss[i] / 20; last += loss[180 + i] / 20; }
    assert_true(last < 0.5 * first);
    assert_true(file_exists(r.final_weights));
    char *ck = path_join(d, "checkpoint-200/trainable_parameters.safetensors");
    assert_true(file_exists(ck));
    free(ck);
    train_result_free(&r);
    tmpdir_remove(d);
}

static void test_accumulation_equals_batch(void **state) {
    (void)state;
    float Wa[C * C], Wb[C * C];
    for (int mode = 0; mode < 2; mode++) {
        char *d = tmpdir_make();
        Toy toy; Denoiser m; toy_init(&toy, &m);
        Fixture fx; SampleSource src; fixture_init(&fx, &src);
        TrainerConfig c; config_init(&c, d, 5);
        if (mode == 0) c.train_batch_size = 2; else c.gradient_accumulation_steps = 2;
        TrainResult r; Err e = {0};
        assert_int_equal(trainer_run(&c, &m, &src, NULL, &r, &e), 0);
        memcpy(mode == 0 ? Wa : Wb, toy.W, sizeof Wa);
        train_result_free(&r);
        tmpdir_remove(d);
    }
    for (int i = 0; i < C * C; i++) assert_true(fabsf(Wa[i] - Wb[i]) <= 1e-6f * (1 + fabsf(Wa[i])));
}

/* A mask dataset's weights multiply the per-cell loss: all ones is the unmasked run bit for bit,
 * one half everywhere halves the first step's loss (same σ and noise), zeros give no loss and no
 * gradient; masked_loss_probability 0 never applies the mask. */
static double first_loss_with(const float *mask, double prob, int64_t steps, double *losses) {
    char *d = tmpdir_make();
    Toy toy; Denoiser m; toy_init(&toy, &m);
    Fixture fx; SampleSource src; fixture_init(&fx, &src);
    fx.mask = mask;
    TrainerConfig c; config_init(&c, d, steps);
    c.flow.masked_loss_probability = prob;
    TrainResult r; Err e = {0};
    assert_int_equal(trainer_run(&c, &m, &src, NULL, &r, &e), 0);
    assert_int_equal(read_losses(d, losses, (int)steps), (int)steps);
    train_result_free(&r);
    tmpdir_remove(d);
    return losses[0];
}

static void test_mask_weights_loss(void **state) {
    (void)state;
    float ones[LAT_H * LAT_W], half[LAT_H * LAT_W], zeros[LAT_H * LAT_W] = {0};
    for (int i = 0; i < LAT_H * LAT_W; i++) { ones[i] = 1.0f; half[i] = 0.5f; }
    double plain[10], lo[10], lh[10], lz[10], lp[10];
    first_loss_with(NULL, 1.0, 10, plain);
    first_loss_with(ones, 1.0, 10, lo);
    for (int i = 0; i < 10; i++) assert_true(lo[i] == plain[i]);
    first_loss_with(half, 1.0, 10, lh);
    assert_true(fabs(lh[0] - 0.5 * plain[0]) <= 1e-6 * plain[0]);
    first_loss_with(zeros, 1.0, 10, lz);
    for (int i = 0; i < 10; i++) assert_true(lz[i] == 0.0);
    first_loss_with(zeros, 0.0, 10, lp);
    for (int i = 0; i < 10; i++) assert_true(lp[i] == plain[i]);
}

static void test_resume_bit_identical(void **state) {
    (void)state;
    double full[8], resumed[8];
    char *d1 = tmpdir_make(), *d2 = tmpdir_make();
    {
        Toy toy; Denoiser m; toy_init(&toy, &m);
        Fixture fx; SampleSource src; fixture_init(&fx, &src);
        TrainerConfig c; config_init(&c, d1, 8);
        c.use_ema = 1; ema_config_init(&c.ema);
        TrainResult r; Err e = {0};
        assert_int_equal(trainer_run(&c, &m, &src, NULL, &r, &e), 0);
        train_result_free(&r);
        assert_int_equal(read_losses(d1, full, 8), 8);
    }
    for (int phase = 0; phase < 2; phase++) {
        Toy toy; Denoiser m; toy_init(&toy, &m);  /* fresh process state each phase */
        Fixture fx; SampleSource src; fixture_init(&fx, &src);
        TrainerConfig c; config_init(&c, d2, phase == 0 ? 3 : 8);
        c.lr.total_steps = 8;
        c.use_ema = 1; ema_config_init(&c.ema);
        c.checkpoint_every = 3;
        c.resume_from = phase == 0 ? NULL : "latest";
        TrainResult r; Err e = {0};
        assert_int_equal(trainer_run(&c, &m, &src, NULL, &r, &e), 0);
        if (phase == 1) assert_int_equal(r.resumed_from, 3);
        train_result_free(&r);
    }
    assert_int_equal(read_losses(d2, resumed, 8), 8);
    for (int i = 0; i < 8; i++) assert_true(full[i] == resumed[i]);
    tmpdir_remove(d1); tmpdir_remove(d2);
}

static void test_errors(void **state) {
    (void)state;
    char *d = tmpdir_make();
    Toy toy; Denoiser m; toy_init(&toy, &m);
    Fixture fx; SampleSource src; fixture_init(&fx, &src);
    TrainerConfig c; config_init(&c, d, 0);
    TrainResult r; Err e = {0};
    assert_int_not_equal(trainer_run(&c, &m, &src, NULL, &r, &e), 0);
    assert_contains(e.msg, "max_train_steps must be at least 1");
    config_init(&c, d, 2);
    c.resume_from = "/nonexistent/checkpoint-7";
    assert_int_not_equal(trainer_run(&c, &m, &src, NULL, &r, &e), 0);
    assert_contains(e.msg, "checkpoint-7");
    tmpdir_remove(d);
}

/* Text of output_dir/name (malloc'd; "" when absent). */
static char *slurp(const char *dir, const char *name) {
    char *p = path_join(dir, name);
    Err e;
    char *t = file_exists(p) ? file_read_all(p, NULL, &e) : strdup("");
    free(p);
    assert_non_null(t);
    return t;
}

/* One run of the toy (fresh process state) into dir; returns trainer_run's code, e filled. */
static int toy_run(const char *dir, int64_t steps, int64_t total, int64_t every, const char *resume, int poison_call, float poison,
                   TrainResult *r, Err *e) {
    Toy toy; Denoiser m; toy_init(&toy, &m);
    toy.poison_call = poison_call; toy.poison = poison;
    Fixture fx; SampleSource src; fixture_init(&fx, &src);
    TrainerConfig c; config_init(&c, dir, steps);
    c.lr.total_steps = total;
    c.checkpoint_every = every;
    c.resume_from = resume;
    c.use_ema = 1; ema_config_init(&c.ema);
    return trainer_run(&c, &m, &src, NULL, r, e);
}

/* Every line of the JSONL log is a JSON object whose numbers are numbers; returns the line count. */
static int jsonl_valid_lines(const char *dir) {
    char *t = slurp(dir, TRAIN_LOG_JSONL);
    int n = 0;
    for (char *s = t, *nl; *s; s = nl + 1) {
        nl = strchr(s, '\n');
        assert_non_null(nl);
        *nl = 0;
        cJSON *j = cJSON_Parse(s);
        if (!j) fail_msg("invalid JSON line %d: %s", n + 1, s);
        static const char *const KEYS[] = {"step", "epoch", "loss", "lr", "grad_norm", "sigma_mean"};
        for (int k = 0; k < 6; k++) assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, KEYS[k])));
        assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(j, "step")->valuedouble, n + 1);
        cJSON_Delete(j);
        n++;
    }
    free(t);
    return n;
}

/* A NaN or infinite gradient norm stops the run before its optimizer step: an error naming the step,
 * no checkpoint of it, and logs that stay valid JSON with the steps before it (the plot still draws). */
static void test_nonfinite_gradient_stops(void **state) {
    (void)state;
    const float poisons[2] = {NAN, INFINITY};
    for (int k = 0; k < 2; k++) {
        char *d = tmpdir_make();
        TrainResult r; Err e = {0};
        assert_int_equal(toy_run(d, 6, 6, 1, NULL, 3, poisons[k], &r, &e), -1);
        assert_int_equal(e.code, EXIT_RUNTIME);
        assert_contains(e.msg, k ? "step 3: the gradient norm is inf" : "step 3: the gradient norm is nan");
        assert_contains(e.msg, "stopped before the optimizer step");
        char *c2 = path_join(d, "checkpoint-2"), *c3 = path_join(d, "checkpoint-3");
        assert_true(dir_exists(c2));
        assert_false(dir_exists(c3));
        assert_int_equal(jsonl_valid_lines(d), 2);
        char *csv = slurp(d, TRAIN_LOG_CSV);
        assert_null(strstr(csv, "nan")); assert_null(strstr(csv, "inf"));
        free(csv);
        char *jl = path_join(d, TRAIN_LOG_JSONL), *png = path_join(d, "plot.png");
        assert_int_equal(loss_plot_write(jl, png, &e), 0);
        /* resuming picks up from step 2 (the poison is gone) and logs each step once */
        train_result_free(&r);
        assert_int_equal(toy_run(d, 6, 6, 1, "latest", 0, 0, &r, &e), 0);
        assert_int_equal(r.resumed_from, 2);
        assert_int_equal(jsonl_valid_lines(d), 6);
        train_result_free(&r);
        free(c2); free(c3); free(jl); free(png);
        tmpdir_remove(d);
    }
}

/* A log line is never written with a bare nan/inf: null in JSON, an empty CSV field. */
static void test_log_writes_null(void **state) {
    (void)state;
    char *d = tmpdir_make();
    TrainLog l; Err e;
    assert_int_equal(train_log_open(&l, d, 0, &e), 0);
    TrainLogEntry en = {1, 1, NAN, 1e-3, INFINITY, 0.5};
    assert_int_equal(train_log_step(&l, &en, &e), 0);
    train_log_close(&l);
    char *jl = slurp(d, TRAIN_LOG_JSONL), *csv = slurp(d, TRAIN_LOG_CSV);
    assert_string_equal(jl, "{\"step\": 1, \"epoch\": 1, \"loss\": null, \"lr\": 0.001, \"grad_norm\": null, \"sigma_mean\": 0.5}\n");
    assert_string_equal(csv, TRAIN_LOG_CSV_HEADER "1,1,,0.001,,0.5\n");
    free(jl); free(csv);
    tmpdir_remove(d);
}

/* A run killed between checkpoints logged steps its resume trains again: the logs are cut back to
 * the checkpoint (torn last lines too), so after the resume each step is there once and the files
 * equal an uninterrupted run's byte for byte. */
static void test_logs_cut_on_resume(void **state) {
    (void)state;
    char *d1 = tmpdir_make(), *d2 = tmpdir_make();
    TrainResult r; Err e = {0};
    assert_int_equal(toy_run(d1, 8, 8, 3, NULL, 0, 0, &r, &e), 0);
    train_result_free(&r);
    assert_int_equal(toy_run(d2, 8, 8, 3, NULL, 0, 0, &r, &e), 0);
    train_result_free(&r);
    /* as if killed after logging step 8 but before checkpoint 8 was renamed, mid-line */
    char *c8 = path_join(d2, "checkpoint-8"), *cmd = xasprintf("rm -rf '%s'", c8);
    assert_int_equal(system(cmd), 0);
    char *jp = path_join(d2, TRAIN_LOG_JSONL), *cp = path_join(d2, TRAIN_LOG_CSV);
    FILE *f = fopen(jp, "a"); fputs("{\"step\": 9, \"epo", f); fclose(f);
    f = fopen(cp, "a"); fputs("9,1,0.5", f); fclose(f);
    assert_int_equal(toy_run(d2, 8, 8, 3, "latest", 0, 0, &r, &e), 0);
    assert_int_equal(r.resumed_from, 6);
    train_result_free(&r);
    const char *names[2] = {TRAIN_LOG_JSONL, TRAIN_LOG_CSV};
    for (int k = 0; k < 2; k++) {
        char *a = slurp(d1, names[k]), *b = slurp(d2, names[k]);
        assert_string_equal(a, b);
        free(a); free(b);
    }
    assert_int_equal(jsonl_valid_lines(d2), 8);
    /* a fresh start (no checkpoint) in a folder with logs starts them afresh */
    cmd = (free(cmd), xasprintf("rm -rf '%s'/checkpoint-*", d2));
    assert_int_equal(system(cmd), 0);
    assert_int_equal(toy_run(d2, 8, 8, 3, "latest", 0, 0, &r, &e), 0);
    assert_int_equal(r.resumed_from, -1);
    train_result_free(&r);
    for (int k = 0; k < 2; k++) {
        char *a = slurp(d1, names[k]), *b = slurp(d2, names[k]);
        assert_string_equal(a, b);
        free(a); free(b);
    }
    free(c8); free(cmd); free(jp); free(cp);
    tmpdir_remove(d1); tmpdir_remove(d2);
}

/* The cut on its own: header kept, torn and later lines dropped, the count reported. */
static void test_log_cut_lines(void **state) {
    (void)state;
    char *d = tmpdir_make();
    char *p = path_join(d, "log.csv");
    write_text(p, TRAIN_LOG_CSV_HEADER "1,1,0.5,0.1,0.2,0.3\n2,1,0.5,0.1,0.2,0.3\n3,1,0.5,0.1,0.2,0.3\n4,1,0.5");
    int dropped; Err e;
    assert_int_equal(train_log_cut(p, 1, 2, &dropped, &e), 0);
    assert_int_equal(dropped, 2);
    char *t = file_read_all(p, NULL, &e);
    assert_string_equal(t, TRAIN_LOG_CSV_HEADER "1,1,0.5,0.1,0.2,0.3\n2,1,0.5,0.1,0.2,0.3\n");
    free(t);
    assert_int_equal(train_log_cut(p, 1, 2, &dropped, &e), 0);   /* nothing to do: untouched */
    assert_int_equal(dropped, 0);
    write_text(p, "{\"step\": 1}\n{\"step\": 2}\nnot json\n{\"step\": 3}\n{\"step\": 2");
    assert_int_equal(train_log_cut(p, 0, 2, &dropped, &e), 0);
    assert_int_equal(dropped, 3);
    t = file_read_all(p, NULL, &e);
    assert_string_equal(t, "{\"step\": 1}\n{\"step\": 2}\n");
    free(t);
    char *absent = path_join(d, "none.jsonl");
    assert_int_equal(train_log_cut(absent, 0, 5, &dropped, &e), 0);
    assert_false(file_exists(absent));
    free(absent); free(p);
    tmpdir_remove(d);
}

static void damage(const char *ckpt, int how) {
    char *p = NULL;
    switch (how) {
    case 0: p = path_join(ckpt, CKPT_OPTIMIZER_FILE); assert_int_equal(unlink(p), 0); break;           /* file missing */
    case 1: p = path_join(ckpt, "trainable_parameters.safetensors"); assert_int_equal(truncate(p, 100), 0); break;
    case 2: p = path_join(ckpt, CKPT_STATE_FILE); write_text(p, "{\"global_step\": 6, "); break;      /* bad JSON */
    case 3: p = path_join(ckpt, CKPT_STATE_FILE); write_text(p, "{\"global_step\": 5}"); break;       /* wrong step */
    case 4: p = path_join(ckpt, CKPT_STATE_FILE); write_text(p, "{\"global_step\": -6}"); break;
    case 5: p = path_join(ckpt, CKPT_STATE_FILE); write_text(p, "{\"global_step\": 6, \"epoch\": -1}"); break;
    case 6: p = path_join(ckpt, "rng_state.bin"); write_text(p, "short"); break;                     /* wrong size */
    case 7: { /* the exported LoRA from another step: a valid file that is not this checkpoint's */
        char *cmd = xasprintf("cp '%s/../checkpoint-4/%s' '%s/%s'", ckpt, CKPT_LORA_FILE, ckpt, CKPT_LORA_FILE);
        assert_int_equal(system(cmd), 0);
        free(cmd);
        break;
    }
    case 8: p = path_join(ckpt, CKPT_LORA_FILE); write_text(p, "garbage"); break;
    case 9: p = path_join(ckpt, CKPT_EMA_FILE); assert_int_equal(unlink(p), 0); break;
    }
    free(p);
}

/* resume_from_checkpoint=latest with a damaged newest checkpoint resumes from the one before, and
 * ends bit for bit where an uninterrupted run ends; a named damaged checkpoint is an error. */
static void test_damaged_latest_falls_back(void **state) {
    (void)state;
    char *ref = tmpdir_make();
    TrainResult r; Err e = {0};
    assert_int_equal(toy_run(ref, 8, 8, 2, NULL, 0, 0, &r, &e), 0);
    train_result_free(&r);
    char *want = slurp(ref, CKPT_LORA_FILE), *want_log = slurp(ref, TRAIN_LOG_JSONL);
    for (int how = 0; how < 10; how++) {
        char *d = tmpdir_make();
        assert_int_equal(toy_run(d, 6, 8, 2, NULL, 0, 0, &r, &e), 0);
        train_result_free(&r);
        char *c6 = path_join(d, "checkpoint-6");
        damage(c6, how);
        assert_int_equal(toy_run(d, 8, 8, 2, "checkpoint-6", 0, 0, &r, &e), -1);
        assert_contains(e.msg, "checkpoint-6");
        assert_int_equal(toy_run(d, 8, 8, 2, "latest", 0, 0, &r, &e), 0);
        if (r.resumed_from != 4) fail_msg("damage %d: resumed from %lld", how, (long long)r.resumed_from);
        train_result_free(&r);
        char *got = slurp(d, CKPT_LORA_FILE), *got_log = slurp(d, TRAIN_LOG_JSONL);
        assert_memory_equal(got, want, strlen(want) + 1 > 64 ? 64 : strlen(want) + 1);
        char *a = path_join(ref, CKPT_LORA_FILE), *b = path_join(d, CKPT_LORA_FILE);
        char *cmd = xasprintf("cmp -s '%s' '%s'", a, b);
        if (system(cmd) != 0) fail_msg("damage %d: final weights differ from the uninterrupted run's", how);
        assert_string_equal(got_log, want_log);
        free(cmd); free(a); free(b); free(got); free(got_log); free(c6);
        tmpdir_remove(d);
    }
    /* every checkpoint damaged: an error, not a silent fresh start */
    char *d = tmpdir_make();
    assert_int_equal(toy_run(d, 4, 8, 2, NULL, 0, 0, &r, &e), 0);
    train_result_free(&r);
    char *c2 = path_join(d, "checkpoint-2"), *c4 = path_join(d, "checkpoint-4");
    damage(c2, 2); damage(c4, 2);
    assert_int_equal(toy_run(d, 8, 8, 2, "latest", 0, 0, &r, &e), -1);
    assert_contains(e.msg, "no checkpoint in");
    assert_contains(e.msg, "can be resumed");
    free(c2); free(c4); free(want); free(want_log);
    tmpdir_remove(d); tmpdir_remove(ref);
}

/* A pid that is certainly not running: a child that has exited and been reaped. */
static long dead_pid(void) {
    pid_t p = fork();
    if (p == 0) _exit(0);
    int st;
    waitpid(p, &st, 0);
    return (long)p;
}

/* Temp files of killed runs (the LoRA, the loss curve, a validation sheet) go at the next run's
 * start; this process's own and other names stay. */
static void test_stale_temps_removed(void **state) {
    (void)state;
    char *d = tmpdir_make();
    long dead = dead_pid();
    char *stale1 = xasprintf("%s/%s.tmp.%ld", d, CKPT_LORA_FILE, dead), *stale2 = xasprintf("%s/validation/step-3/00.png.tmp.%ld", d, dead);
    char *mine = xasprintf("%s/in-progress.bin.tmp.%ld", d, (long)getpid()), *other = xasprintf("%s/notes.tmp.txt", d);
    char *vdir = xasprintf("%s/validation/step-3", d);
    Err e;
    assert_int_equal(dir_make(vdir, &e), 0);
    write_text(stale1, "x"); write_text(stale2, "x"); write_text(mine, "x"); write_text(other, "x");
    TrainResult r;
    assert_int_equal(toy_run(d, 2, 2, 1, "latest", 0, 0, &r, &e), 0);
    train_result_free(&r);
    assert_false(file_exists(stale1));
    assert_false(file_exists(stale2));
    assert_true(file_exists(mine));
    assert_true(file_exists(other));
    assert_int_equal(temp_name_pid("a.safetensors.tmp.123", "tmp"), 123);
    assert_int_equal(temp_name_pid("a.tmp.", "tmp"), 0);
    assert_int_equal(temp_name_pid("a.tmp.12x", "tmp"), 0);
    assert_int_equal(temp_name_pid("a.old.12", "tmp"), 0);
    assert_int_equal(temp_name_pid("checkpoint-3.del.77", "del"), 77);
    assert_true(temp_owner_alive((long)getpid()));
    assert_false(temp_owner_alive(dead));
    pid_t other_prog = fork();   /* a live process running another program: its temps are stale too */
    if (other_prog == 0) { execlp("sleep", "sleep", "30", (char *)NULL); _exit(127); }
    char link[64], exe[256] = "";
    snprintf(link, sizeof link, "/proc/%ld/exe", (long)other_prog);
    for (int i = 0; i < 500 && !strstr(exe, "sleep"); i++) {   /* until the exec has happened */
        ssize_t n = readlink(link, exe, sizeof exe - 1);
        exe[n > 0 ? n : 0] = 0;
        usleep(10000);
    }
    assert_false(temp_owner_alive((long)other_prog));
    kill(other_prog, SIGKILL);
    int st;
    waitpid(other_prog, &st, 0);
    free(stale1); free(stale2); free(mine); free(other); free(vdir);
    tmpdir_remove(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_falls),
        cmocka_unit_test(test_accumulation_equals_batch),
        cmocka_unit_test(test_mask_weights_loss),
        cmocka_unit_test(test_resume_bit_identical),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_nonfinite_gradient_stops),
        cmocka_unit_test(test_log_writes_null),
        cmocka_unit_test(test_logs_cut_on_resume),
        cmocka_unit_test(test_log_cut_lines),
        cmocka_unit_test(test_damaged_latest_falls_back),
        cmocka_unit_test(test_stale_temps_removed),
    };
    return cmocka_run_group_tests_name("trainer", tests, NULL, NULL);
}
