/* test_validate_pipeline.c — `simpletuner validate` as a user runs it reproduces the diffusers
 * QwenImageEditPipeline end to end: from the model folder, the reference PNG, the instruction,
 * the negative prompt and the golden's initial latents (--latents), the image written with
 * --output-tensor equals the pipeline's output within 1e-4 of its range, and the 8-bit PNG is
 * that tensor rounded. Also: the pipelines' default output size when validation_resolution is
 * not set, and a --latents file of the wrong size is refused by name. */
#include "test_util.h"
#include "base/error.h"
#include "cli/commands.h"
#include "pipeline/pipeline.h"
#include "image/image_io.h"
#include "tensor/safetensors.h"
#include <math.h>

#define GOLDEN "tests/golden/qwenimage_edit_pipeline"

static char *utf8(const StFile *io, const char *name) {
    const StTensor *t = st_find(io, name);
    assert_non_null(t);
    char *s = malloc(t->numel + 1);
    memcpy(s, t->data, t->numel);
    s[t->numel] = 0;
    return s;
}

/* Writes the golden's initial latents as FILE's tensor 'latents' (what --latents reads). */
static void write_latents(const StFile *io, const char *name, const char *path, int drop) {
    const StTensor *t = st_find(io, name);
    assert_non_null(t);
    float *f = st_to_f32(t);
    int64_t shape[3] = {t->shape[0], t->shape[1] - drop, t->shape[2]};
    StWriter w; stw_init(&w);
    stw_add_f32(&w, "latents", 3, shape, f);
    Err e = {0};
    if (stw_write(&w, path, &e)) fail_msg("%s", e.msg);
    stw_free(&w); free(f);
}

static int run_validate_with(const char *tmp, const char *prompt, const char *negative, const char *latents, const char *extra,
                             const char *extra2, Err *e) {
    char *out_dir = xasprintf("--output_dir=%s", tmp), *png = xasprintf("%s/out.png", tmp), *ten = xasprintf("%s/out.safetensors", tmp);
    char *argv[] = {"--model_family=qwen_image", "--model_flavour=edit-v1", (char *)extra, (char *)extra2,
                    "--pretrained_model_name_or_path=tests/data/models/qwenimage_edit",
                    "--validation_resolution=96x64", "--validation_num_inference_steps=3", "--validation_guidance_real=4.0",
                    out_dir, "--image", GOLDEN "/edit.ref0.png", "--prompt", (char *)prompt,
                    "--negative_prompt", (char *)negative, "--latents", (char *)latents,
                    "--output", png, "--output-tensor", ten};
    int rc = cmd_validate((int)(sizeof argv / sizeof argv[0]), argv, e);
    free(out_dir); free(png); free(ten);
    return rc;
}

static int run_validate(const char *tmp, const char *prompt, const char *negative, const char *latents, Err *e) {
    return run_validate_with(tmp, prompt, negative, latents, "--validation_preview=false", "--validation_preview_steps=1", e);
}

static void test_validate_reproduces_pipeline_image(void **state) {
    (void)state;
    StFile io; Err e = {0};
    if (st_open(&io, GOLDEN "/io.safetensors", &e)) fail_msg("%s", e.msg);
    char *tmp = tmpdir_make(), *lat = xasprintf("%s/latents.safetensors", tmp);
    write_latents(&io, "edit.latents", lat, 0);
    char *prompt = utf8(&io, "edit.prompt_utf8"), *negative = utf8(&io, "edit.negative_prompt_utf8");
    if (run_validate(tmp, prompt, negative, lat, &e)) fail_msg("%s", e.msg);

    char *ten = xasprintf("%s/out.safetensors", tmp), *png = xasprintf("%s/out.png", tmp);
    StFile got;
    if (st_open(&got, ten, &e)) fail_msg("%s", e.msg);
    const StTensor *g = st_find(&got, "image"), *want = st_find(&io, "edit.image");
    assert_non_null(g); assert_non_null(want);
    assert_int_equal(g->numel, want->numel);
    float *a = st_to_f32(g), *b = st_to_f32(want);
    double maxd = 0, maxv = 0;
    for (size_t i = 0; i < want->numel; i++) {
        maxd = fmax(maxd, fabs((double)a[i] - b[i]));
        maxv = fmax(maxv, fabs((double)b[i]));
    }
    if (maxd / maxv > 1e-4) fail_msg("validate image vs pipeline: max rel %.3e", maxd / maxv);
    /* the PNG is the tensor in 8 bits */
    Image im;
    if (image_read(png, &im, &e)) fail_msg("%s", e.msg);
    assert_int_equal(im.width, 96); assert_int_equal(im.height, 64);
    size_t hw = (size_t)im.width * im.height;
    for (size_t i = 0; i < hw; i++)
        for (int c = 0; c < 3; c++) assert_int_equal(im.data[i * 3 + c], (int)lrintf(a[c * hw + i] * 255.0f));
    image_free(&im);
    free(a); free(b);
    st_close(&got);

    /* validation_preview: the predicted clean image every 2 steps and at the end; after the last
     * step sigma is 0, so the last preview is the output itself */
    if (run_validate_with(tmp, prompt, negative, lat, "--validation_preview=true", "--validation_preview_steps=2", &e)) fail_msg("%s", e.msg);
    char *p1 = xasprintf("%s/out.preview.step-01.png", tmp), *p2 = xasprintf("%s/out.preview.step-02.png", tmp),
         *p3 = xasprintf("%s/out.preview.step-03.png", tmp);
    assert_int_equal(access(p1, F_OK), -1);
    assert_int_equal(access(p2, F_OK), 0);
    Image last, outp;
    if (image_read(p3, &last, &e) || image_read(png, &outp, &e)) fail_msg("%s", e.msg);
    assert_memory_equal(last.data, outp.data, (size_t)96 * 64 * 3);
    image_free(&last); image_free(&outp);
    free(p1); free(p2); free(p3);

    /* a latents file for another size is refused, naming the file */
    char *bad = xasprintf("%s/bad.safetensors", tmp);
    write_latents(&io, "edit.latents", bad, 1);
    Err e2 = {0};
    assert_int_not_equal(run_validate(tmp, prompt, negative, bad, &e2), 0);
    assert_contains(e2.msg, "bad.safetensors");
    assert_contains(e2.msg, "'latents'");
    free(bad);

    st_close(&io);
    free(ten); free(png); free(prompt); free(negative); free(lat);
    tmpdir_remove(tmp);
}

static void test_pipeline_default_sizes(void **state) {
    (void)state;
    uint8_t px[3] = {0};
    const ModelFamily *q = family_find("qwen_image"), *l = family_find("longcat_image");
    Image wide = {96, 64, 3, px}, tall = {64, 80, 3, px}, cat = {80, 60, 3, px};
    int w, h;
    Image one[1] = {wide};
    family_default_size(q, one, 1, &w, &h);
    assert_int_equal(w, 1248); assert_int_equal(h, 832);
    Image two[2] = {wide, tall};        /* the edit-plus pipeline sizes from the last image */
    family_default_size(q, two, 2, &w, &h);
    assert_int_equal(w, 928); assert_int_equal(h, 1152);
    Image lc[1] = {cat};
    family_default_size(l, lc, 1, &w, &h);
    assert_int_equal(w, 1184); assert_int_equal(h, 896);
    family_default_size(l, NULL, 0, &w, &h);
    assert_int_equal(w, 1024); assert_int_equal(h, 1024);
}

/* SimpleTuner's per-component folders: a whole pipeline folder gives its component subfolder,
 * a component folder is taken as is, and a wrong one is an error naming the key. */
static void test_component_overrides(void **state) {
    (void)state;
    const char *keys[] = {"model_family", "model_flavour", "pretrained_model_name_or_path", "pretrained_vae_model_name_or_path",
                          "qwen_text_encoder_model_name_or_path", "pretrained_transformer_model_name_or_path"};
    const char *vals[] = {"qwen_image", "edit-v1", "tests/data/models/qwenimage_edit", "tests/data/models/qwenimage_edit",
                          "tests/data/models/qwenimage_edit/text_encoder", "tests/data/models/qwenimage_edit"};
    PipelineOptions po = {.mode = PIPELINE_INFER, .quiet = 1};
    Config *c; Pipeline *p; Err e = {0};
    if (config_from_pairs(&c, keys, vals, 6, &e) || pipeline_open(&p, c, &po, &e)) fail_msg("%s", e.msg);
    assert_string_equal(pipeline_component_dir(p, "vae"), "tests/data/models/qwenimage_edit/vae");
    assert_string_equal(pipeline_component_dir(p, "transformer"), "tests/data/models/qwenimage_edit/transformer");
    assert_string_equal(pipeline_component_dir(p, "text_encoder"), "tests/data/models/qwenimage_edit/text_encoder");
    pipeline_close(p);
    vals[4] = "tests/data/models/no_such_encoder";
    Err e2 = {0};
    assert_int_equal(config_from_pairs(&c, keys, vals, 6, &e2), 0);
    assert_int_not_equal(pipeline_open(&p, c, &po, &e2), 0);
    assert_contains(e2.msg, "qwen_text_encoder_model_name_or_path");
    assert_contains(e2.msg, "no_such_encoder");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline_default_sizes),
        cmocka_unit_test(test_component_overrides),
        cmocka_unit_test(test_validate_reproduces_pipeline_image),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
