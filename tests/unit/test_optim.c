/* test_optim.c — each optimizer against values computed by hand (double-precision Python replicas of
 * the formulas in optim_*.c), optimizer_config parsing, bf16 stochastic rounding, determinism, and
 * exact resume through the state file. */
#include "test_util.h"
#include <math.h>
#include <omp.h>
#include "train/optim.h"
#include "train/optim_internal.h"
#include "train/grad_clip.h"
#include "tensor/dtype.h"

static const float P0[3] = { 1.0f, -2.0f, 0.5f };
static const float G3[3][3] = { { 0.1f, -0.2f, 0.3f }, { 0.05f, 0.1f, -0.3f }, { -0.4f, 0.0f, 0.2f } };

typedef struct { float p[3], g[3]; TrainParam tp; Optimizer o; } One;

static void one_init(One *x, const OptimConfig *c) {
    memcpy(x->p, P0, sizeof x->p);
    x->tp = (TrainParam){"w", x->p, x->g, 3, 0, {0, 0}};
    Err e;
    assert_int_equal(optim_init(&x->o, c, &x->tp, 1, 1234, &e), 0);
}

static void run_steps(One *x, const float (*grads)[3], int steps, double lr) {
    for (int s = 0; s < steps; s++) { memcpy(x->g, grads[s], sizeof x->g); optim_step(&x->o, lr); }
}

static void expect3(const float *got, double a, double b, double c, double tol) {
    double want[3] = { a, b, c };
    for (int i = 0; i < 3; i++)
        if (fabs(got[i] - want[i]) > tol * fmax(1.0, fabs(want[i])))
            fail_msg("element %d: got %.9g, expected %.9g", i, got[i], want[i]);
}

static OptimConfig resolved(const char *name, const char *cfg, double lr) {
    OptimUserKeys k; optim_user_keys_init(&k);
    k.optimizer = name; k.optimizer_config = cfg; k.learning_rate = lr;
    OptimConfig c; Err e;
    if (optim_config_resolve(&k, &c, &e)) fail_msg("%s", e.msg);
    return c;
}

static void test_torch_adamw(void **s) {
    (void)s;
    OptimConfig c = resolved("torch-adamw", NULL, 0.01); /* betas .9/.999, wd .01, eps 1e-8 */
    One x; one_init(&x, &c);
    run_steps(&x, G3, 1, 0.01);
    expect3(x.p, 0.989900001, -1.9898, 0.48995, 1e-6);
    run_steps(&x, G3 + 1, 1, 0.01);
    expect3(x.p, 0.980479216, -1.98693765, 0.490427321, 1e-6);
    run_steps(&x, G3 + 2, 1, 0.01);
    expect3(x.p, 0.984595788, -1.98468016, 0.488020649, 1e-6);
    optim_free(&x.o);
}

static void test_torch_adamw_amsgrad(void **s) {
    (void)s;
    OptimConfig c = resolved("torch-adamw", "amsgrad=true,weight_decay=0.0", 0.01);
    assert_true(c.amsgrad); assert_true(c.weight_decay == 0.0);
    static const float G[3][3] = { { 0.5f, -0.2f, 0.3f }, { 0.05f, 0.1f, -0.3f }, { -0.04f, 0.0f, 0.2f } };
    One x; one_init(&x, &c);
    run_steps(&x, G, 3, 0.01);
    expect3(x.p, 0.977390913, -1.98527887, 0.488168687, 1e-6);
    optim_free(&x.o);
}

static void test_optimi_adamw(void **s) {
    (void)s;
    OptimConfig c = resolved("optimi-adamw", "weight_decay=0.1", 0.01); /* betas .9/.99, eps 1e-6 */
    assert_true(c.beta2 == 0.99 && c.eps == 1e-6);
    One x; one_init(&x, &c);
    run_steps(&x, G3, 1, 0.01);
    expect3(x.p, 0.9890001, -1.98800005, 0.489500033, 1e-6);
    run_steps(&x, G3 + 1, 2, 0.01);
    expect3(x.p, 0.98189616, -1.97929546, 0.486687257, 1e-6);
    optim_free(&x.o);
}

static void test_optimi_lion(void **s) {
    (void)s;
    OptimConfig c = resolved("optimi-lion", "weight_decay=0.5", 0.1);
    One x; one_init(&x, &c);
    run_steps(&x, G3, 1, 0.1);
    expect3(x.p, 0.85, -1.8, 0.375, 1e-6);
    run_steps(&x, G3 + 1, 1, 0.1);
    expect3(x.p, 0.7075, -1.81, 0.45625, 1e-6);
    run_steps(&x, G3 + 2, 1, 0.1);
    expect3(x.p, 0.772125, -1.6195, 0.3334375, 1e-6);
    optim_free(&x.o);
}

static void test_optimi_sgd_momentum_l2(void **s) {
    (void)s;
    OptimConfig c = resolved("optimi-sgd", "momentum=0.9,weight_decay=0.1", 0.1);
    One x; one_init(&x, &c);
    run_steps(&x, G3, 1, 0.1);
    expect3(x.p, 0.98, -1.96, 0.465, 1e-6);
    run_steps(&x, G3 + 1, 2, 0.1);
    expect3(x.p, 0.948208, -1.854216, 0.4287265, 1e-6);
    optim_free(&x.o);
}

static void test_optimi_sgd_dampening_decoupled(void **s) {
    (void)s;
    OptimConfig c = resolved("optimi-sgd", "momentum=0.9,dampening=true,torch_init=true,decouple_wd=true,weight_decay=0.1", 0.1);
    assert_true(c.dampening && c.torch_init && c.decouple_wd);
    One x; one_init(&x, &c);
    run_steps(&x, G3, 2, 0.1);
    expect3(x.p, 0.9607, -1.9234, 0.43635, 1e-6);
    run_steps(&x, G3 + 2, 1, 0.1);
    expect3(x.p, 0.946543, -1.888866, 0.4083865, 1e-6);
    optim_free(&x.o);
}

static void test_optimi_sgd_plain(void **s) {
    (void)s;
    OptimConfig c = resolved("optimi-sgd", NULL, 0.5);
    One x; one_init(&x, &c);
    assert_null(x.o.m); /* momentum 0 keeps no state */
    run_steps(&x, G3, 1, 0.5);
    expect3(x.p, 0.95, -1.9, 0.35, 1e-7);
    optim_free(&x.o);
}

/* adamw_bf16: bf16-representable gradients so the hand values are exact (m = g at step 1). */
static void test_adamw_bf16_first_step(void **s) {
    (void)s;
    OptimConfig c = resolved("adamw_bf16", "weight_decay=0.0", 0.01);
    assert_true(c.eps == 1e-6 && c.beta2 == 0.999);
    static const float G[1][3] = { { 0.25f, -0.5f, 0.125f } };
    One x; one_init(&x, &c);
    run_steps(&x, G, 1, 0.01);
    expect3(x.p, 0.98995918, -1.98995912, 0.489959151, 2e-7);
    assert_true(bf16_to_f32(x.o.m16[0][1]) == -0.5f);
    assert_true(fabsf(bf16_to_f32(x.o.v16[0][1]) - 0.000249862671f) < 1e-12f);
    optim_free(&x.o);
}

static void test_adamw_bf16_three_steps_beta1_zero(void **s) {
    (void)s;
    OptimConfig c = resolved("adamw_bf16", "weight_decay=0.0", 0.01);
    c.beta1 = 0.0; /* m = g exactly each step: the path is deterministic */
    static const float G[3][3] = { { 0.25f, -0.5f, 0.125f }, { 0.5f, 0.25f, -1.0f }, { -0.125f, 0.75f, 0.5f } };
    One x; one_init(&x, &c);
    run_steps(&x, G, 3, 0.01);
    expect3(x.p, 0.98111707, -2.01017284, 0.496367037, 2e-7);
    assert_true(fabsf(bf16_to_f32(x.o.v16[0][2]) - 0.00126647949f) < 1e-12f);
    optim_free(&x.o);
}

static void test_adamw_bf16_decay_lumps(void **s) {
    (void)s;
    double owed = 0.004;
    assert_true(adamw_bf16_take_decay(&owed, 1.0, 0.002) == 0.006);
    assert_true(owed == 0.0);
    owed = 0.001;
    assert_true(adamw_bf16_take_decay(&owed, 0.01, 0.1) == 0.0);
    assert_true(fabs(owed - 0.002) < 1e-15);
    /* In the optimizer: owed 0 + wd·lr = 0.01 > 5e-3 → p ← p·0.99 after the Adam step. */
    OptimConfig c = resolved("adamw_bf16", "weight_decay=1.0", 0.01);
    static const float G[1][3] = { { 0.25f, -0.5f, 0.125f } };
    One x; one_init(&x, &c);
    assert_true(x.o.decay_owed[0] >= 0 && x.o.decay_owed[0] < ADAMW_BF16_DECAY_THRESHOLD);
    x.o.decay_owed[0] = 0;
    run_steps(&x, G, 1, 0.01);
    expect3(x.p, 0.980059624, -1.97005951, 0.485059559, 2e-7);
    assert_true(x.o.decay_owed[0] == 0.0);
    optim_free(&x.o);
}

/* With β1 = 0 the first moment is sr(g): for g between two bf16 values it must land on one of the
 * two neighbours, with the right probability (mean unbiased). */
static void test_adamw_bf16_stochastic_rounding(void **s) {
    (void)s;
    enum { N = 200000 };
    float *p = calloc(N, sizeof *p), *g = malloc(N * sizeof *g);
    const float x = 1.0f + 0x1p-10f; /* bf16 neighbours 1 and 1 + 2^-7; P(up) = 1/8 */
    for (int i = 0; i < N; i++) g[i] = x;
    TrainParam tp = {"w", p, g, N, 0, {0, 0}};
    OptimConfig c = resolved("adamw_bf16", "weight_decay=0.0", 1e-3);
    c.beta1 = 0.0;
    Optimizer o; Err e;
    assert_int_equal(optim_init(&o, &c, &tp, 1, 7, &e), 0);
    optim_step(&o, 1e-3);
    double sum = 0;
    for (int i = 0; i < N; i++) {
        float m = bf16_to_f32(o.m16[0][i]);
        if (m != 1.0f && m != 1.0f + 0x1p-7f) fail_msg("m[%d] = %.9g is not a neighbour of %.9g", i, m, x);
        sum += m;
    }
    double mean = sum / N;
    /* std of the mean: 2^-7·sqrt(p(1-p)/N) ≈ 5.8e-6; allow 5 sigma */
    if (fabs(mean - x) > 3e-5) fail_msg("mean %.9g, expected %.9g", mean, (double)x);
    optim_free(&o); free(p); free(g);
}

/* Same result for 1 and 2 threads (random streams are per chunk, not per thread). */
static void test_adamw_bf16_thread_independent(void **s) {
    (void)s;
    enum { N = 100003 };
    float *pa = malloc(N * 4), *pb = malloc(N * 4), *g = malloc(N * 4);
    Rng r; rng_seed(&r, 5);
    for (int i = 0; i < N; i++) { pa[i] = pb[i] = (float)rng_normal(&r); g[i] = (float)rng_normal(&r) * 0.01f; }
    OptimConfig c = resolved("adamw_bf16", NULL, 1e-3);
    TrainParam ta = {"w", pa, g, N, 0, {0, 0}}, tb = { "w", pb, g, N, 0, {0, 0} };
    Optimizer oa, ob; Err e;
    assert_int_equal(optim_init(&oa, &c, &ta, 1, 99, &e), 0);
    assert_int_equal(optim_init(&ob, &c, &tb, 1, 99, &e), 0);
    int saved = omp_get_max_threads();
    for (int k = 0; k < 3; k++) {
        omp_set_num_threads(1); optim_step(&oa, 1e-3);
        omp_set_num_threads(2); optim_step(&ob, 1e-3);
    }
    omp_set_num_threads(saved);
    assert_memory_equal(pa, pb, N * 4);
    assert_memory_equal(oa.m16[0], ob.m16[0], N * 2);
    optim_free(&oa); optim_free(&ob); free(pa); free(pb); free(g);
}

/* Save after 3 steps, continue 2; a fresh optimizer loaded from the file must reach the same bits. */
static void resume_case(const char *name, const char *cfg) {
    enum { N = 37 };
    float p1[2][N], p2[2][N], g[2][N];
    Rng r; rng_seed(&r, 11);
    for (int t = 0; t < 2; t++) for (int i = 0; i < N; i++) p1[t][i] = (float)rng_normal(&r);
    TrainParam tp1[2] = { {"a.weight", p1[0], g[0], N, 0, {0, 0}}, { "b.weight", p1[1], g[1], N - 5, 0, {0, 0} } };
    TrainParam tp2[2] = { {"a.weight", p2[0], g[0], N, 0, {0, 0}}, { "b.weight", p2[1], g[1], N - 5, 0, {0, 0} } };
    OptimConfig c = resolved(name, cfg, 1e-2);
    Optimizer o1, o2; Err e;
    assert_int_equal(optim_init(&o1, &c, tp1, 2, 3, &e), 0);
    Rng gr; rng_seed(&gr, 12);
    for (int s = 0; s < 5; s++) {
        if (s == 3) {
            memcpy(p2, p1, sizeof p1);
            StWriter w; stw_init(&w);
            optim_state_save(&o1, &w);
            char *dir = tmpdir_make(), *path = xasprintf("%s/optimizer.safetensors", dir);
            assert_int_equal(stw_write(&w, path, &e), 0);
            stw_free(&w);
            StFile f;
            assert_int_equal(st_open(&f, path, &e), 0);
            assert_int_equal(optim_init(&o2, &c, tp2, 2, 777 /* other seed: state must come from the file */, &e), 0);
            if (optim_state_load(&o2, &f, &e)) fail_msg("%s", e.msg);
            st_close(&f); free(path); tmpdir_remove(dir);
        }
        for (int t = 0; t < 2; t++) for (int i = 0; i < N; i++) g[t][i] = (float)rng_normal(&gr) * 0.1f;
        optim_step(&o1, 1e-2 * (s + 1));
        if (s >= 3) optim_step(&o2, 1e-2 * (s + 1));
    }
    assert_memory_equal(p1, p2, sizeof p1);
    assert_true(o1.step == 5 && o2.step == 5);
    optim_free(&o1); optim_free(&o2);
}

static void test_resume_exact(void **s) {
    (void)s;
    resume_case("adamw_bf16", "weight_decay=0.5");
    resume_case("torch-adamw", "amsgrad=true");
    resume_case("optimi-adamw", "weight_decay=0.1");
    resume_case("optimi-lion", NULL);
    resume_case("optimi-sgd", "momentum=0.9");
}

static void test_state_load_errors(void **s) {
    (void)s;
    float p[4] = { 0 }, g[4] = { 0 };
    TrainParam tp = {"w", p, g, 4, 0, {0, 0}};
    OptimConfig ca = resolved("torch-adamw", NULL, 1e-3), cl = resolved("optimi-lion", NULL, 1e-3);
    Optimizer oa, ol; Err e;
    assert_int_equal(optim_init(&oa, &ca, &tp, 1, 1, &e), 0);
    assert_int_equal(optim_init(&ol, &cl, &tp, 1, 1, &e), 0);
    StWriter w; stw_init(&w);
    optim_state_save(&oa, &w);
    char *dir = tmpdir_make(), *path = xasprintf("%s/o.safetensors", dir);
    assert_int_equal(stw_write(&w, path, &e), 0);
    stw_free(&w);
    StFile f;
    assert_int_equal(st_open(&f, path, &e), 0);
    assert_int_equal(optim_state_load(&ol, &f, &e), -1);
    assert_contains(e.msg, "is for 'torch-adamw', but this run uses 'optimi-lion'");
    TrainParam other = {"w2", p, g, 4, 0, {0, 0}};
    Optimizer o3;
    assert_int_equal(optim_init(&o3, &ca, &other, 1, 1, &e), 0);
    assert_int_equal(optim_state_load(&o3, &f, &e), -1);
    assert_contains(e.msg, "'w2.exp_avg' is missing");
    st_close(&f); free(path); tmpdir_remove(dir);
    optim_free(&oa); optim_free(&ol); optim_free(&o3);
}

static void test_config_parsing(void **s) {
    (void)s;
    OptimUserKeys k; optim_user_keys_init(&k);
    OptimConfig c; Err e;
    k.optimizer = "prodigy";
    assert_int_equal(optim_config_resolve(&k, &c, &e), -1);
    assert_int_equal(e.code, EXIT_USAGE);
    assert_contains(e.msg, "optimizer 'prodigy' is not supported; supported: adamw_bf16, torch-adamw, optimi-adamw, optimi-lion, optimi-sgd");
    k.optimizer = "torch-adamw"; k.learning_rate = 1e-4;
    k.optimizer_config = "eps=1e3";
    assert_int_equal(optim_config_resolve(&k, &c, &e), -1);
    assert_contains(e.msg, "eps=1e3 must be a number");
    k.optimizer_config = "betas=(0.9,0.99)";
    assert_int_equal(optim_config_resolve(&k, &c, &e), -1);
    assert_contains(e.msg, "optimizer_beta1");
    k.optimizer_config = "weight_decay";
    assert_int_equal(optim_config_resolve(&k, &c, &e), -1);
    assert_contains(e.msg, "entry \"weight_decay\" is not key=value");
    k.optimizer_config = "amsgrad=maybe";
    assert_int_equal(optim_config_resolve(&k, &c, &e), -1);
    assert_contains(e.msg, "amsgrad=maybe must be true or false");
    k.optimizer_config = "weight_decay=0,eps=1e-6,foreach=true,nesterov=true,lr=0.001";
    assert_int_equal(optim_config_resolve(&k, &c, &e), 0); /* nesterov: dropped with a warning */
    assert_true(c.weight_decay == 0 && c.eps == 1e-6 && c.lr == 0.001);
    k.optimizer_config = NULL; k.optimizer_beta1 = 0.8;
    assert_int_equal(optim_config_resolve(&k, &c, &e), 0);
    assert_true(c.beta1 == 0.9); /* only both betas together override */
    k.optimizer_beta2 = 0.95;
    assert_int_equal(optim_config_resolve(&k, &c, &e), 0);
    assert_true(c.beta1 == 0.8 && c.beta2 == 0.95 && c.lr == 1e-4);
    k.optimizer = "optimi-sgd"; k.optimizer_config = "momentum=1.0";
    assert_int_equal(optim_config_resolve(&k, &c, &e), -1);
    assert_contains(e.msg, "momentum 1 must be in [0, 1)");
    k.optimizer = "optimi-lion"; k.optimizer_config = "decouple_lr=true,weight_decay=0.01";
    assert_int_equal(optim_config_resolve(&k, &c, &e), 0);
    assert_true(c.decouple_lr && c.max_lr == 1e-4);
    k.optimizer = "adam_bfloat16"; k.optimizer_config = NULL;
    assert_int_equal(optim_config_resolve(&k, &c, &e), 0);
    assert_int_equal(c.kind, OPTIM_ADAMW_BF16);
}

/* decouple_lr: decay by (lr/max_lr)·wd, so at lr = max_lr/2 half of wd. */
static void test_decouple_lr(void **s) {
    (void)s;
    OptimConfig c = resolved("optimi-lion", "decouple_lr=true,weight_decay=0.2", 0.1);
    assert_true(fabs(optimi_decay_factor(&c, 0.05) - 0.9) < 1e-15);
    assert_true(fabs(optimi_decay_factor(&c, 0.1) - 0.8) < 1e-15);
}

/* Gradient clipping: grads (3, 4) and (12) have global norm 13. */
static void test_grad_clip(void **s) {
    (void)s;
    float wa[2] = { 0 }, wb[1] = { 0 }, ga[2], gb[1];
    TrainParam ps[2] = { {"a", wa, ga, 2, 0, {0, 0}}, { "b", wb, gb, 1, 0, {0, 0} } };
    GradClipMethod m; Err e;
    ga[0] = 3; ga[1] = 4; gb[0] = 12;
    assert_true(fabs(grad_clip(ps, 2, GRAD_CLIP_NORM, 6.5) - 13.0) < 1e-12);
    double coef = 6.5 / (13.0 + 1e-6);
    assert_true(fabsf(ga[0] - (float)(3 * coef)) < 1e-6f && fabsf(ga[1] - (float)(4 * coef)) < 1e-6f);
    assert_true(fabsf(gb[0] - (float)(12 * coef)) < 1e-6f);
    assert_true(fabs(grad_global_norm(ps, 2) - 6.5) < 1e-5);
    ga[0] = 3; ga[1] = 4; gb[0] = 12;
    assert_true(fabs(grad_clip(ps, 2, GRAD_CLIP_NORM, 20.0) - 13.0) < 1e-12);
    assert_true(ga[0] == 3 && ga[1] == 4 && gb[0] == 12); /* below the limit: untouched */
    ga[1] = -4;
    assert_true(fabs(grad_clip(ps, 2, GRAD_CLIP_VALUE, 3.5) - 13.0) < 1e-12);
    assert_true(ga[0] == 3 && ga[1] == -3.5f && gb[0] == 3.5f);
    gb[0] = 12;
    assert_true(fabs(grad_clip(ps, 2, GRAD_CLIP_VALUE, 0.0) - sqrt(9 + 12.25 + 144)) < 1e-6); /* 0: no clipping */
    assert_true(gb[0] == 12);
    assert_int_equal(grad_clip_method_parse(NULL, &m, &e), 0);
    assert_int_equal(m, GRAD_CLIP_VALUE);
    assert_int_equal(grad_clip_method_parse("norm", &m, &e), 0);
    assert_int_equal(m, GRAD_CLIP_NORM);
    assert_int_equal(grad_clip_method_parse("l2", &m, &e), -1);
    assert_contains(e.msg, "grad_clip_method 'l2' is not supported; supported: value, norm");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_torch_adamw),
        cmocka_unit_test(test_torch_adamw_amsgrad),
        cmocka_unit_test(test_optimi_adamw),
        cmocka_unit_test(test_optimi_lion),
        cmocka_unit_test(test_optimi_sgd_momentum_l2),
        cmocka_unit_test(test_optimi_sgd_dampening_decoupled),
        cmocka_unit_test(test_optimi_sgd_plain),
        cmocka_unit_test(test_adamw_bf16_first_step),
        cmocka_unit_test(test_adamw_bf16_three_steps_beta1_zero),
        cmocka_unit_test(test_adamw_bf16_decay_lumps),
        cmocka_unit_test(test_adamw_bf16_stochastic_rounding),
        cmocka_unit_test(test_adamw_bf16_thread_independent),
        cmocka_unit_test(test_resume_exact),
        cmocka_unit_test(test_state_load_errors),
        cmocka_unit_test(test_config_parsing),
        cmocka_unit_test(test_decouple_lr),
        cmocka_unit_test(test_grad_clip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
