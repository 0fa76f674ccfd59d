/* LyCORIS files through the shared LinearSet: a file written by an independent numpy implementation
 * (tests/data/lycoris, LoKr in every form LyCORIS makes plus LoHa, f32 and f16) loads and gives its
 * ΔW; save → load gives back the same ΔW with LyCORIS' keys, alpha and metadata, and init_lora
 * rebuilds trainable adapters under the same parameter names; damaged or foreign files are errors
 * naming the file and the key; the LoRA path refuses a LyCORIS file for init_lora. */
#include "test_util.h"
#include <math.h>
#include "base/rng.h"
#include "models/adapter/linear_set.h"
#include "models/adapter/lycoris_file.h"
#include "tensor/safetensors.h"

#define MAXL 8
typedef struct Layers {
    int n;
    float *wf[MAXL];
    Weight w[MAXL];
    Linear lin[MAXL];
    LinearSet set;
} Layers;

/* Layers named and shaped as given (f32 random bases). */
static void layers_init(Layers *L, const char *const *names, const int *out, const int *in, int n) {
    memset(L, 0, sizeof *L);
    L->n = n;
    Rng r; rng_seed(&r, 5);
    for (int i = 0; i < n; i++) {
        L->wf[i] = malloc((size_t)out[i] * in[i] * sizeof(float));
        rng_fill_normal(&r, L->wf[i], (size_t)out[i] * in[i], 0, 0.1f);
        L->w[i] = (Weight){DT_F32, L->wf[i], out[i], in[i], QUANT_NONE, NULL, 0};
        L->lin[i] = (Linear){names[i], in[i], out[i], &L->w[i], NULL, NULL, NULL, NULL, 0};
        linear_set_add(&L->set, &L->lin[i]);
    }
}

static void layers_free(Layers *L) {
    linear_set_free(&L->set);
    for (int i = 0; i < L->n; i++) free(L->wf[i]);
}

static double rel_diff(const float *a, const float *b, size_t n) {
    double worst = 0, big = 0;
    for (size_t i = 0; i < n; i++) { worst = fmax(worst, fabs((double)a[i] - b[i])); big = fmax(big, fabs((double)b[i])); }
    return big > 0 ? worst / big : worst;
}

static const char *const FIX_NAMES[] = {"transformer_blocks.0.attn.to_q", "transformer_blocks.0.ff.net.0.proj", "single_transformer_blocks.0.proj_out",
                                        "transformer_blocks.0.attn.to_add_out", "transformer_blocks.0.attn.to_k", "proj_out"};
static const int FIX_OUT[] = {48, 96, 32, 36, 48, 16}, FIX_IN[] = {32, 32, 80, 24, 32, 32};
#define FIX "tests/data/lycoris/lokr_reference.safetensors"

static void test_reference_fixture(void **state) {
    (void)state;
    Layers L;
    layers_init(&L, FIX_NAMES, FIX_OUT, FIX_IN, 6);
    Err e = {0};
    assert_int_equal(lycoris_file_detect(FIX, &e), 1);
    for (int pass = 0; pass < 2; pass++) {
        float strength = pass ? 0.5f : 1.0f;
        if (linear_set_load_adapters(&L.set, FIX, strength, &e)) fail_msg("%s", e.msg);
        assert_int_equal(linear_set_n_adapters(&L.set), 5);
        assert_null(L.lin[5].ad);
        StFile ex;
        assert_int_equal(st_open(&ex, "tests/data/lycoris/lokr_expected.safetensors", &e), 0);
        for (int i = 0; i < 5; i++) {
            char key[128];
            snprintf(key, sizeof key, "%s.delta", FIX_NAMES[i]);
            const StTensor *t = st_find(&ex, key);
            assert_non_null(t);
            float *want = st_to_f32(t);
            size_t n = (size_t)FIX_OUT[i] * FIX_IN[i];
            for (size_t j = 0; j < n; j++) want[j] *= strength;
            float *got = malloc(n * sizeof(float));
            L.lin[i].ad->ops->delta(L.lin[i].ad, got);
            double d = rel_diff(got, want, n);
            if (d > 2e-6) fail_msg("%s: ΔW differs from the reference implementation's by %g (relative)", FIX_NAMES[i], d);
            free(got); free(want);
        }
        st_close(&ex);
    }
    assert_string_equal(L.lin[4].ad->ops->kind, "loha");
    assert_string_equal(L.lin[0].ad->ops->kind, "lokr");
    /* init_lora with standard LoRA points at lora_type=lycoris */
    assert_int_equal(linear_set_init_adapters(&L.set, FIX, &e), -1);
    assert_contains(e.msg, "lora_type=lycoris");
    assert_int_equal(e.code, EXIT_USAGE);
    layers_free(&L);
}

static char *write_config(const char *dir, const char *name, const char *json) {
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", dir, name);
    write_text(p, json);
    return p;
}

static void randomise(LinearSet *s, uint64_t seed) {
    int n;
    const TrainParam *tp = linear_set_params(s, &n);
    Rng r; rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        if (strstr(tp[i].name, ".scalar")) { tp[i].value[0] = 0.6f; continue; }
        rng_fill_normal(&r, tp[i].value, tp[i].numel, 0, 0.3f);
    }
}

static void test_save_load_roundtrip(void **state) {
    (void)state;
    char *dir = tmpdir_make();
    /* LoKr (with the scalar) on attention, LoHa on the feed-forward, LyCORIS' LoRA on proj_out */
    const char *json = "{\"algo\": \"lokr\", \"multiplier\": 1, \"linear_dim\": 2, \"linear_alpha\": 3, \"factor\": 4, \"use_scalar\": true,"
                       " \"apply_preset\": {\"target_module\": [\"Attention\", \"FeedForward\"], \"target_name\": [\"proj_out\"],"
                       " \"module_algo_map\": {\"FeedForward\": {\"algo\": \"loha\", \"dim\": 3}},"
                       " \"name_algo_map\": {\"proj_out\": {\"algo\": \"lora\", \"dim\": 2, \"alpha\": 1}}}}";
    char *cfg = write_config(dir, "lyco.json", json);
    LycorisConfig lc;
    Err e = {0};
    if (lycoris_config_load(cfg, &lc, &e)) fail_msg("%s", e.msg);
    static const ModuleClass CLASSES[] = {{"transformer_blocks.*.attn", "Attention", NULL}, {"transformer_blocks.*.ff", "FeedForward", NULL}, {NULL, NULL, NULL}};
    static const char *const NAMES[] = {"transformer_blocks.0.attn.to_q", "transformer_blocks.0.ff.net.0.proj", "proj_out", "transformer_blocks.0.norm1.linear"};
    static const int OUT[] = {48, 96, 16, 24}, IN[] = {32, 32, 32, 32};
    Layers A, B;
    layers_init(&A, NAMES, OUT, IN, 4);
    layers_init(&B, NAMES, OUT, IN, 4);
    LycorisModel m = {"Model", CLASSES, NULL, 0, 0};
    int counts[3];
    if (linear_set_attach_lycoris(&A.set, &lc, m, 7, counts, &e)) fail_msg("%s", e.msg);
    assert_int_equal(counts[LYCO_LOKR], 1); assert_int_equal(counts[LYCO_LOHA], 1); assert_int_equal(counts[LYCO_LORA], 1);
    assert_null(A.lin[3].ad);
    randomise(&A.set, 3);
    char *path = write_config(dir, "w.safetensors", "");
    if (linear_set_save_adapters(&A.set, path, DT_F32, &e)) fail_msg("%s", e.msg);
    /* LyCORIS' keys, a 0-dim alpha, metadata naming the algorithms and carrying the config */
    StFile f;
    assert_int_equal(st_open(&f, path, &e), 0);
    const StTensor *w1 = st_find(&f, "lycoris_transformer_blocks_0_attn_to_q.lokr_w1");
    assert_non_null(w1);
    assert_non_null(st_find(&f, "lycoris_transformer_blocks_0_attn_to_q.lokr_w2_a"));   /* rank 2 < 12/2: W2 factored */
    assert_non_null(st_find(&f, "lycoris_transformer_blocks_0_ff_net_0_proj.hada_w2_b"));
    assert_non_null(st_find(&f, "lycoris_proj_out.lora_down.weight"));
    const StTensor *al = st_find(&f, "lycoris_transformer_blocks_0_attn_to_q.alpha");
    assert_non_null(al);
    assert_int_equal(al->ndim, 0);
    assert_null(st_find(&f, "lycoris_transformer_blocks_0_attn_to_q.scalar"));
    assert_string_equal(st_meta(&f, "lycoris_config"), json);
    assert_non_null(strstr(st_meta(&f, "ss_network_args"), "lokr"));
    assert_non_null(strstr(st_meta(&f, "ss_network_args"), "loha"));
    st_close(&f);
    /* load for inference: the same ΔW */
    if (linear_set_load_adapters(&B.set, path, 1.0f, &e)) fail_msg("%s", e.msg);
    for (int i = 0; i < 3; i++) {
        size_t n = (size_t)OUT[i] * IN[i];
        float *d1 = malloc(n * sizeof(float)), *d2 = malloc(n * sizeof(float));
        A.lin[i].ad->ops->delta(A.lin[i].ad, d1);
        B.lin[i].ad->ops->delta(B.lin[i].ad, d2);
        double d = rel_diff(d2, d1, n);
        if (d > 1e-6) fail_msg("%s: ΔW after save/load differs by %g", NAMES[i], d);
        free(d1); free(d2);
    }
    /* init_lora with lora_type=lycoris: trainable adapters from the file, saved again identically */
    Layers C;
    layers_init(&C, NAMES, OUT, IN, 4);
    if (linear_set_init_lycoris(&C.set, path, 1.0f, &lc, &e)) fail_msg("%s", e.msg);
    int n;
    const TrainParam *tp = linear_set_params(&C.set, &n);
    assert_int_equal(n, 3 + 4 + 2);   /* lokr_w1, lokr_w2_a/_b; 4 hada; 2 lora — the scalar is folded into the file */
    assert_string_equal(tp[0].name, "transformer_blocks.0.attn.to_q.lokr_w1");
    char *path2 = write_config(dir, "w2.safetensors", "");
    if (linear_set_save_adapters(&C.set, path2, DT_F32, &e)) fail_msg("%s", e.msg);
    StFile f1, f2;
    assert_int_equal(st_open(&f1, path, &e), 0);
    assert_int_equal(st_open(&f2, path2, &e), 0);
    assert_int_equal(f1.n, f2.n);
    for (int i = 0; i < f1.n; i++) {
        const StTensor *x = &f1.t[i], *y = st_find(&f2, x->name);
        assert_non_null(y);
        assert_int_equal(x->nbytes, y->nbytes);
        assert_memory_equal(x->data, y->data, x->nbytes);
    }
    st_close(&f1); st_close(&f2);
    layers_free(&A); layers_free(&B); layers_free(&C);
    lycoris_config_free(&lc);
    free(cfg); free(path); free(path2);
    tmpdir_remove(dir);
}

/* One safetensors file from (name, shape, values) triples. */
static void write_tensors(const char *path, int n, const char *const *names, const int (*shapes)[2], float *const *data) {
    StWriter w; stw_init(&w);
    for (int i = 0; i < n; i++) {
        int64_t sh[2] = {shapes[i][0], shapes[i][1]};
        stw_add_f32(&w, names[i], shapes[i][0] ? 2 : 0, sh, data[i]);
    }
    Err e = {0};
    assert_int_equal(stw_write(&w, path, &e), 0);
    stw_free(&w);
}

static void test_bad_files(void **state) {
    (void)state;
    char *dir = tmpdir_make();
    Layers L;
    layers_init(&L, FIX_NAMES, FIX_OUT, FIX_IN, 6);
    float w1[16], w2[96], al[1] = {1};
    for (int i = 0; i < 16; i++) w1[i] = 0.1f * i;
    for (int i = 0; i < 96; i++) w2[i] = 0.01f * i;
    char path[512];
    snprintf(path, sizeof path, "%s/bad.safetensors", dir);
    Err e = {0};
    static const int SH[3][2] = {{4, 4}, {12, 8}, {0, 0}};
    struct { const char *k1, *k2, *k3; float poison; const char *want; } CASES[] = {
        {"lycoris_transformer_blocks_0_attn_to_q.lokr_w1", "lycoris_transformer_blocks_0_attn_to_q.lokr_w2", "lycoris_transformer_blocks_0_attn_to_q.alpha",
         NAN, "holds nan"},
        {"lycoris_transformer_blocks_7_attn_to_q.lokr_w1", "lycoris_transformer_blocks_7_attn_to_q.lokr_w2", "lycoris_transformer_blocks_7_attn_to_q.alpha",
         0, "'lycoris_transformer_blocks_7_attn_to_q.alpha' names no module"},
        {"lycoris_transformer_blocks_0_attn_to_q.lokr_w1", "lycoris_transformer_blocks_0_attn_to_q.lokr_w2", "lycoris_transformer_blocks_0_attn_to_q.dora_scale",
         0, "not supported yet: DoRA"},
        {"lycoris_transformer_blocks_0_attn_to_q.lokr_w1", "lycoris_transformer_blocks_0_attn_to_q.lokr_w2", "lycoris_transformer_blocks_0_attn_to_q.scale",
         0, "'lycoris_transformer_blocks_0_attn_to_q.scale' is not a LyCORIS tensor"},
        {"lycoris_transformer_blocks_0_ff_net_0_proj.lokr_w1", "lycoris_transformer_blocks_0_ff_net_0_proj.lokr_w2", "lycoris_transformer_blocks_0_ff_net_0_proj.alpha",
         0, "the layer is 96x32"},
        {"lycoris_transformer_blocks_0_attn_to_q.lokr_w1", "lycoris_transformer_blocks_0_attn_to_q.lokr_w2_a", "lycoris_transformer_blocks_0_attn_to_q.alpha",
         0, "needs lokr_w2, or both lokr_w2_a and lokr_w2_b"},
    };
    for (size_t c = 0; c < sizeof CASES / sizeof *CASES; c++) {
        const char *names[3] = {CASES[c].k1, CASES[c].k2, CASES[c].k3};
        float *data[3] = {w1, w2, al};
        w2[5] = CASES[c].poison;
        write_tensors(path, 3, names, SH, data);
        w2[5] = 0.05f;
        if (linear_set_load_adapters(&L.set, path, 1.0f, &e) == 0) fail_msg("case %zu should fail", c);
        assert_contains(e.msg, path);
        assert_contains(e.msg, CASES[c].want);
        assert_int_equal(linear_set_n_adapters(&L.set), 0);   /* nothing half-loaded */
    }
    layers_free(&L);
    tmpdir_remove(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_fixture), cmocka_unit_test(test_save_load_roundtrip), cmocka_unit_test(test_bad_files),
    };
    return cmocka_run_group_tests_name("lycoris_file", tests, NULL, NULL);
}
