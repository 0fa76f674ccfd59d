/* test_condition_image_cache.c — Qwen edit-v1's conditioning_image_embeds cache: a reference prepared
 * for the text encoder (pipeline resize + VL processor) gives exactly the prompt embedding of the
 * direct path; entries are built once per reference, reused when only a caption changes, rebuilt
 * when the reference changes. Real tiny text encoder (tests/data/models/qwenimage_edit). */
#include "test_util.h"
#include "test_vae_fixtures.h"
#include "base/files.h"
#include "image/image_io.h"
#include "image/image_resize.h"
#include "data/synth.h"
#include "models/model_dir.h"
#include "pipeline/edit_data.h"
#include "pipeline/prompt_encoder.h"

#define MODEL "tests/data/models/qwenimage_edit"

static PromptEncoder *open_encoder(ModelDir *md) {
    Err e = {0};
    PromptEncoder *pe = NULL;
    if (model_dir_open(md, MODEL, &e) || prompt_encoder_open(&pe, md, QV_PROMPT_QWEN_EDIT_V1, QUANT_NONE, &e)) fail_msg("%s", e.msg);
    return pe;
}

static void test_same_embedding_as_direct(void **state) {
    (void)state;
    ModelDir md; PromptEncoder *pe = open_encoder(&md);
    Err e = {0};
    Image ref;
    if (image_read("tests/golden/qwenimage_edit_pipeline/edit.ref0.png", &ref, &e)) fail_msg("%s", e.msg);
    const char *prompt = "Make the red circle blue.";
    float *direct; int L, dim;
    if (prompt_encoder_embed(pe, prompt, &ref, 1, NULL, &direct, &L, &dim, &e)) fail_msg("%s", e.msg);
    StWriter px; stw_init(&px);
    if (prompt_encoder_condition_pixels(pe, &ref, &px, &e)) fail_msg("%s", e.msg);
    const StTensor *pv = stw_find(&px, "pixel_values"), *g = stw_find(&px, "image_grid_thw");
    assert_non_null(pv); assert_non_null(g);
    ConditionPixels cp = {pv->data, {0}, pv->shape[1]};
    memcpy(cp.grid, g->data, sizeof cp.grid);
    StWriter out; stw_init(&out);
    if (prompt_encoder_processed_to_writer(pe, prompt, &cp, 1, &out, &e)) fail_msg("%s", e.msg);
    const StTensor *pe2 = stw_find(&out, "prompt_embeds");
    assert_non_null(pe2);
    assert_int_equal(pe2->shape[0], L); assert_int_equal(pe2->shape[1], dim);
    assert_memory_equal(pe2->data, direct, (size_t)L * dim * sizeof(float));
    /* prepared rows of another width (another model's processor) are refused, not read past their end */
    StWriter bad; stw_init(&bad);
    ConditionPixels wide = cp;
    wide.values = pv->shape[1] * 2;
    assert_int_equal(prompt_encoder_processed_to_writer(pe, prompt, &wide, 1, &bad, &e), -1);
    assert_contains(e.msg, "this text encoder takes");
    stw_free(&bad);
    stw_free(&px); stw_free(&out); free(direct); image_free(&ref);
    prompt_encoder_close(pe); model_dir_close(&md);
}

typedef struct Run { DatasetSpec spec[2]; const char *conds[1]; DataGroup g; Vae vae; EditData d; char *p[6]; } Run;

static void run_open(Run *r, const char *root, PromptEncoder *pe) {
    memset(r, 0, sizeof *r);
    r->p[0] = path_join(root, "images"); r->p[1] = path_join(root, "ref"); r->p[2] = path_join(root, "cache/vae/e");
    r->p[3] = path_join(root, "cache/vae/r"); r->p[4] = path_join(root, "cache/text"); r->p[5] = path_join(root, "cache/cie");
    r->conds[0] = "ref";
    DatasetSpec *s = &r->spec[0];
    s->id = "edits"; s->instance_data_dir = r->p[0]; s->conditioning_data = r->conds; s->n_conditioning_data = 1;
    s->captions.strategy = CAPTION_TEXTFILE;
    bucket_params_default(&s->buckets);
    s->buckets.resolution = 32; s->buckets.alignment = 16; s->buckets.crop_style = CROP_STYLE_CENTER;
    s->probability = 1; s->batch_size = 1; s->cache_dir_vae = r->p[2];
    DatasetSpec *c = &r->spec[1];
    c->id = "ref"; c->instance_data_dir = r->p[1]; c->is_conditioning = 1; c->conditioning_type = COND_REFERENCE_STRICT;
    bucket_params_default(&c->buckets);
    c->probability = 1; c->batch_size = 1; c->cache_dir_vae = r->p[3];
    DataOptions opt = {.seed = 7, .multi_cond = MULTI_COND_COMBINED, .weighting = SAMPLING_AUTO_WEIGHTING};
    Err e = {0};
    if (data_load(r->spec, 2, &opt, &r->g, &e)) fail_msg("%s", e.msg);
    cJSON *cfg = cJSON_Parse(TINY_QWEN_VAE_CONFIG);
    assert_int_equal(vae_init_random(&r->vae, cfg, 1, DT_F32, &e), 0);
    cJSON_Delete(cfg);
    r->d = (EditData){.group = &r->g, .vae = &r->vae, .resize = image_resize_lanczos, .encode_prompt = prompt_encoder_to_writer,
                      .encode_ctx = pe, .model_id = "test/edit-v1", .vae_id = "test/vae", .text_dir = r->p[4], .seed = 7, .cie_dir = r->p[5],
                      .condition_pixels = prompt_encoder_condition_pixels, .encode_processed = prompt_encoder_processed_to_writer};
}

static void run_close(Run *r) {
    edit_data_free(&r->d); vae_free(&r->vae); data_free(&r->g);
    for (int i = 0; i < 6; i++) free(r->p[i]);
}

static void test_cache_reuse(void **state) {
    (void)state;
    (void)TINY_FLUX_VAE_CONFIG;
    char *root = tmpdir_make();
    Err e = {0};
    for (int i = 0; i < 2; i++) {
        SynthPair p; synth_pair(5, i, 1, 32, 32, &p);
        char *a = xasprintf("%s/images/p%d.png", root, i), *t = xasprintf("%s/images/p%d.txt", root, i), *b = xasprintf("%s/ref/p%d.png", root, i);
        char *d1 = path_dirname(a), *d2 = path_dirname(b);
        assert_int_equal(dir_make(d1, &e), 0); assert_int_equal(dir_make(d2, &e), 0);
        assert_int_equal(image_write_png(a, &p.edit, &e), 0); write_text(t, p.instruction);
        assert_int_equal(image_write_png(b, &p.refs[0], &e), 0);
        synth_pair_free(&p); free(a); free(t); free(b); free(d1); free(d2);
    }
    ModelDir md; PromptEncoder *pe = open_encoder(&md);
    Run r; EditCacheStats s;
    run_open(&r, root, pe);
    if (edit_data_cache_all(&r.d, &s, &e)) fail_msg("%s", e.msg);
    assert_int_equal(s.cie_built, 2); assert_int_equal(s.text_built, 2);
    run_close(&r);
    /* a new caption: its embedding is recomputed from the cached reference pixels */
    char *t0 = xasprintf("%s/images/p0.txt", root);
    write_text(t0, "turn the square green");
    run_open(&r, root, pe);
    if (edit_data_cache_all(&r.d, &s, &e)) fail_msg("%s", e.msg);
    assert_int_equal(s.text_built, 1); assert_int_equal(s.text_hit, 1);
    assert_int_equal(s.cie_built, 0); assert_int_equal(s.cie_hit, 2);
    run_close(&r);
    /* a changed reference: its entry and the prompt embedded with it are rebuilt */
    SynthPair p; synth_pair(77, 1, 1, 32, 32, &p);
    char *r1 = xasprintf("%s/ref/p1.png", root);
    assert_int_equal(image_write_png(r1, &p.refs[0], &e), 0);
    synth_pair_free(&p);
    run_open(&r, root, pe);
    if (edit_data_cache_all(&r.d, &s, &e)) fail_msg("%s", e.msg);
    assert_int_equal(s.cie_built, 1); assert_int_equal(s.cie_hit, 1); assert_int_equal(s.text_built, 1);
    char *entry = xasprintf("%s/cache/cie/ref/p1.png.safetensors", root);
    assert_true(file_exists(entry));     /* <cie dir>/<reference set id>/<rel> */
    run_close(&r);
    free(t0); free(r1); free(entry);
    prompt_encoder_close(pe); model_dir_close(&md);
    tmpdir_remove(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_embedding_as_direct),
        cmocka_unit_test(test_cache_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
