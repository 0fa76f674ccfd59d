/* The training loop on a small linear denoiser: loss falls, gradient accumulation of k micro-batches
 * equals one batch of k, a resumed run reproduces the uninterrupted one bit for bit, and the final
 * weights and logs land in output_dir. */
#include "test_util.h"
#include <math.h>
#include "base/files.h"
#include "train/trainer.h"

/* pred[t, :] = (W · x[t, :] + R · ref[t, :]) / σ + b over the C packed features of each target token:
 * v = ε − x0 = (x_σ − x0)/σ, so W = I, R = −I is exact when the reference is the target. */
enum { LAT_C = 4, LAT_H = 4, LAT_W = 4, C = LAT_C * 4, NTOK = (LAT_H / 2) * (LAT_W / 2), NSAMPLES = 4 };
typedef struct Toy {
    float W[C * C], R[C * C], b[C];
    float gW[C * C], gR[C * C], gb[C];
    float x[NTOK * C], ref[NTOK * C], inv_sigma;
    TrainParam params[3];
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_falls),
        cmocka_unit_test(test_accumulation_equals_batch),
        cmocka_unit_test(test_mask_weights_loss),
        cmocka_unit_test(test_resume_bit_identical),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests_name("trainer", tests, NULL, NULL);
}
