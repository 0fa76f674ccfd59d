/* test_flow_objective.c — σ sampling statistics, shift formulas, noising/target, loss values by hand,
 * finite-difference checks of every loss gradient, and mask weights. */
#include "test_util.h"
#include <math.h>
#include "train/flow_objective.h"

enum { NS = 200000 };

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Draws NS shifted sigmas (latent 64×64) and returns them sorted. */
static float *draw_sorted(const FlowConfig *c, double offset, uint64_t seed) {
    float *s = malloc(NS * sizeof *s);
    double *off = malloc(NS * sizeof *off);
    for (int i = 0; i < NS; i++) off[i] = offset;
    Rng r; rng_seed(&r, seed);
    flow_sample_sigmas(c, NS, off, 64, 64, &r, s);
    free(off);
    qsort(s, NS, sizeof *s, cmp_float);
    return s;
}

static double mean_of(const float *s) { double m = 0; for (int i = 0; i < NS; i++) m += s[i]; return m / NS; }
static double var_of(const float *s) {
    double m = mean_of(s), v = 0;
    for (int i = 0; i < NS; i++) v += (s[i] - m) * (s[i] - m);
    return v / NS;
}
static double quantile(const float *sorted, double q) { return sorted[(int)(q * (NS - 1))]; }

#define NEAR(got, want, tol) do { double g_ = (got), w_ = (want); \
    if (fabs(g_ - w_) > (tol)) fail_msg("%s = %.9g, expected %.9g ± %g", #got, g_, w_, (double)(tol)); } while (0)

static FlowConfig base_config(void) {
    FlowConfig c; flow_config_init(&c);
    c.shift = 0; /* unshifted unless a test sets it */
    return c;
}

static void test_logit_normal(void **st) {
    (void)st;
    FlowConfig c = base_config();
    float *s = draw_sorted(&c, 0.0, 1);
    NEAR(mean_of(s), 0.5, 0.003);
    NEAR(quantile(s, 0.5), 0.5, 0.005);
    NEAR(quantile(s, 0.841344746), 0.7310585786300049, 0.005); /* sigmoid(1) at the +1σ quantile of u */
    free(s);
    c.sigmoid_scale = 2.0; /* median sigmoid(2·(−0.5)) with the dataset offset −0.5 */
    s = draw_sorted(&c, -0.5, 2);
    NEAR(quantile(s, 0.5), 0.2689414213699951, 0.005);
    free(s);
}

static void test_static_shift(void **st) {
    (void)st;
    NEAR(flow_sigma_shift(0.5, 3.0), 0.75, 1e-15);
    NEAR(flow_sigma_shift(0.2, 1.73), 1.73 * 0.2 / (1 + 0.73 * 0.2), 1e-15);
    FlowConfig c = base_config();
    c.shift = 3.0; /* the median maps through the monotone shift: 3·0.5/(1 + 2·0.5) */
    float *s = draw_sorted(&c, 0.0, 3);
    NEAR(quantile(s, 0.5), 0.75, 0.005);
    free(s);
}

static void test_uniform_and_beta(void **st) {
    (void)st;
    FlowConfig c = base_config();
    FlowUserKeys k = { .flow_use_uniform_schedule = 1, .flow_use_beta_schedule = 1 };
    Err e;
    assert_int_equal(flow_config_apply(&c, &k, &e), 0);
    assert_int_equal(c.dist, SIGMA_UNIFORM); /* uniform wins, as upstream */
    float *s = draw_sorted(&c, 0.0, 4);
    NEAR(mean_of(s), 0.5, 0.003); NEAR(quantile(s, 0.25), 0.25, 0.005); NEAR(var_of(s), 1.0 / 12.0, 0.001);
    free(s);
    c.dist = SIGMA_BETA; /* α = β = 2: mean 1/2, variance αβ/((α+β)²(α+β+1)) = 1/20 */
    s = draw_sorted(&c, 0.0, 5);
    NEAR(mean_of(s), 0.5, 0.003); NEAR(var_of(s), 0.05, 0.001);
    free(s);
    c.beta_alpha = 2; c.beta_beta = 5;
    s = draw_sorted(&c, 0.0, 6);
    NEAR(mean_of(s), 2.0 / 7.0, 0.003); NEAR(var_of(s), 10.0 / (49.0 * 8.0), 0.001);
    free(s);
    c.beta_alpha = 0.5; c.beta_beta = 0.5; /* α < 1 path: arcsine law, variance 1/8 */
    s = draw_sorted(&c, 0.0, 7);
    NEAR(mean_of(s), 0.5, 0.003); NEAR(var_of(s), 0.125, 0.002);
    assert_true(s[0] >= 0 && s[NS - 1] <= 1);
    free(s);
}

static void test_auto_shift(void **st) {
    (void)st;
    FlowConfig c; flow_config_init(&c);
    FlowUserKeys k = { .flow_schedule_auto_shift = 1 };
    Err e;
    assert_int_equal(flow_config_apply(&c, &k, &e), 0);
    assert_true(c.shift == 0 && c.auto_shift);
    /* 1024² image → 128² latent → 64·64 = 4096 tokens: μ = 0.5 + 0.4·(4096 − 256)/7936 */
    NEAR(flow_auto_shift_mu(&c, 4096), 0.6935483870967742, 1e-15);
    NEAR(flow_shift_factor(&c, 128, 128), 2.000802574061872, 1e-12);
    NEAR(flow_shift_factor(&c, 96, 80), 1.7929655265336684, 1e-12); /* 48·40 = 1920 tokens */
    flow_config_init(&c);
    NEAR(flow_shift_factor(&c, 128, 128), 3.0, 0); /* static shift wins */
    c.shift = 0;
    NEAR(flow_shift_factor(&c, 128, 128), 0.0, 0); /* neither: no shift */
}

static void test_determinism(void **st) {
    (void)st;
    FlowConfig c; flow_config_init(&c);
    float a[8], b[8];
    Rng r1, r2; rng_seed(&r1, 9); rng_seed(&r2, 9);
    flow_sample_sigmas(&c, 8, NULL, 32, 32, &r1, a);
    flow_sample_sigmas(&c, 8, NULL, 32, 32, &r2, b);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_equal(&r1, &r2, sizeof r1);
}

static void test_noising_and_target(void **st) {
    (void)st;
    const float x0[3] = { 1, -2, 0.5f }, eps[3] = { 0.5f, 1, -1 };
    float x[3], v[3];
    flow_noisy_input(x0, eps, 0.25f, 3, x);
    NEAR(x[0], 0.875, 1e-7); NEAR(x[1], -1.25, 1e-7); NEAR(x[2], 0.125, 1e-7);
    flow_target(x0, eps, 3, v);
    NEAR(v[0], -0.5, 0); NEAR(v[1], 3, 0); NEAR(v[2], -1.5, 0);
    FlowConfig c; flow_config_init(&c);
    NEAR(flow_input_perturbation_at(&c, 5), 0, 0);
    c.input_perturbation = 0.1;
    NEAR(flow_input_perturbation_at(&c, 500), 0.1, 0);
    c.input_perturbation_steps = 100;
    NEAR(flow_input_perturbation_at(&c, 0), 0.1, 1e-15);
    NEAR(flow_input_perturbation_at(&c, 50), 0.05, 1e-15);
    NEAR(flow_input_perturbation_at(&c, 100), 0, 0);
}

static void test_loss_values(void **st) {
    (void)st;
    FlowConfig c; flow_config_init(&c);
    /* B = 2, C = 1, plane = 2; differences d = [0.5, −1 | 0, 2] */
    const float pred[4] = { 1.5f, 0, 3, 2 }, target[4] = { 1, 1, 3, 0 }, sig[2] = { 0.5f, 0.3f };
    NEAR(flow_loss(&c, 2, 1, 2, pred, target, NULL, sig, NULL), (0.625 + 2.0) / 2, 1e-12);
    const float w[4] = { 1, 0, 0.5f, 0.5f };
    NEAR(flow_loss(&c, 2, 1, 2, pred, target, w, sig, NULL), (0.125 + 1.0) / 2, 1e-12);
    c.loss_type = LOSS_HUBER; c.huber_schedule = HUBER_CONSTANT; c.huber_c = 0.2;
    NEAR(flow_loss(&c, 1, 1, 1, pred, target, NULL, sig, NULL), 0.13540659228538018, 1e-12);
    c.loss_type = LOSS_SMOOTH_L1;
    NEAR(flow_loss(&c, 1, 1, 1, pred, target, NULL, sig, NULL), 0.677032961426901, 1e-12);
    c.huber_c = 0.1;
    c.huber_schedule = HUBER_SNR;
    NEAR(flow_huber_c(&c, 0.5), 0.3250224983126688, 1e-15);
    c.huber_schedule = HUBER_EXPONENTIAL;
    NEAR(flow_huber_c(&c, 0.3), 0.5011872336272724, 1e-15);
    /* scheduled c enters the loss: sample σ = 0.3 → c = 0.1^0.3, d = 0.5 */
    double cc = 0.5011872336272724;
    NEAR(flow_loss(&c, 1, 1, 1, pred, target, NULL, (const float[]){ 0.3f }, NULL), 2 * (sqrt(0.25 + cc * cc) - cc), 1e-7);
}

/* Central differences of the loss in double against the analytic gradient. */
static void fd_check(const FlowConfig *c) {
    enum { B = 2, C = 3, P = 5, N = B * C * P };
    float pred[N], target[N], w[B * P], grad[N], sig[B] = { 0.2f, 0.7f };
    Rng r; rng_seed(&r, 21);
    for (int i = 0; i < N; i++) { pred[i] = (float)rng_normal(&r); target[i] = (float)rng_normal(&r); }
    for (int i = 0; i < B * P; i++) w[i] = rng_uniformf(&r) + 0.5f;
    flow_loss(c, B, C, P, pred, target, w, sig, grad);
    for (int i = 0; i < N; i++) {
        float keep = pred[i], h = 1e-3f;
        pred[i] = keep + h; double up = flow_loss(c, B, C, P, pred, target, w, sig, NULL);
        pred[i] = keep - h; double dn = flow_loss(c, B, C, P, pred, target, w, sig, NULL);
        pred[i] = keep;
        double fd = (up - dn) / (2.0 * ((double)(keep + h) - (double)keep));
        if (fabs(fd - grad[i]) > 1e-3 * fabs(fd) + 1e-6)
            fail_msg("loss %d schedule %d element %d: analytic %.9g, finite difference %.9g", c->loss_type,
                     c->huber_schedule, i, grad[i], fd);
    }
}

static void test_loss_gradients(void **st) {
    (void)st;
    FlowConfig c; flow_config_init(&c);
    fd_check(&c);
    for (int t = LOSS_HUBER; t <= LOSS_SMOOTH_L1; t++)
        for (int s = HUBER_SNR; s <= HUBER_CONSTANT; s++) {
            c.loss_type = (LossType)t; c.huber_schedule = (HuberSchedule)s;
            fd_check(&c);
        }
}

static void test_mask_weights(void **st) {
    (void)st;
    /* 4×4 → 2×2: block means, then m/2 + 0.5 */
    const float m4[16] = { 1, 1, -1, -1,
                           1, 1, -1, -1,
                           0, 0, 1, -1,
                           0, 0, -1, 1 };
    float out[4];
    flow_mask_weights(m4, 4, 4, 2, 2, out);
    NEAR(out[0], 1.0, 0); NEAR(out[1], 0.0, 0); NEAR(out[2], 0.5, 0); NEAR(out[3], 0.5, 0);
    /* 3 rows → 2: rows [0, 2) and [1, 3) overlap, as adaptive pooling does */
    const float m3[3] = { 1, -1, 0 };
    float o2[2];
    flow_mask_weights(m3, 3, 1, 2, 1, o2);
    NEAR(o2[0], 0.5, 1e-7); NEAR(o2[1], 0.25, 1e-7);
}

static void test_config_errors(void **st) {
    (void)st;
    FlowConfig c; flow_config_init(&c);
    Err e;
    FlowUserKeys k = { .loss_type = "l1" };
    assert_int_equal(flow_config_apply(&c, &k, &e), -1);
    assert_contains(e.msg, "loss_type 'l1' is not supported; supported: l2, huber, smooth_l1");
    k = (FlowUserKeys){ .huber_schedule = "cosine" };
    assert_int_equal(flow_config_apply(&c, &k, &e), -1);
    assert_contains(e.msg, "huber_schedule 'cosine' is not supported; supported: snr, exponential, constant");
    k = (FlowUserKeys){ .loss_type = "huber" };
    c.huber_c = 0;
    assert_int_equal(flow_config_apply(&c, &k, &e), -1);
    assert_contains(e.msg, "huber_c must be > 0");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logit_normal), cmocka_unit_test(test_static_shift),
        cmocka_unit_test(test_uniform_and_beta), cmocka_unit_test(test_auto_shift),
        cmocka_unit_test(test_determinism), cmocka_unit_test(test_noising_and_target),
        cmocka_unit_test(test_loss_values), cmocka_unit_test(test_loss_gradients),
        cmocka_unit_test(test_mask_weights), cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
