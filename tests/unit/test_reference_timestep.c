/* longcat_reference_timestep (this program's option) from the configuration to the transformer: a
 * LongCat edit pipeline opened for training gives its training forwards the per-token timesteps the
 * key asks for — zero (the default for now): σ for the target tokens, 0 for the reference tokens;
 * shared: σ for every token — and its inference forwards (validation, validate) always σ for every
 * token. With shared, a training forward (no dropout) therefore predicts exactly what an inference
 * forward does; with zero it does not. */
#include "test_util.h"
#include "base/files.h"
#include "config/config.h"
#include "pipeline/pipeline_internal.h"
#include "tensor/trace.h"
#include <math.h>

#define MODEL "tests/data/models/longcat_edit"

typedef struct Captured { float t[64]; int n; } Captured;

static void capture(void *ctx, const char *scope, const char *name, DType dt, int ndim, const int64_t *shape, const void *data) {
    (void)scope;
    Captured *c = ctx;
    if (strcmp(name, "token_timesteps")) return;
    assert_int_equal(dt, DT_F32);
    assert_int_equal(ndim, 1);
    assert_true(shape[0] <= 64);
    c->n = (int)shape[0];
    memcpy(c->t, data, (size_t)c->n * sizeof(float));
}

/* A training pipeline on the tiny LongCat edit model; `value` NULL leaves the key unset. */
static Pipeline *open_train(const char *tmp, const char *value) {
    char *cfg = path_join(tmp, "config.json");
    char *text = xasprintf("{\"model_type\": \"lora\", \"model_family\": \"longcat_image\", \"model_flavour\": \"edit\",\n"
                           " \"pretrained_model_name_or_path\": \"%s\", \"output_dir\": \"%s/out\", \"lora_rank\": 4,\n"
                           " \"lora_dropout\": 0, \"max_train_steps\": 1%s%s%s}\n",
                           MODEL, tmp, value ? ", \"longcat_reference_timestep\": \"" : "", value ? value : "", value ? "\"" : "");
    write_text(cfg, text);
    char *argv[] = {"--config", cfg};
    ConfigLoadOptions lo = {.allow_missing_required = 1, .skip_datasets = 1, .quiet = 1};
    Config *c; Err e = {0};
    if (config_load_with(&c, 2, argv, &lo, &e)) fail_msg("%s", e.msg);
    PipelineOptions po = {.mode = PIPELINE_TRAIN, .quiet = 1};
    Pipeline *p;
    if (pipeline_open(&p, c, &po, &e)) fail_msg("%s", e.msg);
    free(cfg); free(text);
    return p;
}

/* One training and one inference forward of the same inputs (target 2x2 tokens, a 2x3 reference):
 * the training forward's per-token timesteps, and the largest difference of the predictions. */
static double forwards(Pipeline *p, Captured *train_t, Captured *infer_t) {
    Transformer *t = &p->tr;
    const int C = t->in_channels, L = 5, D = t->txt_dim, N = 4 + 6;
    Rng r; rng_seed(&r, 3);
    float *tok = malloc((size_t)N * C * sizeof(float)), *txt = malloc((size_t)L * D * sizeof(float));
    float *a = malloc((size_t)4 * t->out_channels * sizeof(float)), *b = malloc((size_t)4 * t->out_channels * sizeof(float));
    rng_fill_normal(&r, tok, (size_t)N * C, 0, 1);
    rng_fill_normal(&r, txt, (size_t)L * D, 0, 1);
    Trace tr1 = {capture, train_t, NULL}, tr2 = {capture, infer_t, NULL};
    DenoiseInput in = {.n_img = 2, .grid_h = {2, 2}, .grid_w = {2, 3}, .channels = C, .tokens = tok, .txt_len = L, .txt_dim = D,
                       .txt = txt, .sigma = 0.625f, .training = 1, .rng = &r, .trace = &tr1};
    Err e = {0};
    if (t->den.forward(t->den.self, &in, a, &e)) fail_msg("%s", e.msg);
    in.training = 0; in.trace = &tr2;
    if (t->den.forward(t->den.self, &in, b, &e)) fail_msg("%s", e.msg);
    double d = 0;
    for (int i = 0; i < 4 * t->out_channels; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    free(tok); free(txt); free(a); free(b);
    return d;
}

static void check_option(const char *value, int refs_zero) {
    char *tmp = tmpdir_make();
    Pipeline *p = open_train(tmp, value);
    assert_int_equal(p->tr.refs_t0_in_training, refs_zero);
    Captured tt = {0}, ti = {0};
    double d = forwards(p, &tt, &ti);
    assert_int_equal(tt.n, 10);
    assert_int_equal(ti.n, 10);
    for (int i = 0; i < 10; i++) {
        assert_true(ti.t[i] == 0.625f);                                  /* inference: one t for every token */
        assert_true(tt.t[i] == (refs_zero && i >= 4 ? 0.0f : 0.625f));  /* training: as the key says */
    }
    if (refs_zero) assert_true(d > 1e-6);   /* the references' modulation differs */
    else assert_true(d == 0.0);             /* training sees what sampling sees */
    pipeline_close(p);
    tmpdir_remove(tmp);
}

static void test_default_is_zero(void **state) { (void)state; check_option(NULL, 1); }
static void test_zero(void **state) { (void)state; check_option("zero", 1); }
static void test_shared(void **state) { (void)state; check_option("shared", 0); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_is_zero),
        cmocka_unit_test(test_zero),
        cmocka_unit_test(test_shared),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
