/* test_qwen25vl.c — Qwen2.5-VL text encoder: config layouts, weight table and both checkpoint key
 * layouts, window index and M-RoPE positions against the spec's worked examples, attention
 * against a naive reference, and vision-tower invariants. */
#include "test_util.h"
#include "models/qwen25vl/language.h"
#include "models/qwen25vl/model.h"
#include "models/qwen25vl/mrope.h"
#include "models/qwen25vl/vision.h"
#include "base/files.h"
#include "base/rng.h"
#include <math.h>

/* A tiny config in the published (top-level) layout; window 56 px = 2 merged tokens. */
static const char *TINY =
    "{\"hidden_size\":32,\"num_hidden_layers\":2,\"num_attention_heads\":4,\"num_key_value_heads\":2,"
    "\"intermediate_size\":48,\"vocab_size\":130,\"rms_norm_eps\":1e-6,\"rope_theta\":1000000.0,"
    "\"rope_scaling\":{\"type\":\"mrope\",\"mrope_section\":[1,1,2]},\"tie_word_embeddings\":false,"
    "\"image_token_id\":120,\"video_token_id\":123,\"vision_start_token_id\":121,\"vision_end_token_id\":122,"
    "\"vision_config\":{\"depth\":3,\"hidden_size\":16,\"num_heads\":2,\"intermediate_size\":24,\"out_hidden_size\":32,"
    "\"patch_size\":14,\"temporal_patch_size\":2,\"in_chans\":3,\"spatial_merge_size\":2,\"window_size\":56,"
    "\"fullatt_block_indexes\":[1]}}";

/* The same model in the newer nested layout. */
static const char *TINY_NESTED =
    "{\"model_type\":\"qwen2_5_vl\",\"image_token_id\":120,\"video_token_id\":123,\"vision_start_token_id\":121,"
    "\"vision_end_token_id\":122,\"tie_word_embeddings\":false,"
    "\"text_config\":{\"hidden_size\":32,\"num_hidden_layers\":2,\"num_attention_heads\":4,\"num_key_value_heads\":2,"
    "\"intermediate_size\":48,\"vocab_size\":130,\"rms_norm_eps\":1e-6,\"rope_theta\":1000000.0,"
    "\"rope_scaling\":{\"rope_type\":\"default\",\"mrope_section\":[1,1,2]}},"
    "\"vision_config\":{\"depth\":3,\"hidden_size\":16,\"num_heads\":2,\"intermediate_size\":24,\"out_hidden_size\":32,"
    "\"patch_size\":14,\"temporal_patch_size\":2,\"in_channels\":3,\"spatial_merge_size\":2,\"window_size\":56,"
    "\"fullatt_block_indexes\":[1]}}";

static void test_config_layouts(void **st) {
    (void)st;
    cJSON *a = cJSON_Parse(TINY), *b = cJSON_Parse(TINY_NESTED);
    QvConfig ca, cb; Err e = {0};
    assert_int_equal(qv_config_parse(a, &ca, &e), 0);
    assert_int_equal(qv_config_parse(b, &cb, &e), 0);
    assert_memory_equal(&ca, &cb, sizeof ca);
    assert_int_equal(ca.text.head_dim, 8);
    assert_int_equal(ca.text.kv_heads, 2);
    assert_int_equal(ca.vision.head_dim, 8);
    assert_int_equal(ca.vision.n_fullatt, 1);
    assert_int_equal(ca.image_token_id, 120);
    /* mrope_section must cover head_dim/2 */
    cJSON *rs = cJSON_GetObjectItem(a, "rope_scaling");
    cJSON_ReplaceItemInObject(rs, "mrope_section", cJSON_Parse("[1,1,1]"));
    assert_int_equal(qv_config_parse(a, &ca, &e), -1);
    assert_contains(e.msg, "mrope_section");
    cJSON_DeleteItemFromObject(a, "vision_config");
    cJSON_ReplaceItemInObject(rs, "mrope_section", cJSON_Parse("[1,1,2]"));
    assert_int_equal(qv_config_parse(a, &ca, &e), -1);
    assert_contains(e.msg, "vision_config");
    cJSON_Delete(a); cJSON_Delete(b);
}

static void test_window_index_spec_example(void **st) {
    (void)st;
    /* spec 3.3: 28x28 patches, 112 px windows (4 merged tokens) */
    int win[196], cu[17], n;
    qv_window_index(14, 14, 4, 4, win, cu, &n);
    static const int want_cu[17] = { 0,64,128,192,224,288,352,416,448,512,576,640,672,704,736,768,784 };
    static const int want_win[20] = { 0,1,2,3,14,15,16,17,28,29,30,31,42,43,44,45,4,5,6,7 };
    assert_int_equal(n, 16);
    assert_memory_equal(cu, want_cu, sizeof want_cu);
    assert_memory_equal(win, want_win, sizeof want_win);
    /* a grid that is a whole number of windows makes no empty windows */
    int win2[16], cu2[5];
    qv_window_index(4, 4, 2, 4, win2, cu2, &n);
    assert_int_equal(n, 4);
    assert_int_equal(cu2[4], 64);
}

static void test_rope_index_edit_plus_example(void **st) {
    (void)st;
    cJSON *j = cJSON_Parse(TINY); QvConfig c; Err e = {0};
    assert_int_equal(qv_config_parse(j, &c, &e), 0);
    /* spec 4.4: 69 text tokens, vision_start at 69, 14x14 merged image, vision_end, 17 more = 284 */
    int L = 284;
    int64_t ids[284], pos[3 * 284], d;
    for (int i = 0; i < L; i++) ids[i] = 5;
    ids[69] = 121;
    for (int i = 70; i < 266; i++) ids[i] = 120;
    ids[266] = 122;
    int64_t grid[3] = { 1, 28, 28 };
    assert_int_equal(qv_rope_index(&c, ids, NULL, 1, L, grid, 1, pos, &d, &e), 0);
    assert_int_equal(pos[69], 69);
    for (int y = 0; y < 14; y++)
        for (int x = 0; x < 14; x++) {
            int i = 70 + y * 14 + x;
            assert_int_equal(pos[i], 70);
            assert_int_equal(pos[L + i], 70 + y);
            assert_int_equal(pos[2 * L + i], 70 + x);
        }
    assert_int_equal(pos[266], 84);
    assert_int_equal(pos[2 * L + 283], 101);
    assert_int_equal(d, 102 - 284);
    /* padding in the middle (LongCat): pads get 1, the suffix continues after the last real token */
    int64_t ids2[10] = { 1, 2, 3, 4, 0, 0, 0, 7, 8, 9 }, mask[10] = { 1, 1, 1, 1, 0, 0, 0, 1, 1, 1 }, pos2[30], d2;
    assert_int_equal(qv_rope_index(&c, ids2, mask, 1, 10, grid, 1, pos2, &d2, &e), 0);
    static const int64_t want[10] = { 0, 1, 2, 3, 1, 1, 1, 4, 5, 6 };
    for (int k = 0; k < 3; k++) for (int i = 0; i < 10; i++) assert_int_equal(pos2[k * 10 + i], want[i]);
    assert_int_equal(d2, 7 - 10);
    /* text only: cumsum of the mask */
    assert_int_equal(qv_rope_index(&c, ids2, mask, 1, 10, NULL, 0, pos2, &d2, &e), 0);
    for (int i = 0; i < 10; i++) assert_int_equal(pos2[i], want[i]);
    /* an image without grid rows is an error */
    assert_int_equal(qv_rope_index(&c, ids, NULL, 1, L, grid, 0, pos, &d, &e), -1);
    assert_contains(e.msg, "image_grid_thw");
    cJSON_Delete(j);
}

/* Naive attention for one head layout, double accumulation. */
static void attn_ref(const QvAttn *a, float *o) {
    int group = a->Hq / a->Hkv;
    for (int h = 0; h < a->Hq; h++)
        for (int i = 0; i < a->L; i++) {
            int s0 = 0, s1 = a->L;
            if (a->cu) for (int s = 0; s < a->nseg; s++) if (i >= a->cu[s] && i < a->cu[s + 1]) { s0 = a->cu[s]; s1 = a->cu[s + 1]; }
            double w[64], mx = -1e300, sum = 0; int any = 0;
            for (int j = s0; j < s1; j++) {
                int ok = (!a->causal || j <= i) && (!a->key_mask || a->key_mask[j]);
                double sc = 0;
                for (int d = 0; d < a->D; d++) sc += (double)a->q[i * a->ldq + h * a->D + d] * a->k[j * a->ldk + (h / group) * a->D + d];
                w[j - s0] = ok ? sc / sqrt(a->D) : -INFINITY;
                if (ok) { any = 1; if (w[j - s0] > mx) mx = w[j - s0]; }
            }
            for (int j = s0; j < s1; j++) { w[j - s0] = any ? (w[j - s0] == -INFINITY ? 0 : exp(w[j - s0] - mx)) : 1; sum += w[j - s0]; }
            for (int d = 0; d < a->D; d++) {
                double acc = 0;
                for (int j = s0; j < s1; j++) acc += w[j - s0] / sum * a->v[j * a->ldk + (h / group) * a->D + d];
                o[i * a->ldo + h * a->D + d] = (float)acc;
            }
        }
}

static void test_attention_matches_reference(void **st) {
    (void)st;
    enum { L = 37, HQ = 4, HKV = 2, D = 8 };
    float q[L * HQ * D], k[L * HKV * D], v[L * HKV * D], o[L * HQ * D], r[L * HQ * D];
    Rng g; rng_seed(&g, 5);
    rng_fill_normal(&g, q, sizeof q / 4, 0, 1); rng_fill_normal(&g, k, sizeof k / 4, 0, 1); rng_fill_normal(&g, v, sizeof v / 4, 0, 1);
    int mask[L], cu[4] = { 0, 10, 30, L };
    for (int i = 0; i < L; i++) mask[i] = (i % 5) != 3 && i != 0;   /* query 0 has no allowed key */
    QvAttn a = { .L = L, .Hq = HQ, .Hkv = HKV, .D = D, .q = q, .k = k, .v = v, .ldq = HQ * D, .ldk = HKV * D, .o = o, .ldo = HQ * D,
                 .causal = 1, .key_mask = mask };
    qv_attention(&a); attn_ref(&a, r);
    for (int i = 0; i < L * HQ * D; i++) assert_float_equal(o[i], r[i], 1e-5);
    a.causal = 0; a.key_mask = NULL; a.cu = cu; a.nseg = 3;
    qv_attention(&a); attn_ref(&a, r);
    for (int i = 0; i < L * HQ * D; i++) assert_float_equal(o[i], r[i], 1e-5);
}

static void fill_pixels(float *p, size_t n, uint64_t seed) { Rng g; rng_seed(&g, seed); rng_fill_normal(&g, p, n, 0, 1); }

static void test_vision_invariants(void **st) {
    (void)st;
    cJSON *j = cJSON_Parse(TINY); Err e = {0};
    QwenVL m;
    assert_int_equal(qwenvl_init_random(&m, j, 11, DT_F32, &e), 0);
    int K = m.patch_embed.in, O = m.cfg.vision.out_hidden;
    /* two images: 4x6 and 6x4 patches */
    int64_t grid[6] = { 1, 4, 6, 1, 6, 4 };
    float *pix = xmalloc(48 * (size_t)K * sizeof(float));
    fill_pixels(pix, 48 * (size_t)K, 3);
    float both[12 * 32], one[6 * 32], two[6 * 32];
    assert_int_equal(qv_vision_forward(&m, pix, 48, K, grid, 2, both, &e), 0);
    assert_int_equal(qv_vision_forward(&m, pix, 24, K, grid, 1, one, &e), 0);
    assert_int_equal(qv_vision_forward(&m, pix + 24 * (size_t)K, 24, K, grid + 3, 1, two, &e), 0);
    assert_memory_equal(both, one, sizeof one);
    assert_memory_equal(both + 6 * O, two, sizeof two);
    /* windows as large as the image: window blocks equal full-attention blocks */
    QwenVL w = m; w.cfg.vision.window_size = 56 * 4;
    float big[6 * 32], full[6 * 32];
    assert_int_equal(qv_vision_forward(&w, pix, 24, K, grid, 1, big, &e), 0);
    w.cfg.vision.n_fullatt = 3; w.cfg.vision.fullatt[0] = 0; w.cfg.vision.fullatt[1] = 1; w.cfg.vision.fullatt[2] = 2;
    assert_int_equal(qv_vision_forward(&w, pix, 24, K, grid, 1, full, &e), 0);
    for (int i = 0; i < 6 * 32; i++) assert_float_equal(big[i], full[i], 1e-5);
    /* and with real windows the result differs (the windows do act) */
    int diff = 0;
    for (int i = 0; i < 6 * 32; i++) diff |= fabsf(one[i] - full[i]) > 1e-4f;
    assert_true(diff);
    /* bad grids are named */
    int64_t bad[3] = { 1, 5, 6 };
    assert_int_equal(qv_vision_forward(&m, pix, 30, K, bad, 1, both, &e), -1);
    assert_contains(e.msg, "image_grid_thw row 0");
    assert_int_equal(qv_vision_forward(&m, pix, 20, K, grid, 1, both, &e), -1);
    assert_contains(e.msg, "pixel_values");
    free(pix);
    qwenvl_free(&m);
    cJSON_Delete(j);
}

/* Writes the random model's tensors to dir/model.safetensors under the newer key layout
 * (or the published one), as bf16 or f32. */
static void save_model(const QwenVL *m, const char *path, int newer, DType dt) {
    StWriter w; stw_init(&w);
    for (int i = 0; i < m->np; i++) {
        const QvParam *p = &m->p[i];
        if (!p->data) continue;
        char name[300];
        if (newer && !strncmp(p->name, "visual.", 7)) snprintf(name, sizeof name, "model.%s", p->name);
        else if (newer && !strncmp(p->name, "model.", 6)) snprintf(name, sizeof name, "model.language_model.%s", p->name + 6);
        else snprintf(name, sizeof name, "%s", p->name);
        size_t n = 1; for (int d = 0; d < p->ndim; d++) n *= (size_t)p->shape[d];
        float *f = xmalloc(n * sizeof(float));
        dtype_to_f32(p->dtype, p->data, f, n);
        void *buf = xmalloc(n * dtype_size(dt));
        dtype_from_f32(dt, f, buf, n);
        stw_add(&w, name, dt, p->ndim, p->shape, buf);
        free(f); free(buf);
    }
    Err e = {0};
    assert_int_equal(stw_write(&w, path, &e), 0);
    stw_free(&w);
}

/* Runs the language model on a fixed text-only sequence; returns the final hidden states. */
static void run_text(const QwenVL *m, float *out) {
    int64_t ids[7] = { 3, 9, 27, 81, 100, 5, 0 }, pos[21], d;
    Err e = {0};
    assert_int_equal(qv_rope_index(&m->cfg, ids, NULL, 1, 7, NULL, 0, pos, &d, &e), 0);
    assert_int_equal(qv_embed_inputs(m, ids, 7, NULL, 0, &(int64_t){0}, out, &e), 0);
    qv_language_forward(m, out, 7, pos, 7, NULL, NULL, NULL);
}

static void test_checkpoint_layouts(void **st) {
    (void)st;
    cJSON *j = cJSON_Parse(TINY); Err e = {0};
    QwenVL r, a, b;
    assert_int_equal(qwenvl_init_random(&r, j, 7, DT_BF16, &e), 0);
    char *dir = tmpdir_make();
    char *d1 = xasprintf("%s/legacy", dir), *d2 = xasprintf("%s/newer", dir);
    assert_int_equal(dir_make(d1, &e), 0); assert_int_equal(dir_make(d2, &e), 0);
    char *c1 = xasprintf("%s/config.json", d1), *c2 = xasprintf("%s/config.json", d2);
    write_text(c1, TINY); write_text(c2, TINY_NESTED);
    char *w1 = xasprintf("%s/model.safetensors", d1), *w2 = xasprintf("%s/model.safetensors", d2);
    save_model(&r, w1, 0, DT_F32);
    save_model(&r, w2, 1, DT_BF16);
    assert_int_equal(qwenvl_load(&a, d1, &e), 0);
    assert_int_equal(qwenvl_load(&b, d2, &e), 0);
    assert_int_equal(qwenvl_numel(&a), qwenvl_numel(&r));
    assert_int_equal(b.p[b.embed].dtype, DT_BF16);
    float hr[7 * 32], ha[7 * 32], hb[7 * 32];
    run_text(&r, hr); run_text(&a, ha); run_text(&b, hb);
    assert_memory_equal(hr, ha, sizeof hr);
    assert_memory_equal(hr, hb, sizeof hr);
    assert_true(a.lm_head.w >= 0);
    qwenvl_free(&a); qwenvl_free(&b);
    /* a missing tensor and a wrong shape are named */
    StFile f; assert_int_equal(st_open(&f, w1, &e), 0);
    StWriter w; stw_init(&w);
    for (int i = 0; i < f.n; i++) {
        if (!strcmp(f.t[i].name, "model.layers.1.mlp.up_proj.weight")) continue;
        if (!strcmp(f.t[i].name, "visual.merger.ln_q.weight")) { int64_t s[1] = { 15 }; stw_add(&w, f.t[i].name, DT_F32, 1, s, f.t[i].data); continue; }
        stw_add(&w, f.t[i].name, f.t[i].dtype, f.t[i].ndim, f.t[i].shape, f.t[i].data);
    }
    st_close(&f);
    assert_int_equal(stw_write(&w, w1, &e), 0);
    assert_int_equal(qwenvl_load(&a, d1, &e), -1);
    assert_contains(e.msg, "visual.merger.ln_q.weight");
    stw_add(&w, "visual.merger.ln_q.weight", DT_F32, 1, (int64_t[]){ 16 }, r.p[r.merger_norm].data);
    assert_int_equal(stw_write(&w, w1, &e), 0);
    assert_int_equal(qwenvl_load(&a, d1, &e), -1);
    assert_contains(e.msg, "model.layers.1.mlp.up_proj.weight");
    stw_free(&w);
    qwenvl_free(&r);
    free(c1); free(c2); free(w1); free(w2); free(d1); free(d2);
    tmpdir_remove(dir);
    cJSON_Delete(j);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_layouts),
        cmocka_unit_test(test_window_index_spec_example),
        cmocka_unit_test(test_rope_index_edit_plus_example),
        cmocka_unit_test(test_attention_matches_reference),
        cmocka_unit_test(test_vision_invariants),
        cmocka_unit_test(test_checkpoint_layouts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
