/* The LyCORIS adapter kinds (models/adapter/lycoris.h) on the shared linear layer: LyCORIS'
 * factorization table and tensor shapes, the spec's worked LoKr example, a forward with the adapter
 * equals the forward with the merged weight W + ΔW for every algorithm and form (bf16 and int8
 * bases), every adapter tensor, the scalar and the input get finite-difference gradients with the
 * training-only dropouts off and on, the random decisions are redrawn identically from the seed,
 * and the file tensors (scalar folded) give back the same ΔW. */
#include "test_util.h"
#include <math.h>
#include "base/rng.h"
#include "kernels/linear.h"
#include "models/adapter/linear_layer.h"
#include "models/adapter/lycoris.h"
#include "tensor/quant.h"

enum { IN = 24, OUT = 20, N = 5 };

typedef struct Layer {
    float wf[OUT * IN], b[OUT];
    uint16_t wbf[OUT * IN];
    Weight w;
    Linear lin;
    QuantStorage qs;
} Layer;

static LycorisModuleSpec spec_of(LycorisAlgo algo, int dim, float alpha) {
    LycorisModuleSpec s = {0};
    s.algo = algo; s.dim = dim; s.alpha = alpha; s.multiplier = 1.0f; s.factor = -1;
    return s;
}

/* The adapter's tensors filled with noise (the inits leave ΔW = 0, which would hide gradients). */
static void randomise(Adapter *a, uint64_t seed) {
    Rng r; rng_seed(&r, seed);
    for (int p = 0; p < a->n_params; p++) {
        TrainParam *tp = &a->params[p];
        if (tp->numel == 1 && strstr(tp->name, ".scalar")) { tp->value[0] = 0.7f; continue; }
        rng_fill_normal(&r, tp->value, tp->numel, 0.0f, 0.4f);
    }
}

static void layer_init(Layer *L, uint64_t seed, const LycorisModuleSpec *s) {
    memset(L, 0, sizeof *L);
    Rng r; rng_seed(&r, seed);
    rng_fill_normal(&r, L->wf, OUT * IN, 0, 0.2f);
    rng_fill_normal(&r, L->b, OUT, 0, 0.1f);
    dtype_from_f32(DT_BF16, L->wf, L->wbf, OUT * IN);
    L->w = (Weight){DT_BF16, L->wbf, OUT, IN, QUANT_NONE, NULL, 0};
    L->lin = (Linear){"transformer_blocks.0.attn.to_q", IN, OUT, &L->w, L->b, NULL, NULL, NULL, 3};
    L->lin.ad = lycoris_adapter_new(L->lin.name, IN, OUT, s, seed + 1);
    randomise(L->lin.ad, seed + 2);
}

static void layer_free(Layer *L) { adapter_free(L->lin.ad); quant_storage_free(&L->qs); }

static const TrainParam *param(const Adapter *a, const char *suffix) {
    for (int p = 0; p < a->n_params; p++) {
        size_t ln = strlen(a->params[p].name), ls = strlen(suffix);
        if (ln > ls && !strcmp(a->params[p].name + ln - ls, suffix) && a->params[p].name[ln - ls - 1] == '.') return &a->params[p];
    }
    return NULL;
}

static void test_factorization(void **state) {
    (void)state;
    /* LyCORIS' own code gives these (its docstring table is stale for 360: (18, 20) and (15, 24)) */
    static const int T[][4] = {
        {3072, -1, 48, 64}, {3072, 8, 8, 384}, {3072, 16, 16, 192}, {12288, -1, 96, 128}, {12288, 8, 8, 1536}, {12288, 16, 16, 768},
        {64, 16, 4, 16}, {10, 4, 2, 5}, {127, -1, 1, 127}, {127, 16, 1, 127}, {360, -1, 18, 20}, {128, -1, 8, 16}, {128, 2, 2, 64},
        {128, 4, 4, 32}, {128, 16, 8, 16}, {250, -1, 10, 25}, {250, 2, 2, 125}, {250, 4, 2, 125}, {250, 8, 5, 50}, {250, 16, 10, 25},
        {360, 16, 15, 24}, {512, 4, 4, 128}, {1024, -1, 32, 32}, {1024, 16, 16, 64}, {12, 4, 3, 4}, {8, 4, 2, 4}, {8, 16, 2, 4},
        {7, 0, 1, 7}, {12, 0, 1, 12}, {1, -1, 1, 1},
    };
    for (size_t i = 0; i < sizeof T / sizeof *T; i++) {
        int m, n;
        lycoris_factorization(T[i][0], T[i][1], &m, &n);
        if (m != T[i][2] || n != T[i][3]) fail_msg("factorization(%d, %d) = (%d, %d), expected (%d, %d)", T[i][0], T[i][1], m, n, T[i][2], T[i][3]);
    }
}

/* The spec's worked example: out 12, in 8, factor 4 => W1 [3, 2], W2 [4, 4]. */
static void test_lokr_shapes(void **state) {
    (void)state;
    LycorisModuleSpec s = spec_of(LYCO_LOKR, 1, 1.0f);
    s.factor = 4;
    Adapter *a = lycoris_adapter_new("m", 8, 12, &s, 1);
    assert_int_equal(a->n_params, 3);
    assert_int_equal(param(a, "lokr_w1")->shape[0], 3); assert_int_equal(param(a, "lokr_w1")->shape[1], 2);
    assert_int_equal(param(a, "lokr_w2_a")->shape[0], 4); assert_int_equal(param(a, "lokr_w2_a")->shape[1], 1);
    assert_int_equal(param(a, "lokr_w2_b")->shape[0], 1); assert_int_equal(param(a, "lokr_w2_b")->shape[1], 4);
    assert_true(fabsf(a->scale - 1.0f) < 1e-7f);   /* alpha 1 / rank 1 */
    adapter_free(a);
    s.decompose_both = 1;
    a = lycoris_adapter_new("m", 8, 12, &s, 1);
    assert_int_equal(a->n_params, 4);
    assert_non_null(param(a, "lokr_w1_a")); assert_non_null(param(a, "lokr_w1_b"));
    assert_int_equal(param(a, "lokr_w1_b")->shape[1], 2);
    adapter_free(a);
    s = spec_of(LYCO_LOKR, 2, 1.0f);   /* rank 2 is not < 4/2: W2 full, both full => scale 1 whatever alpha */
    s.factor = 4;
    a = lycoris_adapter_new("m", 8, 12, &s, 1);
    assert_int_equal(a->n_params, 2);
    assert_int_equal(param(a, "lokr_w2")->shape[0], 4); assert_int_equal(param(a, "lokr_w2")->shape[1], 4);
    assert_true(fabsf(a->scale - 1.0f) < 1e-7f);
    LycorisTensors t; lycoris_adapter_export(a, &t);
    assert_true(t.has_alpha && fabsf(t.alpha - 2.0f) < 1e-7f);   /* stored alpha = r */
    lycoris_tensors_free(&t);
    adapter_free(a);
    /* unbalanced_factorization swaps the output split; full_matrix keeps W2 full at any rank */
    s = spec_of(LYCO_LOKR, 1, 1.0f);
    s.factor = 4; s.unbalanced_factorization = 1; s.full_matrix = 1; s.decompose_both = 1;
    a = lycoris_adapter_new("m", 8, 12, &s, 1);
    assert_int_equal(a->n_params, 2);
    assert_int_equal(param(a, "lokr_w1")->shape[0], 4); assert_int_equal(param(a, "lokr_w2")->shape[0], 3);
    adapter_free(a);
    /* scale: alpha / r, rs_lora alpha / √r, stored alpha = alpha·r/r_f */
    s = spec_of(LYCO_LOKR, 4, 8.0f);
    s.factor = 2;   /* (2, 6) and (2, 4): W2 [6, 4], 4 < 6/2 is false => full... use a larger layer */
    a = lycoris_adapter_new("m", 64, 64, &s, 1);   /* (2, 32) each: W2 factored at rank 4 */
    assert_non_null(param(a, "lokr_w2_a"));
    assert_true(fabsf(a->scale - 2.0f) < 1e-6f);
    adapter_free(a);
    s.rs_lora = 1;
    a = lycoris_adapter_new("m", 64, 64, &s, 1);
    assert_true(fabsf(a->scale - 4.0f) < 1e-6f);
    lycoris_adapter_export(a, &t);
    assert_true(fabsf(t.alpha - 16.0f) < 1e-5f);
    lycoris_tensors_free(&t);
    adapter_free(a);
}

/* The spec's numbers: W1 = [[1,2],[3,4],[5,6]], W2 = w2_a·w2_b with w2_a = [1,0,-1,2]ᵀ, w2_b = [1,2,0,-1]. */
static void test_lokr_worked_example(void **state) {
    (void)state;
    float w1[6] = {1, 2, 3, 4, 5, 6}, w2a[4] = {1, 0, -1, 2}, w2b[4] = {1, 2, 0, -1};
    LycorisTensors t = {0};
    t.n = 3;
    t.suffix[0] = "lokr_w1"; t.rows[0] = 3; t.cols[0] = 2; t.data[0] = w1;
    t.suffix[1] = "lokr_w2_a"; t.rows[1] = 4; t.cols[1] = 1; t.data[1] = w2a;
    t.suffix[2] = "lokr_w2_b"; t.rows[2] = 1; t.cols[2] = 4; t.data[2] = w2b;
    t.has_alpha = 1; t.alpha = 1.0f;
    Err e = {0};
    Adapter *a = lycoris_adapter_import("m", 8, 12, &t, 1.0f, "test", &e);
    assert_non_null(a);
    float dW[12 * 8];
    a->ops->delta(a, dW);
    const float row0[8] = {1, 2, 0, -1, 2, 4, 0, -2}, row4[8] = {3, 6, 0, -3, 4, 8, 0, -4}, row11[8] = {10, 20, 0, -10, 12, 24, 0, -12};
    for (int j = 0; j < 8; j++) {
        assert_true(dW[j] == row0[j]);
        assert_true(dW[4 * 8 + j] == row4[j]);
        assert_true(dW[11 * 8 + j] == row11[j]);
    }
    /* the factored forward on x = ones */
    float x[8], y[12] = {0};
    for (int j = 0; j < 8; j++) x[j] = 1;
    float *sc = malloc(a->ops->scratch_floats(a, 1, 0) * sizeof(float));
    AdapterCall c = {0, 0, 0, sc};
    a->ops->forward(a, x, 8, 1, y, 12, NULL, &c);
    const float want[12] = {6, 0, -6, 12, 14, 0, -14, 28, 22, 0, -22, 44};
    for (int i = 0; i < 12; i++) assert_true(fabsf(y[i] - want[i]) < 1e-5f);
    free(sc);
    adapter_free(a);
    /* strength multiplies, alpha / rank scales: alpha 3 with rank 1 and strength 0.5 → 1.5 */
    t.alpha = 3.0f;
    a = lycoris_adapter_import("m", 8, 12, &t, 0.5f, "test", &e);
    assert_true(fabsf(a->scale - 1.5f) < 1e-6f);
    adapter_free(a);
    /* a shape that does not make the layer is an error naming the module */
    a = lycoris_adapter_import("blocks.3.ff", 8, 16, &t, 1.0f, "f.safetensors", &e);
    assert_null(a);
    assert_contains(e.msg, "blocks.3.ff");
    assert_contains(e.msg, "f.safetensors");
}

/* The forms under test: every algorithm, LoKr's full / factored / decomposed / unbalanced forms,
 * the scalar, bypass mode. */
typedef struct Variant { const char *name; LycorisModuleSpec s; } Variant;

static int variants(Variant *v) {
    int n = 0;
    v[n] = (Variant){"lokr full", spec_of(LYCO_LOKR, 10000, 1.0f)}; v[n].s.full_matrix = 1; v[n].s.factor = 4; n++;
    v[n] = (Variant){"lokr w2 factored", spec_of(LYCO_LOKR, 2, 3.0f)}; v[n].s.factor = 2; n++;
    v[n] = (Variant){"lokr decompose_both", spec_of(LYCO_LOKR, 1, 2.0f)}; v[n].s.factor = 2; v[n].s.decompose_both = 1; v[n].s.factor = 12; n++;
    v[n] = (Variant){"lokr unbalanced scalar", spec_of(LYCO_LOKR, 4, 2.0f)}; v[n].s.factor = 4; v[n].s.unbalanced_factorization = 1; v[n].s.use_scalar = 1; n++;
    v[n] = (Variant){"lokr bypass rs", spec_of(LYCO_LOKR, 2, 4.0f)}; v[n].s.factor = 2; v[n].s.bypass_mode = 1; v[n].s.rs_lora = 1; n++;
    v[n] = (Variant){"loha", spec_of(LYCO_LOHA, 3, 2.0f)}; n++;
    v[n] = (Variant){"loha scalar bypass", spec_of(LYCO_LOHA, 2, 0.0f)}; v[n].s.use_scalar = 1; v[n].s.bypass_mode = 1; n++;
    v[n] = (Variant){"locon", spec_of(LYCO_LORA, 3, 6.0f)}; n++;
    v[n] = (Variant){"locon bypass scalar", spec_of(LYCO_LORA, 4, 2.0f)}; v[n].s.bypass_mode = 1; v[n].s.use_scalar = 1; n++;
    for (int i = 0; i < n; i++) v[i].s.multiplier = i % 2 ? 0.5f : 1.0f;
    return n;
}

static void test_merged_weight(void **state) {
    (void)state;
    Variant v[16];
    int nv = variants(v);
    for (int q = 0; q < 2; q++)
        for (int k = 0; k < nv; k++) {
            Layer L; layer_init(&L, 30 + k, &v[k].s);
            Err e = {0};
            if (q) assert_int_equal(weight_quantize(&L.w, QUANT_INT8, &L.qs, &e), 0);
            float x[N * IN], y[N * OUT], ym[N * OUT], W[OUT * IN], acts[N * 8];
            Rng r; rng_seed(&r, 4 + k);
            rng_fill_normal(&r, x, N * IN, 0, 1);
            LinearScratch s = {0};
            linear_layer_forward(&L.lin, x, IN, N, y, OUT, acts, NULL, &s);
            linear_merged_weight(&L.lin, W);
            Weight wm = {DT_F32, W, OUT, IN, QUANT_NONE, NULL, 0};
            linear_forward(x, IN, N, &wm, L.b, ym, OUT, 0.0f);
            double worst = 0, big = 0;
            for (int i = 0; i < N * OUT; i++) { worst = fmax(worst, fabs(y[i] - ym[i])); big = fmax(big, fabs(ym[i])); }
            if (worst > 1e-5 * big) fail_msg("%s quant %d: adapter forward differs from the merged weight by %g (max %g)", v[k].name, q, worst, big);
            /* the adapter really changes the output */
            float yb[N * OUT];
            Adapter *a = L.lin.ad;
            L.lin.ad = NULL;
            linear_layer_forward(&L.lin, x, IN, N, yb, OUT, NULL, NULL, &s);
            L.lin.ad = a;
            worst = 0;
            for (int i = 0; i < N * OUT; i++) worst = fmax(worst, fabs(y[i] - yb[i]));
            if (!(worst > 1e-3 * big)) fail_msg("%s: the adapter does not change the output", v[k].name);
            linear_scratch_free(&s);
            layer_free(&L);
        }
}

static double loss_of(const Layer *L, const float *x, const float *g, int training, uint64_t seed, LinearScratch *s) {
    float y[N * OUT], acts[N * 8];
    LinearDrop d = {training, seed, 2};
    linear_layer_forward(&L->lin, x, IN, N, y, OUT, acts, &d, s);
    double l = 0;
    for (int i = 0; i < N * OUT; i++) l += (double)y[i] * g[i];
    return l;
}

/* FD check of every tensor (a sample of its entries) and of dx, for one dropout setting. */
static void check_fd(const char *name, Layer *L, uint64_t seed, int *dropped) {
    float x[N * IN], g[N * OUT], y[N * OUT], acts[N * 8], dx[N * IN];
    Rng r; rng_seed(&r, 8);
    rng_fill_normal(&r, x, N * IN, 0, 1); rng_fill_normal(&r, g, N * OUT, 0, 1);
    LinearScratch s = {0};
    LinearDrop d = {1, seed, 2};
    linear_layer_forward(&L->lin, x, IN, N, y, OUT, acts, &d, &s);
    Adapter *a = L->lin.ad;
    for (int p = 0; p < a->n_params; p++) memset(a->params[p].grad, 0, a->params[p].numel * sizeof(float));
    linear_layer_backward(&L->lin, g, OUT, x, IN, N, acts, dx, IN, 0.0f, &d, &s);
    double gmax = 0;
    for (int p = 0; p < a->n_params; p++) {
        TrainParam *tp = &a->params[p];
        for (size_t j = 0; j < tp->numel; j += 1 + tp->numel / 17) {
            float v = tp->value[j], h = 1e-2f;
            tp->value[j] = v + h; double lp = loss_of(L, x, g, 1, seed, &s);
            tp->value[j] = v - h; double lm = loss_of(L, x, g, 1, seed, &s);
            tp->value[j] = v;
            double fd = (lp - lm) / (2 * h);
            gmax = fmax(gmax, fabs(tp->grad[j]));
            if (fabs(fd - tp->grad[j]) > 2e-3 + 1e-2 * fabs(fd)) fail_msg("%s seed %llu %s[%zu]: analytic %g, fd %g", name, (unsigned long long)seed, tp->name, j, tp->grad[j], fd);
        }
    }
    for (int j = 0; j < N * IN; j += 3) {
        float v = x[j], h = 1e-2f;
        x[j] = v + h; double lp = loss_of(L, x, g, 1, seed, &s);
        x[j] = v - h; double lm = loss_of(L, x, g, 1, seed, &s);
        x[j] = v;
        double fd = (lp - lm) / (2 * h);
        if (fabs(fd - dx[j]) > 2e-3 + 1e-2 * fabs(fd)) fail_msg("%s seed %llu dx[%d]: analytic %g, fd %g", name, (unsigned long long)seed, j, dx[j], fd);
    }
    if (gmax == 0) (*dropped)++;
    linear_scratch_free(&s);
}

static void test_gradients_fd(void **state) {
    (void)state;
    Variant v[16];
    int nv = variants(v);
    for (int k = 0; k < nv; k++)
        for (int drop = 0; drop < 2; drop++) {
            LycorisModuleSpec s = v[k].s;
            if (drop) { s.rank_dropout = 0.3f; s.module_dropout = 0.4f; s.dropout = 0.25f; s.rank_dropout_scale = k % 2; }
            Layer L; layer_init(&L, 50 + k, &s);
            assert_int_equal(L.lin.ad->stochastic, drop);
            int dropped = 0;
            for (uint64_t seed = 1; seed <= (drop ? 6u : 1u); seed++) check_fd(v[k].name, &L, seed, &dropped);
            /* module_dropout 0.4 over six calls: some skip the branch (no gradient), some do not */
            if (drop) { assert_true(dropped > 0); assert_true(dropped < 6); }
            layer_free(&L);
        }
}

/* Rows in chunks (long sequences keep the scratch small) give the same outputs and gradients as one
 * chunk, with every dropout on: chunk boundaries every 2 rows against the default. */
static void test_chunks_equal(void **state) {
    (void)state;
    Variant v[16];
    int nv = variants(v);
    enum { NR = 7 };
    for (int k = 0; k < nv; k++) {
        LycorisModuleSpec s = v[k].s;
        s.rank_dropout = 0.3f; s.dropout = 0.2f;
        float y[2][NR * OUT], dx[2][NR * IN], x[NR * IN], g[NR * OUT], acts[NR * 8];
        float *grads[2][8];
        int np = 0;
        Rng r; rng_seed(&r, 12);
        rng_fill_normal(&r, x, NR * IN, 0, 1); rng_fill_normal(&r, g, NR * OUT, 0, 1);
        for (int chunked = 0; chunked < 2; chunked++) {
            Layer L; layer_init(&L, 110 + k, &s);
            if (chunked) lycoris_adapter_set_chunk(L.lin.ad, 2 * (OUT > IN ? OUT : IN));   /* two rows a chunk */
            LinearScratch sc = {0};
            LinearDrop d = {1, 42, 0};
            linear_layer_forward(&L.lin, x, IN, NR, y[chunked], OUT, acts, &d, &sc);
            Adapter *a = L.lin.ad;
            np = a->n_params;
            for (int p = 0; p < np; p++) memset(a->params[p].grad, 0, a->params[p].numel * sizeof(float));
            linear_layer_backward(&L.lin, g, OUT, x, IN, NR, acts, dx[chunked], IN, 0.0f, &d, &sc);
            for (int p = 0; p < np; p++) { grads[chunked][p] = malloc(a->params[p].numel * sizeof(float)); memcpy(grads[chunked][p], a->params[p].grad, a->params[p].numel * sizeof(float)); }
            if (chunked) {
                for (int i = 0; i < NR * OUT; i++) if (fabsf(y[0][i] - y[1][i]) > 1e-5f * (1 + fabsf(y[0][i]))) fail_msg("%s: y[%d] %g vs %g", v[k].name, i, y[0][i], y[1][i]);
                for (int i = 0; i < NR * IN; i++) if (fabsf(dx[0][i] - dx[1][i]) > 1e-5f * (1 + fabsf(dx[0][i]))) fail_msg("%s: dx[%d] %g vs %g", v[k].name, i, dx[0][i], dx[1][i]);
                for (int p = 0; p < np; p++)
                    for (size_t i = 0; i < a->params[p].numel; i++)
                        if (fabsf(grads[0][p][i] - grads[1][p][i]) > 1e-5f * (1 + fabsf(grads[0][p][i])))
                            fail_msg("%s: %s[%zu] %g vs %g", v[k].name, a->params[p].name, i, grads[0][p][i], grads[1][p][i]);
            }
            linear_scratch_free(&sc);
            layer_free(&L);
        }
        for (int c = 0; c < 2; c++) for (int p = 0; p < np; p++) free(grads[c][p]);
    }
}

/* The random decisions are functions of the seed: redrawn the same, another seed draws others,
 * inference never drops. */
static void test_random_decisions(void **state) {
    (void)state;
    LycorisModuleSpec s = spec_of(LYCO_LOKR, 2, 1.0f);
    s.factor = 2; s.rank_dropout = 0.5f;
    Layer L; layer_init(&L, 70, &s);
    float x[N * IN], g[N * OUT];
    Rng r; rng_seed(&r, 9);
    rng_fill_normal(&r, x, N * IN, 0, 1); rng_fill_normal(&r, g, N * OUT, 0, 1);
    LinearScratch sc = {0};
    double a1 = loss_of(&L, x, g, 1, 5, &sc), a2 = loss_of(&L, x, g, 1, 5, &sc), b = loss_of(&L, x, g, 1, 6, &sc);
    double i1 = loss_of(&L, x, g, 0, 5, &sc), i2 = loss_of(&L, x, g, 0, 6, &sc);
    assert_true(a1 == a2);
    assert_true(a1 != b);
    assert_true(i1 == i2);
    assert_true(a1 != i1);
    linear_scratch_free(&sc);
    layer_free(&L);
}

/* Export → import gives the same ΔW (the scalar folded into the first factor, alpha/r kept). */
static void test_export_import(void **state) {
    (void)state;
    Variant v[16];
    int nv = variants(v);
    for (int k = 0; k < nv; k++) {
        LycorisModuleSpec s = v[k].s;
        s.multiplier = 1.0f;   /* the multiplier is a property of the run, not of the file */
        Layer L; layer_init(&L, 90 + k, &s);
        LycorisTensors t;
        lycoris_adapter_export(L.lin.ad, &t);
        Err e = {0};
        Adapter *b = lycoris_adapter_import("x", IN, OUT, &t, 1.0f, "test", &e);
        if (!b) fail_msg("%s: %s", v[k].name, e.msg);
        float d1[OUT * IN], d2[OUT * IN];
        L.lin.ad->ops->delta(L.lin.ad, d1);
        b->ops->delta(b, d2);
        double worst = 0, big = 0;
        for (int i = 0; i < OUT * IN; i++) { worst = fmax(worst, fabs(d1[i] - d2[i])); big = fmax(big, fabs(d1[i])); }
        if (worst > 1e-6 * big) fail_msg("%s: imported ΔW differs by %g (max %g)", v[k].name, worst, big);
        assert_int_equal(lycoris_adapter_algo(b), s.algo);
        /* no scalar after loading (LyCORIS resets it to 1) */
        for (int p = 0; p < b->n_params; p++) assert_null(strstr(b->params[p].name, "scalar"));
        lycoris_tensors_free(&t);
        adapter_free(b);
        layer_free(&L);
    }
}

/* init_lokr_norm: lokr_w1 = 1, lokr_w2 has the base weight's mean and std (× scale). */
static void test_init_lokr_norm(void **state) {
    (void)state;
    LycorisModuleSpec s = spec_of(LYCO_LOKR, 10000, 1.0f);
    s.full_matrix = 1; s.factor = 4;
    Adapter *a = lycoris_adapter_new("m", 64, 48, &s, 3);
    float W[48 * 64];
    Rng r; rng_seed(&r, 2);
    rng_fill_normal(&r, W, 48 * 64, 0.3f, 2.0f);
    Err e = {0};
    assert_int_equal(lycoris_adapter_init_lokr_norm(a, W, 0.5f, 7, "m", &e), 0);
    const TrainParam *w1 = param(a, "lokr_w1"), *w2 = param(a, "lokr_w2");
    for (size_t i = 0; i < w1->numel; i++) assert_true(w1->value[i] == 1.0f);
    double mean = 0, var = 0;
    for (size_t i = 0; i < w2->numel; i++) mean += w2->value[i];
    mean /= w2->numel;
    for (size_t i = 0; i < w2->numel; i++) var += (w2->value[i] - mean) * (w2->value[i] - mean);
    double sd = sqrt(var / (w2->numel - 1));
    double wm = 0, wv = 0;
    for (int i = 0; i < 48 * 64; i++) wm += W[i];
    wm /= 48 * 64;
    for (int i = 0; i < 48 * 64; i++) wv += (W[i] - wm) * (W[i] - wm);
    double wsd = sqrt(wv / (48 * 64 - 1));
    assert_true(fabs(mean - 0.5 * wm) < 1e-4);
    assert_true(fabs(sd - 0.5 * wsd) < 1e-4);
    adapter_free(a);
    /* a factored W2 cannot be set this way */
    s = spec_of(LYCO_LOKR, 2, 1.0f);
    s.factor = 2;
    a = lycoris_adapter_new("blocks.0.ff", 64, 48, &s, 3);
    assert_int_equal(lycoris_adapter_init_lokr_norm(a, W, 0.5f, 7, "blocks.0.ff", &e), -1);
    assert_contains(e.msg, "full_matrix");
    adapter_free(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_factorization), cmocka_unit_test(test_lokr_shapes), cmocka_unit_test(test_lokr_worked_example),
        cmocka_unit_test(test_merged_weight), cmocka_unit_test(test_gradients_fd), cmocka_unit_test(test_random_decisions), cmocka_unit_test(test_chunks_equal),
        cmocka_unit_test(test_export_import), cmocka_unit_test(test_init_lokr_norm),
    };
    return cmocka_run_group_tests_name("lycoris", tests, NULL, NULL);
}
