/* pipeline_eval (`simpletuner eval`) end to end on the tiny LongCat edit model: the report's numbers
 * are image_metrics' on the PNGs it wrote (read back independently), the mean is their mean; a
 * folder whose targets are the model's own renders scores PSNR = inf and SSIM = 1; targets that
 * differ from the renders by exactly ±10 in every value score the hand-computed
 * PSNR = 10 log10(255² / 100); a target of another size is resized (Lanczos) before comparing;
 * --limit. */
#include "test_util.h"
#include "base/files.h"
#include "config/config.h"
#include "data/synth.h"
#include "data/synth_write.h"
#include "image/image_io.h"
#include "image/image_metrics.h"
#include "image/image_resize.h"
#include "pipeline/pipeline.h"
#include <math.h>

#define MODEL "tests/data/models/longcat_edit"

/* The references are VAE-encoded at the render's area (match_target_res), not ~1 MP: fast. */
static Pipeline *open_tiny(const char *out_dir) {
    char *cfg = path_join(out_dir, "config.json");
    char *text = xasprintf("{\"model_family\": \"longcat_image\", \"model_flavour\": \"edit\",\n"
                           " \"pretrained_model_name_or_path\": \"%s\", \"validation_resolution\": \"64x64\",\n"
                           " \"validation_num_inference_steps\": 2, \"validation_seed\": 5, \"output_dir\": \"%s\",\n"
                           " \"model_kwargs\": {\"match_target_res\": true}}\n", MODEL, out_dir);
    write_text(cfg, text);
    char *argv[] = {"--config", cfg};
    ConfigLoadOptions lo = {.allow_missing_required = 1, .skip_datasets = 1, .quiet = 1};
    Config *c; Err e = {0};
    if (config_load_with(&c, 2, argv, &lo, &e)) fail_msg("%s", e.msg);
    PipelineOptions po = {.mode = PIPELINE_INFER, .quiet = 1};
    Pipeline *p;
    if (pipeline_open(&p, c, &po, &e)) fail_msg("%s", e.msg);
    free(cfg); free(text);
    return p;
}

static void run_eval(Pipeline *p, const char *dataset, const char *out, int limit, EvalReport *r) {
    EvalOptions o = {.dataset = dataset, .out_dir = out, .lora_scale = 1.0f, .limit = limit};
    Err e = {0};
    if (pipeline_eval(p, &o, r, &e)) fail_msg("%s", e.msg);
}

static Image read_png(const char *path) {
    Image im; Err e = {0};
    if (image_read(path, &im, &e)) fail_msg("%s", e.msg);
    return im;
}

static cJSON *read_json(const char *path) {
    Err e = {0};
    char *t = file_read_all(path, NULL, &e);
    if (!t) fail_msg("%s", e.msg);
    cJSON *j = cJSON_Parse(t);
    free(t);
    assert_non_null(j);
    return j;
}

static double json_num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    assert_non_null(v);
    return cJSON_IsNull(v) ? INFINITY : v->valuedouble;
}

/* report.json against metrics computed here from the written PNGs */
static void check_report(const char *out, int n_expected, int resized) {
    char *rp = path_join(out, "report.json");
    cJSON *j = read_json(rp);
    const cJSON *pairs = cJSON_GetObjectItemCaseSensitive(j, "pairs");
    assert_int_equal(cJSON_GetArraySize(pairs), n_expected);
    assert_int_equal((int)json_num(j, "pairs_evaluated"), n_expected);
    double sp = 0, ss = 0, su = 0;
    const cJSON *q;
    cJSON_ArrayForEach(q, pairs) {
        Image res = read_png(cJSON_GetObjectItemCaseSensitive(q, "result")->valuestring);
        Image tgt = read_png(cJSON_GetObjectItemCaseSensitive(q, "target")->valuestring);
        assert_int_equal(res.width, 64); assert_int_equal(res.height, 64);
        assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(q, "target_resized")), resized);
        if (resized) {
            Image r2; Err e = {0};
            assert_int_equal(image_resize_lanczos(&tgt, 64, 64, &r2, &e), 0);
            image_free(&tgt); tgt = r2;
        }
        double psnr = image_psnr(&res, &tgt), ssim = image_ssim(&res, &tgt);
        /* JSON numbers keep 15 significant digits (cJSON) */
        assert_true(fabs(json_num(q, "psnr") - psnr) <= 1e-13 * fabs(psnr));
        assert_true(fabs(json_num(q, "ssim") - ssim) <= 1e-13 * fabs(ssim));
        /* unedited: the first reference, at the render size, against the (resized) target */
        Image ref = read_png(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(q, "references"), 0)->valuestring);
        if (ref.width != 64 || ref.height != 64) {
            Image r2; Err e = {0};
            assert_int_equal(image_resize_lanczos(&ref, 64, 64, &r2, &e), 0);
            image_free(&ref); ref = r2;
        }
        double unedited = image_psnr(&ref, &tgt);
        assert_true(fabs(json_num(q, "unedited_psnr") - unedited) <= 1e-13 * fabs(unedited));
        su += unedited;
        image_free(&ref);
        sp += psnr; ss += ssim;
        image_free(&res); image_free(&tgt);
    }
    assert_true(fabs(json_num(j, "mean_psnr") - sp / n_expected) < 1e-12);
    assert_true(fabs(json_num(j, "mean_ssim") - ss / n_expected) < 1e-12);
    assert_true(fabs(json_num(j, "mean_unedited_psnr") - su / n_expected) < 1e-12);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "sheets")), 1);
    assert_true(file_exists(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "sheets"), 0)->valuestring));
    cJSON_Delete(j);
    free(rp);
}

/* Replaces each target with its render (shift 0) or the render ± shift in every value. */
static void targets_from_renders(const EvalReport *r, int shift) {
    for (int i = 0; i < r->n; i++) {
        Image im = read_png(r->pairs[i].result);
        for (size_t k = 0; k < (size_t)im.width * im.height * 3; k++)
            im.data[k] = (uint8_t)(im.data[k] < 128 ? im.data[k] + shift : im.data[k] - shift);
        Err e = {0};
        if (image_write_png(r->pairs[i].target, &im, &e)) fail_msg("%s", e.msg);
        image_free(&im);
    }
}

static void test_eval_report_matches_metrics(void **state) {
    (void)state;
    char *tmp = tmpdir_make(), *ds = path_join(tmp, "ds"), *out = path_join(tmp, "eval");
    Err e = {0};
    assert_int_equal(synth_dataset_write(ds, 3, 1, SYNTH_EDITS_DEFAULT, 64, 64, 11, &e), 0);
    Pipeline *p = open_tiny(tmp);
    EvalReport r;
    run_eval(p, ds, out, 0, &r);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.n_found, 3);
    assert_null(r.lora);                      /* nothing in output_dir: the base model */
    assert_int_equal(r.steps, 2);
    assert_int_equal((int)r.seed, 5);
    assert_int_equal(r.n_worst, 3);
    for (int i = 1; i < r.n_worst; i++) assert_true(r.pairs[r.worst[i - 1]].psnr <= r.pairs[r.worst[i]].psnr);
    check_report(out, 3, 0);

    /* the renders as targets: a "model" whose render is the target */
    targets_from_renders(&r, 0);
    eval_report_free(&r);
    run_eval(p, ds, out, 0, &r);
    for (int i = 0; i < r.n; i++) {
        assert_true(isinf(r.pairs[i].psnr));
        assert_true(r.pairs[i].ssim == 1.0);
    }
    assert_true(isinf(r.mean_psnr));
    char *rp = path_join(out, "report.json");
    cJSON *j = read_json(rp);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "mean_psnr")));   /* JSON has no infinity */
    assert_true(cJSON_GetObjectItemCaseSensitive(j, "mean_ssim")->valuedouble == 1.0);
    cJSON_Delete(j);

    /* every value off by exactly 10: MSE 100, PSNR = 10 log10(65025 / 100) = 28.1308 dB */
    targets_from_renders(&r, 10);
    eval_report_free(&r);
    run_eval(p, ds, out, 2, &r);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.n_found, 3);
    for (int i = 0; i < r.n; i++) {
        assert_true(fabs(r.pairs[i].psnr - 28.130803608679105) < 1e-9);
        assert_true(r.pairs[i].ssim < 1.0 && r.pairs[i].ssim > 0.5);
    }
    check_report(out, 2, 0);
    eval_report_free(&r);
    pipeline_close(p);
    free(rp); free(ds); free(out);
    tmpdir_remove(tmp);
}

/* Targets of another size (96x96) are resized to the render size (64x64) to be compared. */
static void test_eval_resizes_targets(void **state) {
    (void)state;
    char *tmp = tmpdir_make(), *ds = path_join(tmp, "ds"), *out = path_join(tmp, "eval");
    Err e = {0};
    assert_int_equal(synth_dataset_write(ds, 2, 1, SYNTH_EDITS_DEFAULT, 96, 96, 4, &e), 0);
    Pipeline *p = open_tiny(tmp);
    EvalReport r;
    run_eval(p, ds, out, 0, &r);
    for (int i = 0; i < r.n; i++) {
        assert_true(r.pairs[i].target_resized);
        assert_int_equal(r.pairs[i].width, 64);
    }
    check_report(out, 2, 1);
    eval_report_free(&r);
    pipeline_close(p);
    free(ds); free(out);
    tmpdir_remove(tmp);
}

/* A text-to-image flavour has nothing to compare; more references than the flavour takes is refused. */
static void test_eval_refusals(void **state) {
    (void)state;
    char *tmp = tmpdir_make(), *ds = path_join(tmp, "ds");
    Err e = {0};
    assert_int_equal(synth_dataset_write(ds, 1, 2, SYNTH_EDIT_BIT(SYNTH_COMPOSE), 64, 64, 4, &e), 0);
    Pipeline *p = open_tiny(tmp);
    EvalReport r;
    EvalOptions o = {.dataset = ds, .lora_scale = 1.0f};
    assert_int_equal(pipeline_eval(p, &o, &r, &e), -1);
    assert_int_equal(e.code, EXIT_USAGE);
    assert_contains(e.msg, "its edits have 2 references; longcat_image edit takes at most 1");
    eval_report_free(&r);
    pipeline_close(p);
    free(ds);
    tmpdir_remove(tmp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval_report_matches_metrics),
        cmocka_unit_test(test_eval_resizes_targets),
        cmocka_unit_test(test_eval_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
