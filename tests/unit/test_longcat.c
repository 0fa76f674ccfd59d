/* test_longcat.c — LongCat transformer on tiny random models: LoRA gradients against finite
 * differences, LoRA save -> load gives the same forward, per-token timesteps that are all equal
 * reduce to the single-timestep path, gradient checkpointing and batching change nothing, and
 * config errors name the key. */
#include "test_util.h"
#include "models/longcat_image/longcat.h"
#include "base/rng.h"
#include "models/transformer.h"
#include <math.h>

static const char *TINY = "{\"_class_name\": \"LongCatImageTransformer2DModel\", \"num_layers\": 1, \"num_single_layers\": 1,"
                          " \"attention_head_dim\": 8, \"num_attention_heads\": 2, \"axes_dims_rope\": [2, 2, 4],"
                          " \"in_channels\": 8, \"joint_attention_dim\": 12, \"patch_size\": 1}";

typedef struct Case {
    int B, L, N;
    float *x, *ctx, *t, *txt_ids, *img_ids, *R;
    int per_token;
} Case;

/* Batch B, text L, a 2x2 target and (edit) a 2x2 reference: N = 4 or 8. */
static Case case_make(int B, int L, int edit, uint64_t seed) {
    Case c = { .B = B, .L = L, .N = edit ? 8 : 4 };
    Rng r; rng_seed(&r, seed);
    c.x = malloc(sizeof(float) * B * c.N * 8); rng_fill_normal(&r, c.x, (size_t)B * c.N * 8, 0, 1);
    c.ctx = malloc(sizeof(float) * B * L * 12); rng_fill_normal(&r, c.ctx, (size_t)B * L * 12, 0, 1);
    c.R = malloc(sizeof(float) * B * c.N * 8); rng_fill_normal(&r, c.R, (size_t)B * c.N * 8, 0, 1);
    c.t = malloc(sizeof(float) * B * c.N);
    for (int b = 0; b < B; b++) for (int i = 0; i < c.N; i++) c.t[b * c.N + i] = 0.3f + 0.2f * b;
    c.txt_ids = malloc(sizeof(float) * L * 3); lc_txt_ids(L, c.txt_ids);
    c.img_ids = malloc(sizeof(float) * c.N * 3);
    lc_img_ids(1, L, 2, 2, c.img_ids);
    if (edit) lc_img_ids(2, L, 2, 2, c.img_ids + 12);
    return c;
}
static void case_free(Case *c) { free(c->x); free(c->ctx); free(c->t); free(c->txt_ids); free(c->img_ids); free(c->R); }

static LcInput input_of(const Case *c) {
    return (LcInput){ .B = c->B, .L = c->L, .N = c->N, .x = c->x, .ctx = c->ctx, .timestep = c->t, .per_token = c->per_token,
                      .txt_ids = c->txt_ids, .img_ids = c->img_ids };
}

/* Built in place: the model's linear layers are registered by address. */
static void tiny_model(LcModel *m, uint64_t seed) {
    Err e = { 0 };
    cJSON *cfg = cJSON_Parse(TINY);
    assert_int_equal(lc_init_random(m, cfg, seed, DT_F32, &e), 0);
    cJSON_Delete(cfg);
}

static int add_lora(LcModel *m, const char *const *targets, int n, int rank, float alpha, uint64_t seed, Err *e) {
    LoraSpec s = { rank, alpha, 0.0f, targets, n, seed };
    return linear_set_attach_lora(&m->linears, &s, e);
}

/* B random (B = 0 would make dA vanish). */
static void randomize_b(LcModel *m, Rng *r, float std) {
    for (int i = 0; i < m->linears.n; i++) {
        int rank; float *A, *B;
        const Linear *l = m->linears.l[i];
        if (l->ad && !lora_adapter_factors(l->ad, &rank, &A, &B)) rng_fill_normal(r, B, (size_t)l->out * rank, 0, std);
    }
}

static void set_dropout(LcModel *m, float p) {
    for (int i = 0; i < m->linears.n; i++) if (m->linears.l[i]->ad) m->linears.l[i]->ad->dropout = p;
}

static double loss_of(LcModel *m, const Case *c, int keep) {
    Err e = { 0 };
    LcInput in = input_of(c);
    size_t n = (size_t)c->B * c->N * 8;
    float *out = malloc(n * sizeof(float));
    assert_int_equal(lc_forward(m, &in, keep, out, NULL, &e), 0);
    double l = 0;
    for (size_t i = 0; i < n; i++) l += (double)out[i] * c->R[i];
    free(out);
    return l;
}

/* LoRA on the default targets with B random (B = 0 would make dA vanish): finite differences on
 * samples of every trainable tensor, edit case with per-token timesteps (reference at t = 0). */
static void test_lora_grads_fd(void **state) {
    (void)state;
    LcModel m; tiny_model(&m, 11);
    Err e = { 0 };
    assert_int_equal(add_lora(&m, NULL, 0, 3, 6.0f, 5, &e), 0);
    assert_int_equal(linear_set_n_adapters(&m.linears), 4 + 3);      /* double: to_q/k/v/out.0; single: to_q/k/v */
    Rng r; rng_seed(&r, 9);
    randomize_b(&m, &r, 0.3f);
    Case c = case_make(1, 3, 1, 21);
    c.per_token = 1;
    for (int i = 4; i < 8; i++) c.t[i] = 0;
    int np; const TrainParam *tp = lc_train_params(&m, &np);
    assert_int_equal(np, 2 * linear_set_n_adapters(&m.linears));
    for (int ck = 0; ck < 2; ck++) {
        m.checkpointing = ck;
        lc_zero_grads(&m);
        loss_of(&m, &c, 1);
        float *dout = c.R;
        assert_int_equal(lc_backward(&m, dout, NULL, NULL, &e), 0);
        tp = lc_train_params(&m, &np);
        for (int p = 0; p < np; p++)
            for (int k = 0; k < 3; k++) {
                size_t j = (size_t)(rng_u64(&r) % tp[p].numel);
                float v = tp[p].value[j], h = 1e-2f;
                tp[p].value[j] = v + h; double lp = loss_of(&m, &c, 0);
                tp[p].value[j] = v - h; double lm = loss_of(&m, &c, 0);
                tp[p].value[j] = v;
                double fd = (lp - lm) / (2 * h), an = tp[p].grad[j];
                if (fabs(fd - an) > 2e-3 + 2e-2 * fabs(fd)) fail_msg("%s[%zu] (ckpt %d): analytic %g, finite difference %g", tp[p].name, j, ck, an, fd);
            }
    }
    case_free(&c);
    lc_free(&m);
}

/* lora_dropout: training forwards drop adapter inputs (inference forwards do not), the mask depends
 * only on the forward's seed (a checkpointed recompute and the backward redraw it), and the LoRA and
 * input gradients under dropout match finite differences of the same masked forward. */
static void test_lora_dropout(void **state) {
    (void)state;
    LcModel m; tiny_model(&m, 16);
    Err e = { 0 };
    assert_int_equal(add_lora(&m, NULL, 0, 3, 6.0f, 5, &e), 0);
    Rng r; rng_seed(&r, 10);
    randomize_b(&m, &r, 0.3f);
    Case c = case_make(2, 3, 1, 23);
    double infer = loss_of(&m, &c, 0), train0 = loss_of(&m, &c, 1);
    assert_true(infer == train0);                     /* dropout 0: training = inference */
    set_dropout(&m, 0.3f); m.dropout_seed = 12345;
    double a = loss_of(&m, &c, 1), b = loss_of(&m, &c, 1);
    assert_true(a == b);                              /* same seed, same masks */
    assert_true(fabs(a - infer) > 1e-4 * fabs(infer)); /* the masks change the training forward */
    assert_true(loss_of(&m, &c, 0) == infer);         /* and never the inference one */
    int np; const TrainParam *tp;
    float *dx = malloc(sizeof(float) * 2 * c.N * 8);
    for (int ck = 0; ck < 2; ck++) {
        m.checkpointing = ck;
        lc_zero_grads(&m);
        loss_of(&m, &c, 1);
        assert_int_equal(lc_backward(&m, c.R, dx, NULL, &e), 0);
        tp = lc_train_params(&m, &np);
        for (int p = 0; p < np; p++)
            for (int k = 0; k < 2; k++) {
                size_t j = (size_t)(rng_u64(&r) % tp[p].numel);
                float v = tp[p].value[j], h = 1e-2f;
                tp[p].value[j] = v + h; double lp = loss_of(&m, &c, 1);
                tp[p].value[j] = v - h; double lm = loss_of(&m, &c, 1);
                tp[p].value[j] = v;
                double fd = (lp - lm) / (2 * h), an = tp[p].grad[j];
                if (fabs(fd - an) > 2e-3 + 2e-2 * fabs(fd)) fail_msg("dropout %s[%zu] (ckpt %d): analytic %g, finite difference %g", tp[p].name, j, ck, an, fd);
            }
        for (int k = 0; k < 4; k++) {
            size_t j = (size_t)(k * 13 + 5) % (size_t)(2 * c.N * 8);
            float o = c.x[j], h = 1e-2f;
            c.x[j] = o + h; double lp = loss_of(&m, &c, 1);
            c.x[j] = o - h; double lm = loss_of(&m, &c, 1);
            c.x[j] = o;
            double fd = (lp - lm) / (2 * h);
            if (fabs(fd - dx[j]) > 2e-3 + 2e-2 * fabs(fd)) fail_msg("dropout dx[%zu] (ckpt %d): analytic %g, finite difference %g", j, ck, dx[j], fd);
        }
    }
    free(dx);
    case_free(&c);
    lc_free(&m);
}

/* Input gradients against finite differences (full-gradient mode, t2i, batch 2). */
static void test_input_grads_fd(void **state) {
    (void)state;
    LcModel m; tiny_model(&m, 12);
    lc_enable_full_grads(&m);
    Err e = { 0 };
    Case c = case_make(2, 2, 0, 22);
    loss_of(&m, &c, 1);
    float *dx = malloc(sizeof(float) * 2 * c.N * 8), *dctx = malloc(sizeof(float) * 2 * c.L * 12);
    assert_int_equal(lc_backward(&m, c.R, dx, dctx, &e), 0);
    for (int k = 0; k < 6; k++) {
        float *v = k % 2 ? c.ctx : c.x, *g = k % 2 ? dctx : dx;
        size_t j = (size_t)(k * 7) % (size_t)(k % 2 ? 2 * c.L * 12 : 2 * c.N * 8);
        float o = v[j], h = 1e-2f;
        v[j] = o + h; double lp = loss_of(&m, &c, 0);
        v[j] = o - h; double lm = loss_of(&m, &c, 0);
        v[j] = o;
        double fd = (lp - lm) / (2 * h);
        if (fabs(fd - g[j]) > 2e-3 + 2e-2 * fabs(fd)) fail_msg("%s[%zu]: analytic %g, finite difference %g", k % 2 ? "dctx" : "dx", j, g[j], fd);
    }
    free(dx); free(dctx);
    case_free(&c);
    lc_free(&m);
}

static float *forward_of(LcModel *m, const Case *c) {
    Err e = { 0 };
    LcInput in = input_of(c);
    float *out = malloc(sizeof(float) * c->B * c->N * 8);
    assert_int_equal(lc_forward(m, &in, 0, out, NULL, &e), 0);
    return out;
}

static void test_lora_save_load(void **state) {
    (void)state;
    LcModel m; tiny_model(&m, 13);
    Err e = { 0 };
    const char *targets[] = { "to_qkv", "proj_mlp", "attn.to_out.0" };
    assert_int_equal(add_lora(&m, targets, 3, 2, 4.0f, 1, &e), 0);
    assert_int_equal(linear_set_n_adapters(&m.linears), 2);   /* single proj_mlp and double to_out.0 (no fused to_qkv in diffusers naming) */
    Rng r; rng_seed(&r, 3);
    randomize_b(&m, &r, 0.5f);
    Case c = case_make(1, 3, 1, 23);
    float *a = forward_of(&m, &c);
    char *dir = tmpdir_make(), path[600];
    snprintf(path, sizeof path, "%s/pytorch_lora_weights.safetensors", dir);
    assert_int_equal(linear_set_save_adapters(&m.linears, path, DT_F32, &e), 0);
    LcModel m2; tiny_model(&m2, 13);
    assert_int_equal(linear_set_load_adapters(&m2.linears, path, 1.0f, &e), 0);
    assert_int_equal(linear_set_n_adapters(&m2.linears), 2);
    float *b = forward_of(&m2, &c);
    double base = 0, diff = 0;
    for (int i = 0; i < c.N * 8; i++) { diff = fmax(diff, fabs(a[i] - b[i])); base = fmax(base, fabs(a[i])); }
    assert_true(diff <= 1e-5 * base);
    /* the adapter changes the output (the test is not vacuous) */
    LcModel m3; tiny_model(&m3, 13);
    float *plain = forward_of(&m3, &c);
    double d3 = 0;
    for (int i = 0; i < c.N * 8; i++) d3 = fmax(d3, fabs(a[i] - plain[i]));
    assert_true(d3 > 1e-3 * base);
    /* strength 0 is the base model; strength s scales the (linear in B) adapter delta at the first
     * layer it touches, so the output moves part of the way */
    LcModel m4; tiny_model(&m4, 13);
    assert_int_equal(linear_set_load_adapters(&m4.linears, path, 0.0f, &e), 0);
    float *zero = forward_of(&m4, &c);
    double d4 = 0;
    for (int i = 0; i < c.N * 8; i++) d4 = fmax(d4, fabs(zero[i] - plain[i]));
    assert_true(d4 <= 1e-6 * base);
    lc_free(&m4);
    LcModel m5; tiny_model(&m5, 13);
    assert_int_equal(linear_set_load_adapters(&m5.linears, path, 0.5f, &e), 0);
    float *half = forward_of(&m5, &c);
    double dh = 0, dfull = 0;
    for (int i = 0; i < c.N * 8; i++) { dh += fabs(half[i] - plain[i]); dfull += fabs(a[i] - plain[i]); }
    assert_true(dh > 0.2 * dfull && dh < 0.8 * dfull);
    free(zero); free(half);
    lc_free(&m5);
    /* no module matches -> named error */
    const char *bad[] = { "nonexistent" };
    assert_int_equal(add_lora(&m3, bad, 1, 2, 2.0f, 1, &e), -1);
    assert_contains(e.msg, "nonexistent");
    free(a); free(b); free(plain);
    lc_free(&m); lc_free(&m2); lc_free(&m3);
    tmpdir_remove(dir);
    case_free(&c);
}

/* Per-token timesteps that are all equal give exactly the single-timestep forward and gradients;
 * different ones change the output; batch 2 equals two batch-1 runs. */
static void test_per_token_and_batch(void **state) {
    (void)state;
    LcModel m; tiny_model(&m, 14);
    lc_enable_full_grads(&m);
    Err e = { 0 };
    Case c = case_make(2, 3, 1, 24);
    float *single = forward_of(&m, &c);    /* t[b*N] read as the per-sample σ: c.t = [σ0 ×N, σ1 ×N] */
    float tb[2] = { c.t[0], c.t[c.N] };
    float *keep_t = c.t;
    c.t = tb;
    float *single2 = forward_of(&m, &c);
    c.t = keep_t;
    c.per_token = 1;
    float *pt = forward_of(&m, &c);
    for (int i = 0; i < 2 * c.N * 8; i++) assert_true(pt[i] == single2[i]);
    (void)single;
    /* gradients equal too */
    int np; const TrainParam *tp;
    lc_zero_grads(&m); loss_of(&m, &c, 1); assert_int_equal(lc_backward(&m, c.R, NULL, NULL, &e), 0);
    tp = lc_train_params(&m, &np);
    float *g1 = malloc(sizeof(float) * tp[2].numel); memcpy(g1, tp[2].grad, sizeof(float) * tp[2].numel);
    c.per_token = 0; c.t = tb;
    lc_zero_grads(&m); loss_of(&m, &c, 1); assert_int_equal(lc_backward(&m, c.R, NULL, NULL, &e), 0);
    for (size_t i = 0; i < tp[2].numel; i++) assert_true(fabsf(g1[i] - tp[2].grad[i]) <= 1e-6f * (1 + fabsf(g1[i])));
    c.t = keep_t; c.per_token = 1;
    /* reference at t = 0 changes the target's prediction */
    for (int i = 4; i < 8; i++) c.t[i] = 0;
    float *pt0 = forward_of(&m, &c);
    double d = 0;
    for (int i = 0; i < 4 * 8; i++) d = fmax(d, fabs(pt0[i] - pt[i]));
    assert_true(d > 1e-4);
    /* batch 2 = sample by sample */
    Case c1 = c; c1.B = 1; c1.per_token = 1;
    float *s0 = forward_of(&m, &c1);
    c1.x = c.x + c.N * 8; c1.ctx = c.ctx + c.L * 12; c1.t = c.t + c.N;
    float *s1 = forward_of(&m, &c1);
    for (int i = 0; i < c.N * 8; i++) {
        assert_true(fabsf(s0[i] - pt0[i]) <= 1e-5f * (1 + fabsf(s0[i])));
        assert_true(fabsf(s1[i] - pt0[c.N * 8 + i]) <= 1e-5f * (1 + fabsf(s1[i])));
    }
    free(single); free(single2); free(pt); free(pt0); free(s0); free(s1); free(g1);
    case_free(&c);
    lc_free(&m);
}

static void test_config_errors(void **state) {
    (void)state;
    LcConfig c; Err e = { 0 };
    cJSON *j = cJSON_Parse("{\"num_single_layers\": 2}");
    assert_int_equal(lc_config_parse(j, &c, &e), -1);
    assert_contains(e.msg, "num_layers");
    cJSON_Delete(j);
    j = cJSON_Parse("{\"num_layers\": 1, \"num_single_layers\": 1, \"attention_head_dim\": 8, \"axes_dims_rope\": [2, 2, 2]}");
    assert_int_equal(lc_config_parse(j, &c, &e), -1);
    assert_contains(e.msg, "axes_dims_rope");
    cJSON_Delete(j);
}

/* The Denoiser glue: a few plain gradient steps on the LoRA weights lower an MSE toward a fixed
 * target (edit sample, one reference, SimpleTuner's per-token conditioning). */
static void test_denoiser_trains(void **state) {
    (void)state;
    Transformer t;
    Err e = { 0 };
    cJSON *cfg = cJSON_Parse(TINY);
    assert_int_equal(transformer_init_random(&t, &LONGCAT_IMAGE_TRANSFORMER, cfg, 15, DT_F32, &e), 0);
    cJSON_Delete(cfg);
    const char *targets[] = { "to_q", "to_k", "to_v", "to_out.0", "proj_out" };   /* proj_out: also the final projection */
    LoraSpec ls = { 4, 4.0f, 0.0f, targets, 5, 2 };
    assert_int_equal(linear_set_attach_lora(t.linears, &ls, &e), 0);
    transformer_bind_denoiser(&t);
    t.refs_t0_in_training = 1;
    Denoiser dn = t.den;
    assert_int_equal(dn.n_params, 2 * linear_set_n_adapters(t.linears));
    Rng r; rng_seed(&r, 4);
    float tok[8 * 8], txt[3 * 12], target[4 * 8], pred[4 * 8], dpred[4 * 8];
    rng_fill_normal(&r, tok, 64, 0, 1); rng_fill_normal(&r, txt, 36, 0, 1); rng_fill_normal(&r, target, 32, 0, 1);
    DenoiseInput in = { .n_img = 2, .grid_h = { 2, 2 }, .grid_w = { 2, 2 }, .channels = 8, .tokens = tok, .txt_len = 3,
                        .txt_dim = 12, .txt = txt, .sigma = 0.6f, .training = 1 };
    double first = 0, last = 0;
    for (int step = 0; step < 20; step++) {
        assert_int_equal(dn.forward(dn.self, &in, pred, &e), 0);
        double loss = 0;
        for (int i = 0; i < 32; i++) { double df = pred[i] - target[i]; loss += df * df / 32; dpred[i] = (float)(2 * df / 32); }
        if (step == 0) first = loss;
        last = loss;
        for (int p = 0; p < dn.n_params; p++) memset(dn.params[p].grad, 0, dn.params[p].numel * sizeof(float));
        assert_int_equal(dn.backward(dn.self, dpred, &e), 0);
        for (int p = 0; p < dn.n_params; p++)
            for (size_t j = 0; j < dn.params[p].numel; j++) dn.params[p].value[j] -= 0.5f * dn.params[p].grad[j];
    }
    if (!(last < 0.7 * first)) fail_msg("loss %g -> %g did not fall", first, last);
    /* per-token conditioning (training forwards only) changes the prediction compared with one σ for
     * every token, which inference forwards always use */
    float p2[32];
    assert_int_equal(dn.forward(dn.self, &in, pred, &e), 0);
    in.training = 0;
    assert_int_equal(dn.forward(dn.self, &in, p2, &e), 0);
    double diff = 0;
    for (int i = 0; i < 32; i++) diff = fmax(diff, fabs(pred[i] - p2[i]));
    assert_true(diff > 1e-5);
    t.refs_t0_in_training = 0;
    in.training = 1;
    assert_int_equal(dn.forward(dn.self, &in, pred, &e), 0);
    for (int i = 0; i < 32; i++) assert_true(pred[i] == p2[i]);
    transformer_free(&t);
}

/* A transformer folder written by lc_save_full loads back (config.json + safetensors) to the same
 * forward; a missing tensor is named. */
static void test_folder_load(void **state) {
    (void)state;
    LcModel m; tiny_model(&m, 16);
    Err e = { 0 };
    char *dir = tmpdir_make(), path[600];
    snprintf(path, sizeof path, "%s/config.json", dir); write_text(path, TINY);
    snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors", dir);
    assert_int_equal(lc_save_full(&m, path, &e), 0);
    LcModel m2;
    if (lc_load(&m2, dir, &e)) fail_msg("%s", e.msg);
    Case c = case_make(1, 2, 0, 26);
    float *a = forward_of(&m, &c), *b = forward_of(&m2, &c);
    for (int i = 0; i < c.N * 8; i++) assert_true(a[i] == b[i]);
    free(a); free(b);
    lc_free(&m2);
    /* a checkpoint without one tensor: error names it */
    StWriter w; stw_init(&w);
    int64_t one = 1; float z = 0;
    stw_add_f32(&w, "x_embedder.weight", 1, &one, &z);
    assert_int_equal(stw_write(&w, path, &e), 0);
    stw_free(&w);
    assert_int_equal(lc_load(&m2, dir, &e), -1);
    assert_contains(e.msg, "x_embedder");
    lc_free(&m);
    case_free(&c);
    tmpdir_remove(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lora_grads_fd), cmocka_unit_test(test_lora_dropout), cmocka_unit_test(test_input_grads_fd), cmocka_unit_test(test_lora_save_load),
        cmocka_unit_test(test_per_token_and_batch), cmocka_unit_test(test_config_errors), cmocka_unit_test(test_denoiser_trains), cmocka_unit_test(test_folder_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
