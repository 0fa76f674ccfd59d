/* Whole-dataset loading: corrupt images skipped with a count (or fatal when strict), missing caption
 * files and missing pairs as single listing errors, strict/loose reference geometry, combined and
 * random multi-reference sampling, one bucket per batch. Fixtures are written by the test. */
#include "test_data_helpers.h"
#include "data/dataset.h"
#include "data/dataset_cache.h"
#include "image/image_resize.h"

typedef struct Fix {
    char *root, *edits, *ra, *rb;
    DatasetSpec spec[3];
    const char *conds[2];
    DataOptions opt;
} Fix;

static void fix_init(Fix *f, int n_refs) {
    f->root = tmpdir_make();
    f->edits = path_join(f->root, "edits"); f->ra = path_join(f->root, "ra"); f->rb = path_join(f->root, "rb");
    memset(f->spec, 0, sizeof f->spec);
    f->conds[0] = "ref-a"; f->conds[1] = "ref-b";
    DatasetSpec *e = &f->spec[0];
    e->id = "edit-images"; e->instance_data_dir = f->edits;
    e->conditioning_data = f->conds; e->n_conditioning_data = n_refs;
    e->captions.strategy = CAPTION_TEXTFILE;
    bucket_params_default(&e->buckets);
    e->buckets.resolution = 64; e->buckets.alignment = 16; e->buckets.crop_style = CROP_STYLE_RANDOM; e->buckets.seed = 9;
    e->probability = 1; e->batch_size = 2;
    for (int k = 0; k < 2; k++) {
        DatasetSpec *r = &f->spec[1 + k];
        r->id = f->conds[k]; r->instance_data_dir = k ? f->rb : f->ra;
        r->is_conditioning = 1; r->conditioning_type = COND_REFERENCE_STRICT;
        bucket_params_default(&r->buckets);
        r->buckets.seed = 9;
        r->probability = 1; r->batch_size = 2;
    }
    f->opt = (DataOptions){ .seed = 5, .multi_cond = MULTI_COND_COMBINED, .weighting = SAMPLING_AUTO_WEIGHTING };
}

static void fix_free(Fix *f) { free(f->edits); free(f->ra); free(f->rb); tmpdir_remove(f->root); }

/* n pairs img_i: edit w x h (+ caption), references in ra (and rb) at their own sizes */
static void fix_pairs(Fix *f, int n, int w, int h) {
    char rel[64];
    for (int i = 0; i < n; i++) {
        snprintf(rel, sizeof rel, "sub/img_%d.png", i);
        make_png(f->edits, rel, w + (i % 2) * 40, h, i);
        make_png(f->ra, rel, w / 2, h / 2, 100 + i);
        make_png(f->rb, rel, w, h, 200 + i);
        snprintf(rel, sizeof rel, "sub/img_%d.txt", i);
        make_text(f->edits, rel, "make it blue\nmake it red\n");
    }
}

static void test_load_strict_geometry_and_batches(void **state) {
    (void)state;
    Fix f; fix_init(&f, 2);
    fix_pairs(&f, 6, 96, 64);
    DataGroup g; Err e = {0};
    if (data_load(f.spec, 3, &f.opt, &g, &e)) fail_msg("%s", e.msg);
    const Dataset *d = &g.sets[0];
    assert_int_equal(d->n_found, 6); assert_int_equal(d->n_items, 6); assert_int_equal(d->n_cond, 2);
    assert_int_equal(d->n_buckets, 2);           /* 96x64 and 136x64 images: two aspects */
    for (int i = 0; i < d->n_items; i++) {
        const DataItem *it = &d->items[i];
        for (int k = 0; k < 2; k++) {
            const SampleGeometry *r = &it->refs[k].geom;
            /* strict: same intermediary size, crop box and target as the edit image */
            assert_int_equal(r->inter_w, it->geom.inter_w); assert_int_equal(r->inter_h, it->geom.inter_h);
            assert_int_equal(r->crop_x, it->geom.crop_x); assert_int_equal(r->crop_y, it->geom.crop_y);
            assert_int_equal(r->target_w, it->geom.target_w); assert_int_equal(r->target_h, it->geom.target_h);
        }
        assert_int_equal(it->refs[0].geom.orig_w, 48);   /* the reference's own size is kept */
        assert_string_equal(g.sets[1].items[it->refs[0].item].rel, it->rel);
    }
    DataBatch b = {0};
    for (int s = 0; s < 9; s++) {
        assert_int_equal(data_next_batch(&g, &b, &e), 0);
        assert_int_equal(b.n, 2);
        for (int i = 0; i < b.n; i++) {
            const DataItem *it = &d->items[b.samples[i].item];
            assert_int_equal(it->geom.target_w, b.width); assert_int_equal(it->geom.target_h, b.height);
            assert_int_equal(b.samples[i].n_refs, 2);     /* combined */
            assert_int_equal(b.samples[i].ref_set[0], 1); assert_int_equal(b.samples[i].ref_set[1], 2);
            assert_true(!strcmp(b.samples[i].caption, "make it blue") || !strcmp(b.samples[i].caption, "make it red"));
        }
    }
    data_batch_free(&b);
    data_free(&g);
    /* random: one reference per sample, chosen per path and epoch */
    f.opt.multi_cond = MULTI_COND_RANDOM;
    if (data_load(f.spec, 3, &f.opt, &g, &e)) fail_msg("%s", e.msg);
    int used[3] = {0};
    memset(&b, 0, sizeof b);
    for (int s = 0; s < 30; s++) {
        assert_int_equal(data_next_batch(&g, &b, &e), 0);
        for (int i = 0; i < b.n; i++) {
            assert_int_equal(b.samples[i].n_refs, 1); used[b.samples[i].ref_set[0]]++;
            assert_int_equal(b.samples[i].ref_slot[0] + 1, b.samples[i].ref_set[0]);
        }
    }
    assert_true(used[1] > 0 && used[2] > 0);
    data_batch_free(&b);
    data_free(&g);
    fix_free(&f);
}

static void test_loose_reference_own_bucket(void **state) {
    (void)state;
    Fix f; fix_init(&f, 1);
    fix_pairs(&f, 4, 64, 64);
    f.spec[1].conditioning_type = COND_REFERENCE_LOOSE;
    make_png(f.ra, "sub/img_0.png", 128, 32, 1);   /* a 4:1 reference for a square edit image */
    DataGroup g; Err e = {0};
    if (data_load(f.spec, 2, &f.opt, &g, &e)) fail_msg("%s", e.msg);
    const DataItem *it = NULL;
    for (int i = 0; i < g.sets[0].n_items; i++) if (!strcmp(g.sets[0].items[i].rel, "sub/img_0.png")) it = &g.sets[0].items[i];
    assert_non_null(it);
    assert_int_equal(it->geom.target_w, 64); assert_int_equal(it->geom.target_h, 64);
    assert_int_equal(it->refs[0].geom.orig_w, 128);
    assert_true(it->refs[0].geom.target_w > it->refs[0].geom.target_h);   /* bucketed on its own */
    data_free(&g);
    fix_free(&f);
}

static void test_corrupt_skipped_or_strict(void **state) {
    (void)state;
    Fix f; fix_init(&f, 1);
    fix_pairs(&f, 5, 64, 64);
    char *bad = path_join(f.edits, "sub/img_1.png");
    write_text(bad, "garbage");
    char *badref = path_join(f.ra, "sub/img_2.png");
    write_text(badref, "");
    DataGroup g; Err e = {0};
    if (data_load(f.spec, 2, &f.opt, &g, &e)) fail_msg("%s", e.msg);
    const Dataset *d = &g.sets[0];
    assert_int_equal(d->n_found, 5);
    assert_int_equal(d->n_items, 3);
    assert_int_equal(d->n_skipped, 2);
    char want[1024];
    snprintf(want, sizeof want, "%s: not a JPEG, PNG or WebP image (unrecognised file signature)", bad);
    assert_string_equal(d->skipped[0].reason, want);
    assert_string_equal(d->skipped[1].rel, "sub/img_2.png");
    assert_string_equal(d->skipped[1].reason, "its reference \"sub/img_2.png\" in dataset \"ref-a\" is unreadable");
    char *out = NULL; size_t len = 0;
    FILE *mf = open_memstream(&out, &len);
    data_summary_print(&g, mf);
    fclose(mf);
    snprintf(want, sizeof want, "dataset \"edit-images\" (%s): 5 images found, 3 used, 2 skipped\n", f.edits);
    assert_contains(out, want);
    assert_contains(out, "  pairs with \"ref-a\": 4 same path, 0 other extension, 0 missing, 1 references unused\n");
    assert_contains(out, "  buckets (WxH: images): 64x64: 2 80x48: 1 (pruned)\n");
    assert_contains(out, "  (pruned: fewer than 2 samples = train_batch_size x gradient_accumulation_steps");
    snprintf(want, sizeof want, "dataset \"ref-a\" (%s, reference_strict of \"edit-images\"): 5 images found, 1 unreadable\n", f.ra);
    assert_contains(out, want);
    free(out);
    data_free(&g);
    f.opt.strict = 1;
    assert_int_equal(data_load(f.spec, 2, &f.opt, &g, &e), -1);
    snprintf(want, sizeof want, "dataset \"edit-images\": %s: not a JPEG, PNG or WebP image (unrecognised file signature) (strict mode: fix or remove the file)", bad);
    assert_string_equal(e.msg, want);
    free(bad); free(badref);
    fix_free(&f);
}

static void test_missing_captions_and_pairs(void **state) {
    (void)state;
    Fix f; fix_init(&f, 2);
    fix_pairs(&f, 4, 64, 64);
    char *t1 = path_join(f.edits, "sub/img_1.txt"), *t3 = path_join(f.edits, "sub/img_3.txt");
    unlink(t1); unlink(t3);
    DataGroup g; Err e = {0};
    assert_int_equal(data_load(f.spec, 3, &f.opt, &g, &e), -1);
    char want[2048];
    snprintf(want, sizeof want, "dataset \"edit-images\" (caption_strategy textfile): 2 of 4 images have no caption file: %s, %s", t1, t3);
    assert_string_equal(e.msg, want);
    assert_int_equal(e.code, EXIT_USAGE);
    make_text(f.edits, "sub/img_1.txt", "x"); make_text(f.edits, "sub/img_3.txt", "y");
    /* missing references in both sets: one line per conditioning dataset */
    char *a0 = path_join(f.ra, "sub/img_0.png"), *b2 = path_join(f.rb, "sub/img_2.png"), *b3 = path_join(f.rb, "sub/img_3.png");
    unlink(a0); unlink(b2); unlink(b3);
    make_png(f.edits, "top.png", 64, 64, 3);   /* nested and top-level paths */
    make_text(f.edits, "top.txt", "z");
    make_png(f.ra, "top.png", 64, 64, 3);
    assert_int_equal(data_load(f.spec, 3, &f.opt, &g, &e), -1);
    snprintf(want, sizeof want,
             "conditioning dataset \"ref-a\" (%s): 1 of 5 images of dataset \"edit-images\" have no reference with the same relative path: sub/img_0.png\n"
             "conditioning dataset \"ref-b\" (%s): 3 of 5 images of dataset \"edit-images\" have no reference with the same relative path: sub/img_2.png, sub/img_3.png, top.png",
             f.ra, f.rb);
    assert_string_equal(e.msg, want);
    /* another extension is accepted; two candidates are an error naming both */
    make_png(f.ra, "sub/img_0.jpg", 64, 64, 1);
    make_png(f.rb, "sub/img_2.webp", 64, 64, 1); make_png(f.rb, "sub/img_3.jpeg", 64, 64, 1); make_png(f.rb, "top.jpg", 64, 64, 1);
    if (data_load(f.spec, 3, &f.opt, &g, &e)) fail_msg("%s", e.msg);
    assert_int_equal(g.sets[0].pair[0].matched_stem, 1);
    assert_int_equal(g.sets[0].pair[1].matched_stem, 3);
    data_free(&g);
    make_png(f.rb, "top.png.jpg", 64, 64, 1);     /* different stem: no effect */
    make_png(f.rb, "top.webp", 64, 64, 1);
    assert_int_equal(data_load(f.spec, 3, &f.opt, &g, &e), -1);
    snprintf(want, sizeof want, "conditioning dataset \"ref-b\" (%s): ambiguous reference for \"top.png\" of dataset \"edit-images\": "
             "both \"top.jpg\" and \"top.webp\" match; rename or remove one", f.rb);
    assert_string_equal(e.msg, want);
    free(t1); free(t3); free(a0); free(b2); free(b3);
    fix_free(&f);
}

static void test_config_errors(void **state) {
    (void)state;
    Fix f; fix_init(&f, 2);
    fix_pairs(&f, 2, 64, 64);
    DataGroup g; Err e = {0};
    f.spec[2].is_conditioning = 0;
    assert_int_equal(data_load(f.spec, 3, &f.opt, &g, &e), -1);
    assert_string_equal(e.msg, "dataset \"edit-images\": conditioning_data names \"ref-b\", which is not a conditioning dataset");
    f.spec[2].is_conditioning = 1;
    f.conds[1] = "nope";
    assert_int_equal(data_load(f.spec, 3, &f.opt, &g, &e), -1);
    assert_string_equal(e.msg, "dataset \"edit-images\": conditioning_data names \"nope\", which is not defined");
    f.conds[1] = "ref-b";
    f.spec[0].batch_size = 8;
    assert_int_equal(data_load(f.spec, 3, &f.opt, &g, &e), -1);
    assert_string_equal(e.msg, "no bucket holds a full batch in any dataset: \"edit-images\" (2 images, batch size 8); lower train_batch_size, add images or raise repeats");
    f.spec[0].repeats = 7;   /* one image in each of two buckets, seen 8 times: one batch each */
    if (data_load(f.spec, 3, &f.opt, &g, &e)) fail_msg("%s", e.msg);
    assert_int_equal(g.sets[0].n_buckets, 2);
    assert_int_equal(sampler_batches_per_epoch(&g.sampler), 2);
    data_free(&g);
    fix_free(&f);
}

static CacheStatus key_status(const DataCacheKey *k) {
    StFile f; CacheStatus st; Err e = {0}; char why[512];
    if (cache_lookup(&k->key, &f, &st, why, sizeof why, &e)) fail_msg("%s", e.msg);
    if (st == CACHE_HIT) st_close(&f);
    return st;
}

static void key_store(const DataCacheKey *k) {
    StWriter w; stw_init(&w);
    float x[4] = { 1, 2, 3, 4 }; int64_t shp[1] = { 4 };
    stw_add_f32(&w, "latent", 1, shp, x);
    Err e = {0};
    if (cache_store(&k->key, &w, &e)) fail_msg("%s", e.msg);
    stw_free(&w);
}

static void test_sample_cache_keys(void **state) {
    (void)state;
    Fix f; fix_init(&f, 2);
    fix_pairs(&f, 2, 64, 64);
    char *vae_e = path_join(f.root, "cache/vae/e"), *vae_a = path_join(f.root, "cache/vae/a"), *vae_b = path_join(f.root, "cache/vae/b");
    char *text = path_join(f.root, "cache/text");
    f.spec[0].cache_dir_vae = vae_e; f.spec[1].cache_dir_vae = vae_a; f.spec[2].cache_dir_vae = vae_b;
    f.spec[0].buckets.crop_style = CROP_STYLE_CENTER;
    f.spec[0].buckets.crop = 1;   /* square crops from the image at its own size */
    f.spec[0].batch_size = 1;
    make_png(f.edits, "sub/z.png", 64, 64, 1); make_text(f.edits, "sub/z.txt", "z");
    make_png(f.ra, "sub/z.jpg", 64, 64, 2); make_png(f.rb, "sub/z.png", 64, 64, 3);
    DataGroup g; Err e = {0};
    if (data_load(f.spec, 3, &f.opt, &g, &e)) fail_msg("%s", e.msg);
    DataCacheKey ke, kr, kt, kt2, kd;
    /* a reference found under another extension: its entry is named after the edit image */
    assert_string_equal(g.sets[0].items[2].rel, "sub/z.png");
    assert_int_equal(data_vae_cache_key(&g, 0, 2, 0, "m", &kr, &e), 0);
    assert_string_equal(kr.key.name, "sub/z.png");
    char *zsrc = path_join(f.ra, "sub/z.jpg");
    assert_string_equal(kr.key.sources[0], zsrc);
    free(zsrc);
    data_cache_key_free(&kr);
    assert_int_equal(data_vae_cache_key(&g, 0, 1, -1, "qwen_image/edit-v2/vae=1", &ke, &e), 0);
    assert_int_equal(data_vae_cache_key(&g, 0, 1, 1, "qwen_image/edit-v2/vae=1", &kr, &e), 0);
    assert_string_equal(ke.key.dir, vae_e); assert_string_equal(ke.key.name, "sub/img_1.png");
    assert_string_equal(kr.key.dir, vae_b);
    assert_string_equal(ke.key.settings, "model=qwen_image/edit-v2/vae=1;orig=104x64;resize=104x64;crop=20,0;target=64x64");
    assert_string_equal(kr.key.settings, "model=qwen_image/edit-v2/vae=1;orig=64x64;resize=104x64;crop=20,0;target=64x64");
    assert_int_equal(data_vae_cache_key(&g, 0, 1, 2, "m", &kd, &e), -1);
    assert_string_equal(e.msg, "dataset \"edit-images\": reference 2 requested, it has 2");
    assert_int_equal(key_status(&ke), CACHE_ABSENT);
    key_store(&ke); key_store(&kr);
    assert_int_equal(key_status(&ke), CACHE_HIT);
    assert_int_equal(key_status(&kr), CACHE_HIT);
    /* text embeds: one entry per caption line; a changed reference invalidates it */
    assert_int_equal(data_text_cache_key(&g, 0, 1, "make it blue", text, "qwen_image/edit-v2/te=1", &kt, &e), 0);
    assert_int_equal(data_text_cache_key(&g, 0, 1, "make it red", text, "qwen_image/edit-v2/te=1", &kt2, &e), 0);
    assert_string_not_equal(kt.key.name, kt2.key.name);
    assert_int_equal(kt.key.n_sources, 2);
    key_store(&kt);
    assert_int_equal(key_status(&kt), CACHE_HIT);
    assert_int_equal(key_status(&kt2), CACHE_ABSENT);
    data_dropout_cache_key(text, "qwen_image/edit-v2/te=1", &kd);
    key_store(&kd);
    assert_int_equal(key_status(&kd), CACHE_HIT);
    make_png(f.rb, "sub/img_1.png", 64, 64, 77);           /* the reference is edited */
    assert_int_equal(key_status(&kr), CACHE_STALE_SOURCE);
    assert_int_equal(key_status(&kt), CACHE_STALE_SOURCE);
    assert_int_equal(key_status(&ke), CACHE_HIT);           /* the edit image's latent is untouched */
    key_store(&kt2);
    data_cache_key_free(&ke); data_cache_key_free(&kr); data_cache_key_free(&kt); data_cache_key_free(&kt2); data_cache_key_free(&kd);
    data_free(&g);
    /* a setting that moves the crop invalidates the latent */
    f.spec[0].buckets.crop_style = CROP_STYLE_CORNER;
    if (data_load(f.spec, 3, &f.opt, &g, &e)) fail_msg("%s", e.msg);
    assert_int_equal(data_vae_cache_key(&g, 0, 1, -1, "qwen_image/edit-v2/vae=1", &ke, &e), 0);
    assert_int_equal(key_status(&ke), CACHE_STALE_SETTINGS);
    data_cache_key_free(&ke);
    /* ...but not the prompt embedding: the encoder sees the reference files, not the crop */
    assert_int_equal(data_text_cache_key(&g, 0, 1, "make it red", text, "qwen_image/edit-v2/te=1", &kt2, &e), 0);
    assert_int_equal(key_status(&kt2), CACHE_HIT);
    data_cache_key_free(&kt2);
    data_free(&g);
    free(vae_e); free(vae_a); free(vae_b); free(text);
    fix_free(&f);
}

/* Test stand-in for the real resampler: nearest neighbour (the pipeline is what is under test). */
static int nearest(const Image *src, int w, int h, Image *out, Err *e) {
    (void)e;
    out->width = w; out->height = h; out->channels = 3;
    out->data = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++) for (int x = 0; x < w; x++)
        memcpy(out->data + ((size_t)y * w + x) * 3, src->data + ((size_t)(y * src->height / h) * src->width + x * src->width / w) * 3, 3);
    return 0;
}

static void test_sample_image_resize_crop(void **state) {
    (void)state;
    Fix f; fix_init(&f, 1);
    fix_pairs(&f, 2, 64, 64);
    f.spec[0].buckets.crop = 1; f.spec[0].buckets.crop_style = CROP_STYLE_CENTER; f.spec[0].batch_size = 1;
    DataGroup g; Err e = {0};
    if (data_load(f.spec, 2, &f.opt, &g, &e)) fail_msg("%s", e.msg);
    Image ed, rf, src;
    assert_int_equal(data_sample_image(&g, 0, 1, -1, nearest, &ed, &e), 0);   /* sub/img_1.png: 104x64 */
    assert_int_equal(ed.width, 64); assert_int_equal(ed.height, 64);
    char *p = path_join(f.edits, "sub/img_1.png");
    assert_int_equal(image_read(p, &src, &e), 0);
    for (int y = 0; y < 64; y++)   /* centre crop: columns 20..83 of the original */
        assert_memory_equal(ed.data + (size_t)y * 64 * 3, src.data + ((size_t)y * 104 + 20) * 3, 64 * 3);
    assert_int_equal(data_sample_image(&g, 0, 1, 0, nearest, &rf, &e), 0);    /* reference 32x32 -> 104x64 -> crop */
    assert_int_equal(rf.width, 64); assert_int_equal(rf.height, 64);
    image_free(&rf);
    /* default resampler: PIL's Lanczos; same geometry, and equal to resizing and cropping by hand */
    assert_int_equal(data_sample_image(&g, 0, 1, 0, NULL, &rf, &e), 0);
    assert_int_equal(rf.width, 64); assert_int_equal(rf.height, 64);
    Image refsrc, big;
    char *rp = path_join(f.ra, "sub/img_1.png");
    assert_int_equal(image_read(rp, &refsrc, &e), 0);
    assert_int_equal(image_resize(&refsrc, 104, 64, RESAMPLE_LANCZOS, &big, &e), 0);
    for (int y = 0; y < 64; y++)
        assert_memory_equal(rf.data + (size_t)y * 64 * 3, big.data + ((size_t)y * 104 + 20) * 3, 64 * 3);
    image_free(&refsrc); image_free(&big); free(rp);
    image_free(&ed); image_free(&rf); image_free(&src);
    /* the file changed size since loading: named */
    make_png(f.edits, "sub/img_1.png", 50, 50, 1);
    assert_int_equal(data_sample_image(&g, 0, 1, -1, nearest, &ed, &e), -1);
    char want[1024]; snprintf(want, sizeof want, "%s: is now 50x50, was 104x64 when the dataset was loaded", p);
    assert_string_equal(e.msg, want);
    free(p);
    data_free(&g);
    fix_free(&f);
}

static void test_report_only_collects_problems(void **state) {
    (void)state;
    Fix f; fix_init(&f, 1);
    fix_pairs(&f, 4, 64, 64);
    char *t1 = path_join(f.edits, "sub/img_1.txt"), *a2 = path_join(f.ra, "sub/img_2.png");
    unlink(t1); unlink(a2);
    f.opt.report_only = 1;
    f.spec[0].batch_size = 1;
    DataGroup g; Err e = {0};
    if (data_load(f.spec, 2, &f.opt, &g, &e)) fail_msg("%s", e.msg);
    const Dataset *d = &g.sets[0];
    assert_int_equal(d->n_items, 2);
    assert_int_equal(d->n_missing_captions, 1);
    assert_int_equal(d->pair[0].missing, 1);
    char want[2048];
    snprintf(want, sizeof want,
             "dataset \"edit-images\" (caption_strategy textfile): 1 of 4 images have no caption file: %s\n"
             "conditioning dataset \"ref-a\" (%s): 1 of 4 images of dataset \"edit-images\" have no reference with the same relative path: sub/img_2.png",
             t1, f.ra);
    assert_non_null(g.problems);
    assert_string_equal(g.problems, want);
    char *out = NULL; size_t len = 0;
    FILE *mf = open_memstream(&out, &len);
    data_summary_print(&g, mf);
    fclose(mf);
    assert_contains(out, "  captions missing: 1\n");
    assert_contains(out, "  skipped sub/img_2.png: no reference in dataset \"ref-a\"\n");
    assert_contains(out, "  pairs with \"ref-a\": 3 same path, 0 other extension, 1 missing, 0 references unused\n");
    free(out);
    data_free(&g);
    free(t1); free(a2);
    fix_free(&f);
}

static void test_eval_set_loaded_not_sampled(void **state) {
    (void)state;
    Fix f; fix_init(&f, 1);
    fix_pairs(&f, 4, 64, 64);
    DatasetSpec specs[3] = { f.spec[0], f.spec[1], f.spec[0] };
    char *vdir = path_join(f.root, "val"), *vref = path_join(f.root, "valref");
    make_png(vdir, "v.png", 64, 64, 1); make_text(vdir, "v.txt", "make it night");
    make_png(vref, "v.png", 64, 64, 2);
    const char *vconds[1] = { "val-ref" };
    specs[2].id = "val"; specs[2].instance_data_dir = vdir; specs[2].is_eval = 1;
    specs[2].conditioning_data = vconds; specs[2].n_conditioning_data = 1;
    DatasetSpec vr = f.spec[1]; vr.id = "val-ref"; vr.instance_data_dir = vref;
    DatasetSpec all[4] = { specs[0], specs[1], specs[2], vr };
    DataGroup g; Err e = {0};
    if (data_load(all, 4, &f.opt, &g, &e)) fail_msg("%s", e.msg);
    assert_int_equal(g.n_train, 1);
    assert_int_equal(g.sets[2].n_items, 1);
    assert_int_equal(g.sets[2].n_cond, 1);
    assert_string_equal(g.sets[3].items[g.sets[2].items[0].refs[0].item].rel, "v.png");
    DataBatch b = {0};
    for (int k = 0; k < 10; k++) { assert_int_equal(data_next_batch(&g, &b, &e), 0); assert_int_equal(b.set, 0); }
    data_batch_free(&b);
    data_free(&g);
    /* the eval set may share the training set's reference set */
    make_png(f.ra, "v.png", 64, 64, 2);
    all[2].conditioning_data = f.conds;
    if (data_load(all, 3, &f.opt, &g, &e)) fail_msg("%s", e.msg);
    assert_int_equal(g.sets[2].cond[0], 1);
    assert_int_equal(g.sets[0].cond[0], 1);
    data_free(&g);
    free(vdir); free(vref);
    fix_free(&f);
}

/* Random mode with two or more reference sets: a sample that draws a reference set with its own
 * captions trains on the reference's caption (an empty one falls back to the edit caption); combined
 * mode, a single reference set or a dropped caption keep the edit caption / the dropout. */
static void test_reference_captions_replace_in_random_mode(void **state) {
    (void)state;
    Fix f; fix_init(&f, 2);
    fix_pairs(&f, 6, 64, 64);
    char rel[64];
    for (int i = 0; i < 6; i++) {   /* ref-a: a caption file per reference, one of them empty */
        snprintf(rel, sizeof rel, "sub/img_%d.txt", i);
        make_text(f.ra, rel, i == 3 ? "\n" : "from reference a\n");
    }
    f.spec[1].captions.strategy = CAPTION_TEXTFILE;
    f.opt.multi_cond = MULTI_COND_RANDOM;
    DataGroup g; Err e = {0};
    if (data_load(f.spec, 3, &f.opt, &g, &e)) fail_msg("%s", e.msg);
    assert_true(g.sets[1].captions_replace);
    assert_false(g.sets[2].captions_replace);   /* ref-b has no captions */
    DataBatch b = {0};
    int replaced = 0, kept_a = 0, from_b = 0;
    for (int s = 0; s < 40; s++) {
        assert_int_equal(data_next_batch(&g, &b, &e), 0);
        for (int i = 0; i < b.n; i++) {
            const DataSample *x = &b.samples[i];
            int empty_ref = !strcmp(x->rel, "sub/img_3.png");
            if (x->ref_set[0] == 1 && !empty_ref) { assert_string_equal(x->caption, "from reference a"); replaced++; }
            else {
                assert_true(!strcmp(x->caption, "make it blue") || !strcmp(x->caption, "make it red"));
                if (x->ref_set[0] == 1) kept_a++; else from_b++;
            }
        }
    }
    assert_true(replaced > 0 && from_b > 0 && kept_a > 0);   /* kept_a: img_3's empty reference caption */
    data_free(&g);
    /* dropout wins over the reference caption */
    f.spec[0].caption_dropout_probability = 1;
    if (data_load(f.spec, 3, &f.opt, &g, &e)) fail_msg("%s", e.msg);
    for (int s = 0; s < 10; s++) {
        assert_int_equal(data_next_batch(&g, &b, &e), 0);
        for (int i = 0; i < b.n; i++) { assert_true(b.samples[i].caption_dropped); assert_string_equal(b.samples[i].caption, ""); }
    }
    data_free(&g);
    f.spec[0].caption_dropout_probability = 0;
    /* combined mode and a single reference set: the edit captions, the reference captions not even read */
    for (int variant = 0; variant < 2; variant++) {
        f.opt.multi_cond = variant ? MULTI_COND_RANDOM : MULTI_COND_COMBINED;
        f.spec[0].n_conditioning_data = variant ? 1 : 2;
        if (data_load(f.spec, 3, &f.opt, &g, &e)) fail_msg("%s", e.msg);
        assert_false(g.sets[1].captions_replace);
        assert_int_equal(g.sets[1].items[0].captions.n, 0);
        for (int s = 0; s < 10; s++) {
            assert_int_equal(data_next_batch(&g, &b, &e), 0);
            for (int i = 0; i < b.n; i++) assert_true(!strcmp(b.samples[i].caption, "make it blue") || !strcmp(b.samples[i].caption, "make it red"));
        }
        data_free(&g);
    }
    /* a missing reference caption file is an error naming the reference set */
    f.opt.multi_cond = MULTI_COND_RANDOM; f.spec[0].n_conditioning_data = 2;
    char *gone = path_join(f.ra, "sub/img_2.txt");
    unlink(gone); free(gone);
    assert_int_equal(data_load(f.spec, 3, &f.opt, &g, &e), -1);
    assert_contains(e.msg, "dataset \"ref-a\" (caption_strategy textfile): 1 of 6 images have no caption file");
    data_batch_free(&b);
    fix_free(&f);
}

/* max_num_samples: a subset of the discovered files fixed by the dataset id; start/end_step of a
 * DatasetSpec reach the sampler (with gradient accumulation counting micro-batches per step). */
static void test_max_num_samples_and_schedule(void **state) {
    (void)state;
    Fix f; fix_init(&f, 1);
    fix_pairs(&f, 8, 64, 64);
    f.spec[0].max_num_samples = 4;
    DataGroup g; Err e = {0};
    char first[4][32];
    if (data_load(f.spec, 2, &f.opt, &g, &e)) fail_msg("%s", e.msg);
    assert_int_equal(g.sets[0].n_found, 8);
    assert_int_equal(g.sets[0].n_items, 4);
    for (int i = 0; i < 4; i++) {
        snprintf(first[i], sizeof first[i], "%s", g.sets[0].items[i].rel);
        if (i) assert_true(strcmp(first[i - 1], first[i]) < 0);   /* discovery order kept */
    }
    data_free(&g);
    if (data_load(f.spec, 2, &f.opt, &g, &e)) fail_msg("%s", e.msg);   /* same subset on every run */
    for (int i = 0; i < 4; i++) assert_string_equal(g.sets[0].items[i].rel, first[i]);
    data_free(&g);
    int differs = 0;   /* other ids choose other subsets */
    const char *ids[4] = { "a", "b", "c", "d" };
    for (int k = 0; k < 4; k++) {
        f.spec[0].id = ids[k];
        if (data_load(f.spec, 2, &f.opt, &g, &e)) fail_msg("%s", e.msg);
        assert_int_equal(g.sets[0].n_items, 4);
        for (int i = 0; i < 4; i++) differs |= strcmp(g.sets[0].items[i].rel, first[i]) != 0;
        data_free(&g);
    }
    assert_true(differs);
    f.spec[0].id = "edit-images";
    f.spec[0].max_num_samples = 20;   /* more than there are: all */
    if (data_load(f.spec, 2, &f.opt, &g, &e)) fail_msg("%s", e.msg);
    assert_int_equal(g.sets[0].n_items, 8);
    data_free(&g);
    f.spec[0].max_num_samples = 0;
    /* curriculum: "edit-images" for steps 1-2, "late" (same files) from step 3; 2 micro-batches a step */
    DatasetSpec all[3] = { f.spec[0], f.spec[1], f.spec[0] };
    all[0].end_step = 2;
    all[2].id = "late"; all[2].start_step = 3;
    f.opt.gradient_accumulation_steps = 2;
    if (data_load(all, 3, &f.opt, &g, &e)) fail_msg("%s", e.msg);
    DataBatch b = {0};
    for (int k = 0; k < 12; k++) {
        assert_int_equal(data_next_batch(&g, &b, &e), 0);
        assert_int_equal(b.set, k < 4 ? 0 : 2);
    }
    data_batch_free(&b);
    data_free(&g);
    fix_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_strict_geometry_and_batches),
        cmocka_unit_test(test_loose_reference_own_bucket),
        cmocka_unit_test(test_corrupt_skipped_or_strict),
        cmocka_unit_test(test_missing_captions_and_pairs),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_sample_cache_keys),
        cmocka_unit_test(test_sample_image_resize_crop),
        cmocka_unit_test(test_report_only_collects_problems),
        cmocka_unit_test(test_eval_set_loaded_not_sampled),
        cmocka_unit_test(test_reference_captions_replace_in_random_mode),
        cmocka_unit_test(test_max_num_samples_and_schedule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
