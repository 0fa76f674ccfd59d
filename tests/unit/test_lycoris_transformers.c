/* LyCORIS adapters inside both transformers (tiny random Qwen-Image and LongCat models), attached
 * from a lycoris_config with the family's class names: gradients of every adapter tensor (and of
 * the input) against finite differences, with gradient checkpointing off and on and LyCORIS'
 * dropouts (rank, module, output) off and on; checkpointing gives the same gradients bit for bit
 * (the recompute redraws the same random decisions); save → load gives the same forward. */
#include "test_util.h"
#include <math.h>
#include "base/files.h"
#include "base/rng.h"
#include "config/lycoris_config.h"
#include "models/family.h"
#include "models/longcat_image/longcat.h"
#include "models/qwen_image/qwen_image.h"

/* Attaches LyCORIS adapters to a model's layers from a config text; random tensors (the inits keep
 * ΔW = 0, which would hide most gradients). */
static void attach(LinearSet *s, const char *family, const char *json, uint64_t seed) {
    char *dir = tmpdir_make(), *path = path_join(dir, "lycoris.json");
    write_text(path, json);
    LycorisConfig c;
    Err e = {0};
    if (lycoris_config_load(path, &c, &e)) fail_msg("%s", e.msg);
    const ModelFamily *f = family_find(family);
    LycorisModel m = {f->transformer_class, f->module_classes, NULL, 0, 0};
    if (linear_set_attach_lycoris(s, &c, m, seed, NULL, &e)) fail_msg("%s", e.msg);
    lycoris_config_free(&c);
    int n;
    const TrainParam *tp = linear_set_params(s, &n);
    Rng r; rng_seed(&r, seed + 1);
    for (int i = 0; i < n; i++) {
        if (strstr(tp[i].name, ".scalar")) tp[i].value[0] = 0.8f;
        else rng_fill_normal(&r, tp[i].value, tp[i].numel, 0, 0.3f);
    }
    free(path);
    tmpdir_remove(dir);
}

static void zero_grads(LinearSet *s) {
    int n;
    const TrainParam *tp = linear_set_params(s, &n);
    for (int i = 0; i < n; i++) memset(tp[i].grad, 0, tp[i].numel * sizeof(float));
}

/* Compares every tensor's gradient (a sample of entries) with central differences of `loss`,
 * relative to the tensor's largest gradient (the float32 forward resolves a difference to ~1e-4). */
typedef double (*LossFn)(void *ctx);
static void check_params(LinearSet *s, LossFn loss, void *ctx, const char *what) {
    int n;
    const TrainParam *tp = linear_set_params(s, &n);
    for (int p = 0; p < n; p++) {
        double gmax = 5e-2, worst = 0;
        for (size_t i = 0; i < tp[p].numel; i++) gmax = fmax(gmax, fabs(tp[p].grad[i]));
        for (size_t i = 0; i < tp[p].numel; i += tp[p].numel / 4 + 1) {
            float keep = tp[p].value[i], h = 1e-2f;
            tp[p].value[i] = keep + h; double lp = loss(ctx);
            tp[p].value[i] = keep - h; double lm = loss(ctx);
            tp[p].value[i] = keep;
            worst = fmax(worst, fabs((lp - lm) / (2 * h) - tp[p].grad[i]) / gmax);
        }
        /* 2e-2: central differences of a float32 forward at h = 1e-2 carry ~1e-2 of truncation and
         * rounding error; the ASan build (other vectorisation, other rounding) measured 1.006e-2 on a
         * correct gradient once the attention tiles grew. A wrong gradient is off by its own size. */
        if (worst > 2e-2) fail_msg("%s %s: finite-difference mismatch %.3e", what, tp[p].name, worst);
    }
}

/* ---- Qwen-Image ---- */

typedef struct QCase { QiModel m; float img[20 * 16], txt[5 * 12], g[20 * 16]; unsigned char mask[5]; QiInput in; } QCase;

static void qcase_init(QCase *k, const char *json) {
    QiConfig c = {0};
    c.in_channels = 16; c.out_channels = 4; c.patch_size = 2; c.num_layers = 2; c.heads = 2; c.head_dim = 8;
    c.joint_attention_dim = 12; c.axes[0] = 2; c.axes[1] = 2; c.axes[2] = 4; c.dim = 16; c.zero_cond_t = 1;
    Err e = {0};
    assert_int_equal(qi_init_random(&k->m, &c, 5, DT_F32, &e), 0);
    attach(&k->m.linears, "qwen_image", json, 9);
    Rng r; rng_seed(&r, 77);
    rng_fill_normal(&r, k->img, 20 * 16, 0, 1); rng_fill_normal(&r, k->txt, 5 * 12, 0, 1); rng_fill_normal(&r, k->g, 20 * 16, 0, 1);
    memset(k->mask, 1, 5); k->mask[4] = 0;
    memset(&k->in, 0, sizeof k->in);
    k->in.n_img = 2;
    k->in.img_h[0] = 3; k->in.img_w[0] = 4; k->in.img_h[1] = 2; k->in.img_w[1] = 4;
    k->in.img = k->img; k->in.txt = k->txt; k->in.txt_len = 5; k->in.txt_mask = k->mask;
    k->in.timestep = 0.6f; k->in.training = 1; k->in.dropout_seed = 1234;
}

static double qloss(void *ctx) {
    QCase *k = ctx;
    float out[20 * 16];
    Err e = {0};
    if (qi_forward(&k->m, &k->in, out, NULL, &e)) fail_msg("%s", e.msg);
    double s = 0;
    for (int i = 0; i < 20 * 16; i++) s += (double)out[i] * k->g[i];
    return s;
}

/* LoKr on attention (W2 factored, the scalar), LoHa on the feed-forward, LyCORIS' LoRA on proj_out. */
#define QWEN_CFG(extra) "{\"algo\": \"lokr\", \"multiplier\": 1, \"linear_dim\": 2, \"linear_alpha\": 4, \"factor\": 2, \"use_scalar\": true" extra "," \
    " \"apply_preset\": {\"target_module\": [\"Attention\", \"FeedForward\"], \"target_name\": [\"proj_out\"]," \
    " \"module_algo_map\": {\"FeedForward\": {\"algo\": \"loha\", \"dim\": 2, \"alpha\": 1}}," \
    " \"name_algo_map\": {\"proj_out\": {\"algo\": \"lora\", \"dim\": 3}}}}"

static void test_qwen_fd(void **state) {
    (void)state;
    static const char *const CFG[2] = {QWEN_CFG(""), QWEN_CFG(", \"rank_dropout\": 0.3, \"module_dropout\": 0.2, \"dropout\": 0.2, \"bypass_mode\": true")};
    for (int drop = 0; drop < 2; drop++)
        for (int ck = 0; ck < 2; ck++) {
            QCase *k = calloc(1, sizeof *k);
            qcase_init(k, CFG[drop]);
            assert_int_equal(linear_set_n_adapters(&k->m.linears), 2 * 12 + 1);
            assert_int_equal(linear_set_has_dropout(&k->m.linears), drop);
            k->m.checkpointing = ck;
            zero_grads(&k->m.linears);
            qloss(k);
            Err e = {0};
            float dimg[20 * 16];
            assert_int_equal(qi_backward(&k->m, k->g, dimg, NULL, &e), 0);
            char what[64];
            snprintf(what, sizeof what, "qwen dropout %d ckpt %d", drop, ck);
            check_params(&k->m.linears, qloss, k, what);
            for (int i = 0; i < 20 * 16; i += 41) {
                float keep = k->img[i], h = 1e-2f;
                k->img[i] = keep + h; double lp = qloss(k);
                k->img[i] = keep - h; double lm = qloss(k);
                k->img[i] = keep;
                double num = (lp - lm) / (2 * h);
                if (!(fabs(num - dimg[i]) <= 5e-3 * (fabs(num) + fabs(dimg[i])) + 1e-4)) fail_msg("%s dimg[%d]: analytic %g, fd %g", what, i, dimg[i], num);
            }
            qi_free(&k->m);
            free(k);
        }
}

/* Checkpointing recomputes the blocks in backward: the same gradients, bit for bit, with dropouts. */
static void test_qwen_checkpointing_equal(void **state) {
    (void)state;
    float *g[2] = {NULL, NULL};
    size_t total = 0;
    for (int ck = 0; ck < 2; ck++) {
        QCase *k = calloc(1, sizeof *k);
        qcase_init(k, QWEN_CFG(", \"rank_dropout\": 0.4, \"module_dropout\": 0.3, \"dropout\": 0.2, \"bypass_mode\": true"));
        k->m.checkpointing = ck;
        zero_grads(&k->m.linears);
        qloss(k);
        Err e = {0};
        assert_int_equal(qi_backward(&k->m, k->g, NULL, NULL, &e), 0);
        int n;
        const TrainParam *tp = linear_set_params(&k->m.linears, &n);
        total = 0;
        for (int p = 0; p < n; p++) total += tp[p].numel;
        g[ck] = malloc(total * sizeof(float));
        size_t off = 0;
        for (int p = 0; p < n; p++) { memcpy(g[ck] + off, tp[p].grad, tp[p].numel * sizeof(float)); off += tp[p].numel; }
        qi_free(&k->m);
        free(k);
    }
    assert_memory_equal(g[0], g[1], total * sizeof(float));
    free(g[0]); free(g[1]);
}

/* ---- LongCat ---- */

typedef struct LCase { LcModel m; float x[8 * 8], ctx[3 * 12], t[8], R[8 * 8], txt_ids[3 * 3], img_ids[8 * 3]; int keep; } LCase;

static void lcase_init(LCase *k, const char *json) {
    static const char *TINY = "{\"_class_name\": \"LongCatImageTransformer2DModel\", \"num_layers\": 1, \"num_single_layers\": 1,"
                              " \"attention_head_dim\": 8, \"num_attention_heads\": 2, \"axes_dims_rope\": [2, 2, 4],"
                              " \"in_channels\": 8, \"joint_attention_dim\": 12, \"patch_size\": 1}";
    Err e = {0};
    cJSON *cfg = cJSON_Parse(TINY);
    assert_int_equal(lc_init_random(&k->m, cfg, 11, DT_F32, &e), 0);
    cJSON_Delete(cfg);
    attach(&k->m.linears, "longcat_image", json, 5);
    Rng r; rng_seed(&r, 21);
    rng_fill_normal(&r, k->x, 64, 0, 1); rng_fill_normal(&r, k->ctx, 36, 0, 1); rng_fill_normal(&r, k->R, 64, 0, 1);
    for (int i = 0; i < 8; i++) k->t[i] = i < 4 ? 0.4f : 0.0f;   /* the reference at t = 0, per token */
    lc_txt_ids(3, k->txt_ids);
    lc_img_ids(1, 3, 2, 2, k->img_ids);
    lc_img_ids(2, 3, 2, 2, k->img_ids + 12);
    k->keep = 1;
}

static double lloss(void *ctx) {
    LCase *k = ctx;
    Err e = {0};
    LcInput in = {.B = 1, .L = 3, .N = 8, .x = k->x, .ctx = k->ctx, .timestep = k->t, .per_token = 1, .txt_ids = k->txt_ids, .img_ids = k->img_ids};
    float out[64];
    assert_int_equal(lc_forward(&k->m, &in, k->keep, out, NULL, &e), 0);
    double l = 0;
    for (int i = 0; i < 64; i++) l += (double)out[i] * k->R[i];
    return l;
}

/* SimpleTuner's LongCat edit preset: LoKr on every linear of the transformer class, full matrices,
 * bypass mode; here with factor 4 and the scalar. */
#define LONGCAT_CFG(extra) "{\"bypass_mode\": true, \"algo\": \"lokr\", \"multiplier\": 1.0, \"full_matrix\": true, \"linear_dim\": 10000," \
    " \"linear_alpha\": 1, \"factor\": 4, \"use_scalar\": true" extra ", \"apply_preset\": {\"target_module\": [\"LongCatImageTransformer2DModel\"]," \
    " \"module_algo_map\": {\"LongCatImageTransformer2DModel\": {\"factor\": 4}}}}"

static void test_longcat_fd(void **state) {
    (void)state;
    static const char *const CFG[2] = {LONGCAT_CFG(""), LONGCAT_CFG(", \"rank_dropout\": 0.3, \"module_dropout\": 0.2, \"dropout\": 0.25")};
    for (int drop = 0; drop < 2; drop++)
        for (int ck = 0; ck < 2; ck++) {
            LCase *k = calloc(1, sizeof *k);
            lcase_init(k, CFG[drop]);
            assert_int_equal(linear_set_n_adapters(&k->m.linears), k->m.linears.n);   /* every linear */
            k->m.dropout_seed = 4321;
            k->m.checkpointing = ck;
            zero_grads(&k->m.linears);
            lloss(k);
            Err e = {0};
            float dx[64];
            assert_int_equal(lc_backward(&k->m, k->R, dx, NULL, &e), 0);
            char what[64];
            snprintf(what, sizeof what, "longcat dropout %d ckpt %d", drop, ck);
            check_params(&k->m.linears, lloss, k, what);
            for (int i = 0; i < 64; i += 9) {
                float keep = k->x[i], h = 1e-2f;
                k->x[i] = keep + h; double lp = lloss(k);
                k->x[i] = keep - h; double lm = lloss(k);
                k->x[i] = keep;
                double num = (lp - lm) / (2 * h);
                if (!(fabs(num - dx[i]) <= 5e-3 * (fabs(num) + fabs(dx[i])) + 1e-4)) fail_msg("%s dx[%d]: analytic %g, fd %g", what, i, dx[i], num);
            }
            if (drop) {   /* the dropouts change the training forward, never the inference one */
                double train = lloss(k);
                k->keep = 0;
                double infer = lloss(k);
                k->m.dropout_seed = 99;
                assert_true(lloss(k) == infer);
                k->keep = 1;
                assert_true(fabs(train - infer) > 1e-6 * fabs(infer));
            }
            lc_free(&k->m);
            free(k);
        }
}

/* Save → load into a fresh model (inference) gives the same forward. */
static void test_longcat_save_load(void **state) {
    (void)state;
    LCase *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    lcase_init(a, LONGCAT_CFG(""));
    lcase_init(b, LONGCAT_CFG(""));
    linear_set_clear_adapters(&b->m.linears);
    a->keep = b->keep = 0;
    char *dir = tmpdir_make(), *p = path_join(dir, "pytorch_lora_weights.safetensors");
    Err e = {0};
    if (linear_set_save_adapters(&a->m.linears, p, DT_F32, &e)) fail_msg("%s", e.msg);
    if (linear_set_load_adapters(&b->m.linears, p, 1.0f, &e)) fail_msg("%s", e.msg);
    double la = lloss(a), lb = lloss(b);
    assert_true(fabs(la - lb) <= 1e-5 * fabs(la));
    /* strength 0: the base model */
    if (linear_set_load_adapters(&b->m.linears, p, 0.0f, &e)) fail_msg("%s", e.msg);
    double l0 = lloss(b);
    linear_set_clear_adapters(&b->m.linears);
    assert_true(lloss(b) == l0);
    lc_free(&a->m); lc_free(&b->m);
    free(a); free(b); free(p);
    tmpdir_remove(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qwen_fd), cmocka_unit_test(test_qwen_checkpointing_equal), cmocka_unit_test(test_longcat_fd),
        cmocka_unit_test(test_longcat_save_load),
    };
    return cmocka_run_group_tests_name("lycoris_transformers", tests, NULL, NULL);
}
