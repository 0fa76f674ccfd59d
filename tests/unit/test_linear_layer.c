/* The adapter-carrying linear layer both transformers are built from (models/adapter): a forward
 * with an adapter equals the forward with the merged weight W + ΔW (bf16 and quantised bases),
 * adapter and input gradients match finite differences with dropout off and on, dropout masks depend
 * only on (seed, layer, first row), and a LinearSet attaches adapters by PEFT target names. */
#include "test_util.h"
#include <math.h>
#include "base/rng.h"
#include "kernels/linear.h"
#include "models/adapter/linear_set.h"
#include "tensor/quant.h"

enum { IN = 24, OUT = 20, N = 7, RANK = 3 };

typedef struct Layer {
    float wf[OUT * IN], b[OUT];
    uint16_t wbf[OUT * IN];
    Weight w;
    Linear lin;
    QuantStorage qs;
} Layer;

static void layer_init(Layer *L, uint64_t seed, float dropout) {
    memset(L, 0, sizeof *L);
    Rng r; rng_seed(&r, seed);
    rng_fill_normal(&r, L->wf, OUT * IN, 0, 0.2f);
    rng_fill_normal(&r, L->b, OUT, 0, 0.1f);
    dtype_from_f32(DT_BF16, L->wf, L->wbf, OUT * IN);
    L->w = (Weight){DT_BF16, L->wbf, OUT, IN, QUANT_NONE, NULL, 0};
    L->lin = (Linear){"blocks.0.attn.to_q", IN, OUT, &L->w, L->b, NULL, NULL, NULL, 5};
    L->lin.ad = lora_adapter_new("blocks.0.attn.to_q", IN, OUT, RANK, 6.0f, dropout, seed + 1);
    int rank; float *A, *B;
    assert_int_equal(lora_adapter_factors(L->lin.ad, &rank, &A, &B), 0);
    rng_fill_normal(&r, B, (size_t)OUT * RANK, 0, 0.3f);   /* B = 0 would hide dA */
}

static void layer_free(Layer *L) { adapter_free(L->lin.ad); quant_storage_free(&L->qs); }

static double loss_of(const Layer *L, const float *x, const float *g, int training, uint64_t seed, LinearScratch *s) {
    float y[N * OUT], acts[N * RANK];
    LinearDrop d = {training, seed, 0};
    linear_layer_forward(&L->lin, x, IN, N, y, OUT, acts, &d, s);
    double l = 0;
    for (int i = 0; i < N * OUT; i++) l += (double)y[i] * g[i];
    return l;
}

static void test_merged_weight(void **state) {
    (void)state;
    for (int q = 0; q < 2; q++) {
        Layer L; layer_init(&L, 3, 0.0f);
        Err e = {0};
        if (q) assert_int_equal(weight_quantize(&L.w, QUANT_INT8, &L.qs, &e), 0);
        float x[N * IN], y[N * OUT], ym[N * OUT], acts[N * RANK], W[OUT * IN];
        Rng r; rng_seed(&r, 4);
        rng_fill_normal(&r, x, N * IN, 0, 1);
        LinearScratch s = {0};
        linear_layer_forward(&L.lin, x, IN, N, y, OUT, acts, NULL, &s);
        linear_merged_weight(&L.lin, W);
        Weight wm = {DT_F32, W, OUT, IN, QUANT_NONE, NULL, 0};
        linear_forward(x, IN, N, &wm, L.b, ym, OUT, 0.0f);
        double worst = 0, big = 0;
        for (int i = 0; i < N * OUT; i++) { worst = fmax(worst, fabs(y[i] - ym[i])); big = fmax(big, fabs(ym[i])); }
        if (worst > 1e-5 * big) fail_msg("quant %d: adapter forward differs from the merged weight by %g (max %g)", q, worst, big);
        /* and the adapter really changes the output */
        Adapter *a = L.lin.ad;
        L.lin.ad = NULL;
        linear_layer_forward(&L.lin, x, IN, N, ym, OUT, NULL, NULL, &s);
        L.lin.ad = a;
        worst = 0;
        for (int i = 0; i < N * OUT; i++) worst = fmax(worst, fabs(y[i] - ym[i]));
        assert_true(worst > 1e-3 * big);
        linear_scratch_free(&s);
        layer_free(&L);
    }
}

static void test_gradients_fd(void **state) {
    (void)state;
    for (int drop = 0; drop < 2; drop++) {
        Layer L; layer_init(&L, 7, drop ? 0.4f : 0.0f);
        float x[N * IN], g[N * OUT], y[N * OUT], acts[N * RANK], dx[N * IN];
        Rng r; rng_seed(&r, 8);
        rng_fill_normal(&r, x, N * IN, 0, 1); rng_fill_normal(&r, g, N * OUT, 0, 1);
        LinearScratch s = {0};
        const uint64_t seed = 99;
        LinearDrop d = {1, seed, 0};
        linear_layer_forward(&L.lin, x, IN, N, y, OUT, acts, &d, &s);
        Adapter *a = L.lin.ad;
        for (int p = 0; p < a->n_params; p++) memset(a->params[p].grad, 0, a->params[p].numel * sizeof(float));
        linear_layer_backward(&L.lin, g, OUT, x, IN, N, acts, dx, IN, 0.0f, &d, &s);
        for (int p = 0; p < a->n_params; p++) {
            TrainParam *tp = &a->params[p];
            for (size_t j = 0; j < tp->numel; j += 5) {
                float v = tp->value[j], h = 1e-2f;
                tp->value[j] = v + h; double lp = loss_of(&L, x, g, 1, seed, &s);
                tp->value[j] = v - h; double lm = loss_of(&L, x, g, 1, seed, &s);
                tp->value[j] = v;
                double fd = (lp - lm) / (2 * h);
                if (fabs(fd - tp->grad[j]) > 1e-3 + 1e-2 * fabs(fd)) fail_msg("dropout %d %s[%zu]: analytic %g, fd %g", drop, tp->name, j, tp->grad[j], fd);
            }
        }
        for (int j = 0; j < N * IN; j += 3) {
            float v = x[j], h = 1e-2f;
            x[j] = v + h; double lp = loss_of(&L, x, g, 1, seed, &s);
            x[j] = v - h; double lm = loss_of(&L, x, g, 1, seed, &s);
            x[j] = v;
            double fd = (lp - lm) / (2 * h);
            if (fabs(fd - dx[j]) > 1e-3 + 1e-2 * fabs(fd)) fail_msg("dropout %d dx[%d]: analytic %g, fd %g", drop, j, dx[j], fd);
        }
        /* masks: the same seed draws the same; another seed or another first row others; inference never drops */
        double a1 = loss_of(&L, x, g, 1, seed, &s), a2 = loss_of(&L, x, g, 1, seed, &s), b1 = loss_of(&L, x, g, 1, seed + 1, &s);
        double inf = loss_of(&L, x, g, 0, seed, &s);
        assert_true(a1 == a2);
        if (drop) { assert_true(a1 != b1); assert_true(a1 != inf); }
        else { assert_true(a1 == b1); assert_true(a1 == inf); }
        linear_scratch_free(&s);
        layer_free(&L);
    }
}

static void test_set_targets(void **state) {
    (void)state;
    static const char *const NAMES[] = {"transformer_blocks.0.attn.to_q", "transformer_blocks.0.attn.to_k", "transformer_blocks.0.attn.to_out.0",
                                        "transformer_blocks.0.ff.net.2", "proj_out"};
    Layer L[5];
    LinearSet set = {0};
    for (int i = 0; i < 5; i++) {
        layer_init(&L[i], 20 + i, 0);
        adapter_free(L[i].lin.ad); L[i].lin.ad = NULL;
        L[i].lin.name = NAMES[i];
        linear_set_add(&set, &L[i].lin);
        assert_int_equal(L[i].lin.id, i);
    }
    Err e = {0};
    LoraSpec spec = {4, 8.0f, 0.1f, NULL, 0, 1};                 /* SimpleTuner's default targets */
    assert_int_equal(linear_set_attach_lora(&set, &spec, &e), 0);
    assert_int_equal(linear_set_n_adapters(&set), 3);
    assert_non_null(L[0].lin.ad); assert_non_null(L[1].lin.ad); assert_non_null(L[2].lin.ad);
    assert_null(L[3].lin.ad); assert_null(L[4].lin.ad);
    assert_true(fabsf(L[0].lin.ad->scale - 2.0f) < 1e-6f);
    assert_int_equal(linear_set_has_dropout(&set), 1);
    int n; const TrainParam *tp = linear_set_params(&set, &n);
    assert_int_equal(n, 6);
    assert_string_equal(tp[0].name, "transformer_blocks.0.attn.to_q.lora_A.weight");
    /* suffix rule: "out.0" is not a dotted suffix of to_out.0, "net.2" is */
    const char *t2[] = {"net.2", "out.0"};
    LoraSpec s2 = {2, 2.0f, 0, t2, 2, 1};
    assert_int_equal(linear_set_attach_lora(&set, &s2, &e), 0);
    assert_int_equal(linear_set_n_adapters(&set), 1);
    assert_non_null(L[3].lin.ad);
    /* nothing matches: an error naming the targets */
    const char *t3[] = {"to_nothing"};
    LoraSpec s3 = {2, 2.0f, 0, t3, 1, 1};
    assert_int_equal(linear_set_attach_lora(&set, &s3, &e), -1);
    assert_contains(e.msg, "to_nothing");
    assert_int_equal(e.code, EXIT_USAGE);
    LoraSpec s4 = {0, 2.0f, 0, NULL, 0, 1};
    assert_int_equal(linear_set_attach_lora(&set, &s4, &e), -1);
    assert_contains(e.msg, "lora_rank");
    linear_set_free(&set);
    for (int i = 0; i < 5; i++) layer_free(&L[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merged_weight), cmocka_unit_test(test_gradients_fd), cmocka_unit_test(test_set_targets),
    };
    return cmocka_run_group_tests_name("linear_layer", tests, NULL, NULL);
}
