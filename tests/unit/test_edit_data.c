/* Edit-run caches: every latent and prompt embedding is built once, reused on the next run, rebuilt
 * when its source changes; the sample source serves cached tensors with the right shapes. */
#include "test_util.h"
#include "test_vae_fixtures.h"
#include "base/files.h"
#include "image/image_io.h"
#include "data/synth.h"
#include "pipeline/edit_data.h"

static int nearest_resize(const Image *src, int w, int h, Image *out, Err *e) {
    (void)e;
    *out = (Image){w, h, 3, malloc((size_t)w * h * 3)};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            memcpy(out->data + ((size_t)y * w + x) * 3, src->data + ((size_t)(y * src->height / h) * src->width + x * src->width / w) * src->channels, 3);
    return 0;
}

typedef struct { int calls; } Enc;
/* Deterministic stand-in for the text encoder: L = 3 + strlen(prompt) % 4 tokens of dim 8. */
static int fake_encode(void *ctx, const char *prompt, const Image *refs, int n, StWriter *out, Err *e) {
    (void)e;
    ((Enc *)ctx)->calls++;
    assert_true(n >= 1);
    assert_non_null(refs[0].data);
    int L = 3 + (int)(strlen(prompt) % 4);
    float v[7 * 8];
    for (int i = 0; i < L * 8; i++) v[i] = (float)(i + strlen(prompt)) + refs[0].data[0] / 255.0f;
    int64_t shape[2] = {L, 8};
    stw_add_f32(out, "prompt_embeds", 2, shape, v);
    return 0;
}

static void write_pairs(const char *root, int n) {
    Err e = {0};
    for (int i = 0; i < n; i++) {
        SynthPair p;
        synth_pair(3, i, 1, 64, 48, &p);
        char rel[128];
        snprintf(rel, sizeof rel, "%s/images/p%d.png", root, i);
        char *d = path_dirname(rel); assert_int_equal(dir_make(d, &e), 0); free(d);
        assert_int_equal(image_write_png(rel, &p.edit, &e), 0);
        snprintf(rel, sizeof rel, "%s/images/p%d.txt", root, i);
        write_text(rel, p.instruction);
        snprintf(rel, sizeof rel, "%s/ref/p%d.png", root, i);
        d = path_dirname(rel); assert_int_equal(dir_make(d, &e), 0); free(d);
        assert_int_equal(image_write_png(rel, &p.refs[0], &e), 0);
        synth_pair_free(&p);
    }
}

typedef struct Run {
    char *images, *ref, *vae_a, *vae_b, *text;
    DatasetSpec spec[2];
    const char *conds[1];
    DataGroup g;
    Vae vae;
    Enc enc;
    EditData d;
} Run;

static void run_open(Run *r, const char *root) {
    memset(r, 0, sizeof *r);
    r->images = path_join(root, "images"); r->ref = path_join(root, "ref");
    r->vae_a = path_join(root, "cache/vae/images"); r->vae_b = path_join(root, "cache/vae/ref");
    r->text = path_join(root, "cache/text");
    r->conds[0] = "ref";
    DatasetSpec *s = &r->spec[0];
    s->id = "edits"; s->instance_data_dir = r->images; s->conditioning_data = r->conds; s->n_conditioning_data = 1;
    s->captions.strategy = CAPTION_TEXTFILE;
    bucket_params_default(&s->buckets);
    s->buckets.resolution = 48; s->buckets.alignment = 16; s->buckets.crop_style = CROP_STYLE_CENTER;
    s->probability = 1; s->batch_size = 1; s->cache_dir_vae = r->vae_a;
    DatasetSpec *c = &r->spec[1];
    c->id = "ref"; c->instance_data_dir = r->ref; c->is_conditioning = 1; c->conditioning_type = COND_REFERENCE_STRICT;
    bucket_params_default(&c->buckets);
    c->probability = 1; c->batch_size = 1; c->cache_dir_vae = r->vae_b;
    DataOptions opt = {.seed = 7, .multi_cond = MULTI_COND_COMBINED, .weighting = SAMPLING_AUTO_WEIGHTING};
    Err e = {0};
    if (data_load(r->spec, 2, &opt, &r->g, &e)) fail_msg("%s", e.msg);
    cJSON *cfg = cJSON_Parse(TINY_FLUX_VAE_CONFIG);
    assert_int_equal(vae_init_random(&r->vae, cfg, 1, DT_F32, &e), 0);
    cJSON_Delete(cfg);
    r->d = (EditData){.group = &r->g, .vae = &r->vae, .resize = nearest_resize, .encode_prompt = fake_encode, .encode_ctx = &r->enc,
                      .model_id = "test/model", .vae_id = "test/vae", .text_dir = r->text, .seed = 7};
}

static void run_close(Run *r) {
    edit_data_free(&r->d);
    vae_free(&r->vae);
    data_free(&r->g);
    free(r->images); free(r->ref); free(r->vae_a); free(r->vae_b); free(r->text);
}

static void test_cache_build_reuse_invalidate(void **state) {
    (void)state; (void)TINY_QWEN_VAE_CONFIG;
    char *root = tmpdir_make();
    write_pairs(root, 3);
    Run r; Err e = {0};
    EditCacheStats s;
    run_open(&r, root);
    if (edit_data_cache_all(&r.d, &s, &e)) fail_msg("%s", e.msg);
    assert_int_equal(s.vae_built, 6); assert_int_equal(s.text_built, 3);
    assert_int_equal(s.vae_hit, 0);
    run_close(&r);
    /* second run: everything reused */
    run_open(&r, root);
    if (edit_data_cache_all(&r.d, &s, &e)) fail_msg("%s", e.msg);
    assert_int_equal(s.vae_hit, 6); assert_int_equal(s.text_hit, 3);
    assert_int_equal(s.vae_built + s.text_built, 0);
    assert_int_equal(r.enc.calls, 0);
    run_close(&r);
    /* a changed reference invalidates its latent and the prompt embedded with it */
    SynthPair p; synth_pair(99, 0, 1, 64, 48, &p);
    char *ref1 = path_join(root, "ref/p1.png");
    assert_int_equal(image_write_png(ref1, &p.refs[0], &e), 0);
    synth_pair_free(&p); free(ref1);
    run_open(&r, root);
    if (edit_data_cache_all(&r.d, &s, &e)) fail_msg("%s", e.msg);
    assert_int_equal(s.vae_built, 1); assert_int_equal(s.text_built, 1);
    assert_int_equal(s.vae_hit, 5); assert_int_equal(s.text_hit, 2);
    /* the source serves cached tensors */
    SampleSource src = edit_data_source(&r.d);
    TrainSample ts[1]; int n = 0;
    for (int k = 0; k < 4; k++) {
        if (src.next_batch(src.self, ts, 1, &n, &e)) fail_msg("%s", e.msg);
        assert_int_equal(n, 1);
        assert_int_equal(ts[0].c, 4);
        assert_int_equal(ts[0].h * 8, r.d.batch.height); assert_int_equal(ts[0].w * 8, r.d.batch.width);
        assert_int_equal(ts[0].n_refs, 1);
        assert_int_equal(ts[0].ref_h[0], ts[0].h);                      /* strict: same geometry */
        assert_int_equal(ts[0].ref_w[0], ts[0].w);
        assert_int_equal(ts[0].txt_dim, 8);
        assert_true(ts[0].txt_len >= 3 && ts[0].txt_len <= 6);
    }
    char *st = src.state_save(src.self);
    assert_non_null(strstr(st, "epoch"));
    free(st);
    run_close(&r);
    tmpdir_remove(root);
}

/* A prompt embedding of the wrong rank (a 1-D tensor) in a cache entry: the sample source refuses it
 * naming the entry instead of taking sizes from dims it does not have; an encoder error on a
 * caption names the caption file. */
static int flat_encode(void *ctx, const char *prompt, const Image *refs, int n, StWriter *out, Err *e) {
    (void)ctx; (void)refs; (void)n; (void)e;
    float v[5] = {1, 2, 3, 4, 5};
    int64_t len = 5;
    stw_add_f32(out, "prompt_embeds", 1, &len, v);
    return strstr(prompt, "too long") ? err_setc(e, EXIT_USAGE, "prompt too long") : 0;
}

static void test_bad_cached_shapes(void **state) {
    (void)state;
    char *root = tmpdir_make();
    write_pairs(root, 1);
    Run r; Err e = {0};
    EditCacheStats s;
    run_open(&r, root);
    r.d.encode_prompt = flat_encode;
    if (edit_data_cache_all(&r.d, &s, &e)) fail_msg("%s", e.msg);
    SampleSource src = edit_data_source(&r.d);
    TrainSample ts[1]; int n = 0;
    assert_int_equal(src.next_batch(src.self, ts, 1, &n, &e), -1);
    assert_contains(e.msg, "cache entry tensor 'prompt_embeds' has 1 dims (expected 2");
    run_close(&r);
    char *cap = path_join(root, "images/p0.txt");
    write_text(cap, "this caption is too long");
    run_open(&r, root);
    r.d.encode_prompt = flat_encode;
    assert_int_equal(edit_data_cache_all(&r.d, &s, &e), -1);
    char want[1024];
    snprintf(want, sizeof want, "caching dataset \"edits\": %s: prompt too long", cap);
    assert_string_equal(e.msg, want);
    run_close(&r);
    free(cap);
    tmpdir_remove(root);
}

typedef struct { int calls, max_images; } CountEnc;
static int counting_encode(void *ctx, const char *prompt, const Image *refs, int n, StWriter *out, Err *e) {
    CountEnc *c = ctx;
    c->calls++;
    if (n > c->max_images) c->max_images = n;
    (void)refs;
    return fake_encode(&(Enc){0}, prompt, refs, n, out, e);
}

/* A mask conditioning set: paired and cropped like the edit image, cached as loss weights at the
 * latent grid (white 1, black 0), never counted as a reference nor shown to the text encoder. */
static void test_mask_dataset(void **state) {
    (void)state;
    char *root = tmpdir_make();
    write_pairs(root, 2);
    Err e = {0};
    char *mdir = path_join(root, "mask");
    assert_int_equal(dir_make(mdir, &e), 0);
    for (int i = 0; i < 2; i++) {
        Image m = {64, 48, 3, malloc(64 * 48 * 3)};
        memset(m.data, i == 0 ? 255 : 0, 64 * 48 * 3);
        char *p = xasprintf("%s/p%d.png", mdir, i);
        assert_int_equal(image_write_png(p, &m, &e), 0);
        free(p); free(m.data);
    }
    char *images = path_join(root, "images"), *ref = path_join(root, "ref"), *va = path_join(root, "cache/vae/images"),
         *vb = path_join(root, "cache/vae/ref"), *vm = path_join(root, "cache/vae/mask"), *text = path_join(root, "cache/text");
    const char *conds[2] = {"ref", "mask"};
    DatasetSpec spec[3];
    memset(spec, 0, sizeof spec);
    spec[0].id = "edits"; spec[0].instance_data_dir = images; spec[0].conditioning_data = conds; spec[0].n_conditioning_data = 2;
    spec[0].captions.strategy = CAPTION_TEXTFILE;
    bucket_params_default(&spec[0].buckets);
    spec[0].buckets.resolution = 48; spec[0].buckets.alignment = 16; spec[0].buckets.crop_style = CROP_STYLE_CENTER;
    spec[0].probability = 1; spec[0].batch_size = 1; spec[0].cache_dir_vae = va;
    const char *ids[2] = {"ref", "mask"};
    char *dirs[2] = {ref, mdir}, *caches[2] = {vb, vm};
    ConditioningType types[2] = {COND_REFERENCE_STRICT, COND_MASK};
    for (int k = 0; k < 2; k++) {
        DatasetSpec *c = &spec[1 + k];
        c->id = ids[k]; c->instance_data_dir = dirs[k]; c->is_conditioning = 1; c->conditioning_type = types[k];
        bucket_params_default(&c->buckets);
        c->probability = 1; c->batch_size = 1; c->cache_dir_vae = caches[k];
    }
    /* random mode must still pick among the references only */
    DataOptions opt = {.seed = 7, .multi_cond = MULTI_COND_RANDOM, .weighting = SAMPLING_AUTO_WEIGHTING};
    DataGroup g;
    if (data_load(spec, 3, &opt, &g, &e)) fail_msg("%s", e.msg);
    cJSON *cfg = cJSON_Parse(TINY_FLUX_VAE_CONFIG);
    Vae vae;
    assert_int_equal(vae_init_random(&vae, cfg, 1, DT_F32, &e), 0);
    cJSON_Delete(cfg);
    CountEnc enc = {0, 0};
    EditData d = {.group = &g, .vae = &vae, .resize = nearest_resize, .encode_prompt = counting_encode, .encode_ctx = &enc,
                  .model_id = "test/model", .vae_id = "test/vae", .text_dir = text, .seed = 7};
    EditCacheStats st;
    if (edit_data_cache_all(&d, &st, &e)) fail_msg("%s", e.msg);
    assert_int_equal(st.vae_built, 6);            /* 2 edit + 2 reference latents + 2 masks */
    assert_int_equal(enc.max_images, 1);          /* the mask is not a prompt image */
    SampleSource src = edit_data_source(&d);
    int seen_white = 0, seen_black = 0;
    for (int k = 0; k < 4; k++) {
        TrainSample ts[1]; int n = 0;
        if (src.next_batch(src.self, ts, 1, &n, &e)) fail_msg("%s", e.msg);
        assert_int_equal(ts[0].n_refs, 1);
        assert_non_null(ts[0].mask);
        float v = ts[0].mask[0];
        for (int i = 0; i < ts[0].h * ts[0].w; i++) assert_true(ts[0].mask[i] == v);
        if (v == 1.0f) seen_white = 1; else if (v == 0.0f) seen_black = 1; else fail_msg("mask weight %g", v);
    }
    assert_true(seen_white && seen_black);
    edit_data_free(&d);
    vae_free(&vae);
    data_free(&g);
    free(images); free(ref); free(va); free(vb); free(vm); free(text); free(mdir);
    tmpdir_remove(root);
}

/* Random mode with two reference sets, one with its own captions: those captions get prompt
 * embeddings in the cache (with the item's reference images), and a sample drawing that set is
 * served the reference caption's embedding. */
static void test_reference_captions_cached(void **state) {
    (void)state;
    char *root = tmpdir_make();
    write_pairs(root, 2);
    Err e = {0};
    for (int i = 0; i < 2; i++) {   /* a second reference set with the same names */
        SynthPair p;
        synth_pair(4, i, 1, 64, 48, &p);
        char *q = xasprintf("%s/ref2/p%d.png", root, i), *dq = path_dirname(q);
        assert_int_equal(dir_make(dq, &e), 0);
        assert_int_equal(image_write_png(q, &p.refs[0], &e), 0);
        free(q); free(dq);
        synth_pair_free(&p);
    }
    const char *ref_caption = "use the reference caption";
    char *images = path_join(root, "images"), *text = path_join(root, "cache/text");
    char *dirs[2] = {path_join(root, "ref"), path_join(root, "ref2")};
    char *vae[3] = {path_join(root, "cache/vae/images"), path_join(root, "cache/vae/ref"), path_join(root, "cache/vae/ref2")};
    const char *conds[2] = {"ref", "ref2"};
    DatasetSpec spec[3];
    memset(spec, 0, sizeof spec);
    spec[0].id = "edits"; spec[0].instance_data_dir = images; spec[0].conditioning_data = conds; spec[0].n_conditioning_data = 2;
    spec[0].captions.strategy = CAPTION_TEXTFILE;
    bucket_params_default(&spec[0].buckets);
    spec[0].buckets.resolution = 48; spec[0].buckets.alignment = 16; spec[0].buckets.crop_style = CROP_STYLE_CENTER;
    spec[0].probability = 1; spec[0].batch_size = 1; spec[0].cache_dir_vae = vae[0];
    for (int k = 0; k < 2; k++) {
        DatasetSpec *c = &spec[1 + k];
        c->id = conds[k]; c->instance_data_dir = dirs[k]; c->is_conditioning = 1; c->conditioning_type = COND_REFERENCE_STRICT;
        bucket_params_default(&c->buckets);
        c->probability = 1; c->batch_size = 1; c->cache_dir_vae = vae[1 + k];
    }
    spec[1].captions.strategy = CAPTION_INSTANCEPROMPT; spec[1].captions.instance_prompt = ref_caption;
    DataOptions opt = {.seed = 7, .multi_cond = MULTI_COND_RANDOM, .weighting = SAMPLING_AUTO_WEIGHTING};
    DataGroup g;
    if (data_load(spec, 3, &opt, &g, &e)) fail_msg("%s", e.msg);
    cJSON *cfg = cJSON_Parse(TINY_FLUX_VAE_CONFIG);
    Vae v;
    assert_int_equal(vae_init_random(&v, cfg, 1, DT_F32, &e), 0);
    cJSON_Delete(cfg);
    CountEnc enc = {0, 0};
    EditData d = {.group = &g, .vae = &v, .resize = nearest_resize, .encode_prompt = counting_encode, .encode_ctx = &enc,
                  .model_id = "test/model", .vae_id = "test/vae", .text_dir = text, .seed = 7};
    EditCacheStats st;
    if (edit_data_cache_all(&d, &st, &e)) fail_msg("%s", e.msg);
    assert_int_equal(st.text_built, 4);           /* per image: its instruction and the reference caption */
    assert_int_equal(enc.max_images, 2);          /* both references shown to the encoder, as for the edit caption */
    SampleSource src = edit_data_source(&d);
    int with_ref_caption = 0, with_edit_caption = 0;
    for (int k = 0; k < 12; k++) {
        TrainSample ts[1]; int n = 0;
        if (src.next_batch(src.self, ts, 1, &n, &e)) fail_msg("%s", e.msg);
        const DataSample *x = &d.batch.samples[0];
        /* fake_encode: embedding[0] = strlen(prompt) + a fraction */
        int len = (int)ts[0].txt[0];
        if (x->ref_set[0] == 1) { assert_string_equal(x->caption, ref_caption); assert_int_equal(len, (int)strlen(ref_caption)); with_ref_caption++; }
        else { assert_string_not_equal(x->caption, ref_caption); assert_int_equal(len, (int)strlen(x->caption)); with_edit_caption++; }
    }
    assert_true(with_ref_caption && with_edit_caption);
    edit_data_free(&d);
    vae_free(&v);
    data_free(&g);
    free(images); free(text);
    for (int k = 0; k < 2; k++) free(dirs[k]);
    for (int k = 0; k < 3; k++) free(vae[k]);
    tmpdir_remove(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_build_reuse_invalidate),
        cmocka_unit_test(test_bad_cached_shapes),
        cmocka_unit_test(test_mask_dataset),
        cmocka_unit_test(test_reference_captions_cached),
    };
    return cmocka_run_group_tests_name("edit_data", tests, NULL, NULL);
}
