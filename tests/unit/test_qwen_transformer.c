/* Qwen-Image transformer beyond the golden: LoRA gradients by finite differences through the whole
 * model, gradient checkpointing equals keeping activations, B = 0 changes nothing, and LoRA files
 * (ours, ComfyUI-style with .alpha, kohya names) load back to the same forward. */
#include "test_util.h"
#include <math.h>
#include "base/files.h"
#include "models/qwen_image/qwen_image.h"
#include "tensor/safetensors.h"

static QiConfig tiny(void) {
    QiConfig c = {0};
    c.in_channels = 16; c.out_channels = 4; c.patch_size = 2; c.num_layers = 2; c.heads = 2; c.head_dim = 8;
    c.joint_attention_dim = 12; c.axes[0] = 2; c.axes[1] = 2; c.axes[2] = 4; c.dim = 16;
    return c;
}

typedef struct Case { float img[20 * 16], txt[5 * 12], g[20 * 16]; unsigned char mask[5]; QiInput in; } Case;

static void case_init(Case *k, int zct_refs) {
    Rng r; rng_seed(&r, 77);
    rng_fill_normal(&r, k->img, 20 * 16, 0, 1); rng_fill_normal(&r, k->txt, 5 * 12, 0, 1); rng_fill_normal(&r, k->g, 20 * 16, 0, 1);
    memset(k->mask, 1, 5); k->mask[4] = 0;
    memset(&k->in, 0, sizeof k->in);
    k->in.n_img = zct_refs ? 2 : 1;
    k->in.img_h[0] = 3; k->in.img_w[0] = 4;               /* 12 target tokens */
    if (zct_refs) { k->in.img_h[1] = 2; k->in.img_w[1] = 4; } /* + 8 reference tokens */
    else { k->in.img_h[0] = 4; k->in.img_w[0] = 5; }       /* 20 tokens */
    k->in.img = k->img; k->in.txt = k->txt; k->in.txt_len = 5; k->in.txt_mask = k->mask;
    k->in.timestep = 0.6f; k->in.training = 1;
}

static double loss_of(QiModel *m, Case *k) {
    float out[20 * 16];
    Err e = {0};
    if (qi_forward(m, &k->in, out, NULL, &e)) fail_msg("%s", e.msg);
    double s = 0;
    for (int i = 0; i < 20 * 16; i++) s += (double)out[i] * k->g[i];
    return s;
}

static void make_model_d(QiModel *m, int zct, int with_lora, float b_std, float dropout) {
    QiConfig c = tiny(); c.zero_cond_t = zct;
    Err e = {0};
    assert_int_equal(qi_init_random(m, &c, 5, DT_F32, &e), 0);
    if (with_lora) {
        static const char *const T[] = {"to_q", "to_v", "add_k_proj", "img_mlp.net.2", "proj_out"};
        LoraSpec s = {4, 8.0f, dropout, T, 5, 9};
        Rng r; rng_seed(&r, 9);
        assert_int_equal(linear_set_attach_lora(&m->linears, &s, &e), 0);
        for (int i = 0; i < m->linears.n; i++) {
            int rank; float *A, *B;
            const Linear *l = m->linears.l[i];
            if (l->ad && !lora_adapter_factors(l->ad, &rank, &A, &B)) rng_fill_normal(&r, B, (size_t)l->out * rank, 0, b_std);
        }
    }
}

static void make_model(QiModel *m, int zct, int with_lora, float b_std) { make_model_d(m, zct, with_lora, b_std, 0.0f); }

/* The adapters' trainable parameters. */
static TrainParam *params_of(QiModel *m, int *n) { return (TrainParam *)linear_set_params(&m->linears, n); }

static void test_lora_gradients_fd(void **state) {
    (void)state;
    /* zero_cond_t off/on; the last round with lora_dropout 0.3 (every training forward of the check
     * uses the same dropout seed, so the masks are the same in the analytic and numeric passes) */
    for (int round = 0; round < 3; round++) {
        int zct = round == 1;
        QiModel m; make_model_d(&m, zct, 1, 0.3f, round == 2 ? 0.3f : 0.0f);
        Case k; case_init(&k, zct);
        k.in.dropout_seed = 1234;
        loss_of(&m, &k);
        Err e = {0};
        float dimg[20 * 16];
        assert_int_equal(qi_backward(&m, k.g, dimg, NULL, &e), 0);
        int np; TrainParam *params = params_of(&m, &np);
        for (int p = 0; p < np; p++) {
            TrainParam *tp = &params[p];
            float *g = malloc(tp->numel * sizeof(float));
            memcpy(g, tp->grad, tp->numel * sizeof(float));
            /* errors relative to the tensor's largest gradient: float32 forward noise is ~1e-4 absolute here */
            double worst = 0, gmax = 5e-2; /* floor: the float32 forward resolves a central difference to ~2e-4 */
            for (size_t i = 0; i < tp->numel; i++) if (fabs(g[i]) > gmax) gmax = fabs(g[i]);
            for (size_t i = 0; i < tp->numel; i += tp->numel / 5 + 1) {
                float keep = tp->value[i], h = 1e-2f;
                tp->value[i] = keep + h; double lp = loss_of(&m, &k);
                tp->value[i] = keep - h; double lm = loss_of(&m, &k);
                tp->value[i] = keep;
                double num = (lp - lm) / (2 * h), err = fabs(num - g[i]) / gmax;
                if (err > worst) worst = err;
            }
            if (getenv("FD_VERBOSE")) fprintf(stderr, "%s worst %.3e gmax %.3e\n", tp->name, worst, gmax);
            if (worst > 1e-2) fail_msg("zct=%d %s: finite-difference mismatch %.3e", zct, tp->name, worst);
            free(g);
        }
        /* input gradient */
        for (int i = 0; i < 20 * 16; i += 37) {
            float keep = k.img[i], h = 1e-2f;
            k.img[i] = keep + h; double lp = loss_of(&m, &k);
            k.img[i] = keep - h; double lm = loss_of(&m, &k);
            k.img[i] = keep;
            double num = (lp - lm) / (2 * h);
            /* absolute floor 1e-4: the float32 forward's noise in a central difference (see above);
             * small entries (|g| ~ 3e-3) moved by 8e-5 between runs with the threads' summation order */
            if (!(fabs(num - dimg[i]) <= 5e-3 * (fabs(num) + fabs(dimg[i])) + 1e-4)) fail_msg("zct=%d dimg[%d]: analytic %g, finite difference %g", zct, i, dimg[i], num);
        }
        qi_free(&m);
    }
}

static void test_checkpointing_equal(void **state) {
    (void)state;
    float g0[4096], g1[4096];
    size_t n0 = 0;
    for (int ck = 0; ck < 2; ck++) {
        QiModel m; make_model_d(&m, 1, 1, 0.3f, 0.3f);   /* with dropout: the recompute must redraw the same masks */
        m.checkpointing = ck;
        Case k; case_init(&k, 1);
        k.in.dropout_seed = 77;
        Err e = {0};
        loss_of(&m, &k);
        assert_int_equal(qi_backward(&m, k.g, NULL, NULL, &e), 0);
        size_t off = 0;
        int np; TrainParam *params = params_of(&m, &np);
        for (int p = 0; p < np && off < 4096; p++)
            for (size_t i = 0; i < params[p].numel && off < 4096; i++) (ck ? g1 : g0)[off++] = params[p].grad[i];
        n0 = off;
        qi_free(&m);
    }
    for (size_t i = 0; i < n0; i++) assert_true(g0[i] == g1[i]);
}

static void test_lora_zero_and_files(void **state) {
    (void)state;
    Case k; case_init(&k, 1);
    k.in.training = 0;
    float base[20 * 16], out[20 * 16], out2[20 * 16];
    QiModel m0; make_model(&m0, 0, 0, 0);
    Err e = {0};
    assert_int_equal(qi_forward(&m0, &k.in, base, NULL, &e), 0);
    QiModel m; make_model(&m, 0, 1, 0.0f);   /* B = 0: the adapter is the identity */
    assert_int_equal(qi_forward(&m, &k.in, out, NULL, &e), 0);
    for (int i = 0; i < 20 * 16; i++) assert_true(out[i] == base[i]);
    qi_free(&m);
    /* save → load into a fresh base gives the same forward */
    make_model(&m, 0, 1, 0.3f);
    assert_int_equal(qi_forward(&m, &k.in, out, NULL, &e), 0);
    char *d = tmpdir_make(), *p = path_join(d, "pytorch_lora_weights.safetensors");
    assert_int_equal(linear_set_save_adapters(&m.linears, p, DT_F32, &e), 0);
    StFile f;
    assert_int_equal(st_open(&f, p, &e), 0);
    assert_non_null(st_find(&f, "transformer.transformer_blocks.0.attn.to_q.lora_A.weight"));
    assert_non_null(st_find(&f, "transformer.transformer_blocks.1.attn.add_k_proj.lora_B.weight"));
    assert_non_null(strstr(st_meta(&f, "lora_adapter_metadata"), "\"lora_alpha\":4"));
    /* the same adapters in ComfyUI style: lora_down/lora_up with an .alpha tensor, B not folded */
    StWriter w; stw_init(&w);
    for (int i = 0; i < f.n; i++) {
        const StTensor *t = &f.t[i];
        char key[512], mod[400];
        const char *s = t->name + strlen("transformer.");
        int is_a = strstr(s, ".lora_A.") != NULL;
        size_t lm = strlen(s) - strlen(".lora_A.weight");
        memcpy(mod, s, lm); mod[lm] = 0;
        float *v = st_to_f32(t);
        if (!is_a) for (size_t j = 0; j < t->numel; j++) v[j] /= 2.0f;   /* alpha/r = 2 applied by the loader */
        snprintf(key, sizeof key, "diffusion_model.%s.%s", mod, is_a ? "lora_down.weight" : "lora_up.weight");
        stw_add_f32(&w, key, 2, t->shape, v);
        if (is_a) { float alpha = 2.0f * (float)t->shape[0]; int64_t one = 1; snprintf(key, sizeof key, "diffusion_model.%s.alpha", mod); stw_add_f32(&w, key, 0, &one, &alpha); }
        free(v);
    }
    st_close(&f);
    char *pc = path_join(d, "comfy.safetensors");
    assert_int_equal(stw_write(&w, pc, &e), 0);
    stw_free(&w);
    const char *files[2] = {p, pc};
    for (int t = 0; t < 2; t++) {
        QiModel m2; make_model(&m2, 0, 0, 0);
        if (linear_set_load_adapters(&m2.linears, files[t], 1.0f, &e)) fail_msg("%s", e.msg);
        assert_int_equal(qi_forward(&m2, &k.in, out2, NULL, &e), 0);
        for (int i = 0; i < 20 * 16; i++) assert_true(fabsf(out2[i] - out[i]) <= 1e-5f * (1 + fabsf(out[i])));
        qi_free(&m2);
    }
    /* a LoRA for another model is refused with a clear message */
    QiConfig c = tiny(); c.dim = 32; c.head_dim = 16; c.axes[2] = 12;
    QiModel big; assert_int_equal(qi_init_random(&big, &c, 1, DT_F32, &e), 0);
    assert_int_not_equal(linear_set_load_adapters(&big.linears, p, 1.0f, &e), 0);
    assert_contains(e.msg, "a LoRA for another model size?");
    qi_free(&big);
    qi_free(&m); qi_free(&m0);
    free(p); free(pc); tmpdir_remove(d);
}

/* Text token t sits at RoPE position M + t (M = half the largest grid side) in diffusers' table of
 * 4096 positions: a prompt reaching past it is refused before any work. */
static void test_text_positions_limit(void **state) {
    (void)state;
    QiModel m; make_model(&m, 0, 0, 0);
    int L = 4096 - 10;                                   /* a 20x20 grid: M = 10 */
    float *txt = calloc((size_t)(L + 1) * 12, sizeof(float)), *img = calloc(400 * 16, sizeof(float)), *out = malloc(400 * 16 * sizeof(float));
    QiInput in = {0};
    in.n_img = 1; in.img_h[0] = 20; in.img_w[0] = 20; in.img = img; in.txt = txt; in.txt_len = L + 1; in.timestep = 0.5f;
    Err e = {0};
    assert_int_equal(qi_forward(&m, &in, out, NULL, &e), -1);
    assert_contains(e.msg, "transformer: 4087 prompt rows after the image grids' 10 positions exceed the 4096 text positions");
    in.txt_len = 16;   /* well inside: runs */
    assert_int_equal(qi_forward(&m, &in, out, NULL, &e), 0);
    free(txt); free(img); free(out);
    qi_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lora_gradients_fd),
        cmocka_unit_test(test_checkpointing_equal),
        cmocka_unit_test(test_lora_zero_and_files),
        cmocka_unit_test(test_text_positions_limit),
    };
    return cmocka_run_group_tests_name("qwen_transformer", tests, NULL, NULL);
}
