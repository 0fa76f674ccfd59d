/* test_config_datasets.c — multidatabackend.json: defaults, global fallbacks, conditioning links,
 * the LongCat quickstart layout, and every validation error with its exact message. */
#include <math.h>
#include "test_config_util.h"

typedef struct { char *dir; char data[600]; Config *c; Err e; } Fx;

static int setup(void **state) {
    Fx *f = calloc(1, sizeof *f);
    f->dir = tmpdir_make();
    snprintf(f->data, sizeof f->data, "%s/md.json", f->dir);
    *state = f;
    return 0;
}
static int teardown(void **state) {
    Fx *f = *state;
    config_free(f->c);
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

/* Loads `datasets` (JSON list text) with a fixed trainer config plus extra overrides. */
static int load_data(Fx *f, const char *datasets, const char *extra) {
    write_text(f->data, datasets);
    config_free(f->c);
    f->c = NULL;
    char dataarg[700];
    snprintf(dataarg, sizeof dataarg, "data_backend_config=%s", f->data);
    const char *args[] = {"model_family=longcat_image", "model_flavour=edit", "model_type=lora", "output_dir=/out",
                          "optimizer=adamw_bf16", "resolution=768", dataarg, extra, NULL};
    return load_args(&f->c, &f->e, args);
}

static const char *msg_after_file(Fx *f) {
    size_t n = strlen(f->data);
    if (strncmp(f->e.msg, f->data, n)) fail_msg("message does not start with the file name: %s", f->e.msg);
    return f->e.msg + n;
}

static void test_defaults_and_fallbacks(void **state) {
    Fx *f = *state;
    int rc = load_data(f, "[{\"id\": \"edits\", \"instance_data_dir\": \"/d/e\", \"conditioning_data\": [\"refs\"]},\n"
                          " {\"id\": \"refs\", \"dataset_type\": \"conditioning\", \"conditioning_type\": \"reference_loose\","
                          "  \"instance_data_dir\": \"/d/r\", \"caption_strategy\": null, \"resolution\": 512, \"crop\": true,"
                          "  \"crop_style\": \"center\", \"repeats\": 3, \"probability\": 0.5, \"minimum_image_size\": 256}]",
                       "caption_strategy=textfile");
    if (rc) fail_msg("%s", f->e.msg);
    const DatasetConfig *e = config_dataset_find(f->c, "edits"), *r = config_dataset_find(f->c, "refs");
    assert_non_null(e);
    assert_non_null(r);
    assert_string_equal(e->type, "local");
    assert_string_equal(e->dataset_type, "image");
    assert_string_equal(e->caption_strategy, "textfile");      /* global fallback */
    assert_true(e->resolution == 768);                          /* global fallback */
    assert_string_equal(e->resolution_type, "pixel_area");
    assert_string_equal(e->crop_style, "random");
    assert_string_equal(e->crop_aspect, "square");
    assert_false(e->crop);
    assert_int_equal(e->repeats, 0);
    assert_true(e->probability == 1.0);
    assert_true(isnan(e->minimum_image_size));
    assert_int_equal(e->train_batch_size, 4);
    assert_string_equal(e->cache_dir_vae, "/out/cache/vae/longcat_image/edits");
    assert_int_equal(e->n_conditioning_data, 1);
    assert_string_equal(e->conditioning_data[0], "refs");
    assert_null(r->caption_strategy);                           /* explicit null: no captions */
    assert_string_equal(r->conditioning_type, "reference_loose");
    assert_string_equal(r->source_dataset_id, "edits");
    assert_true(r->resolution == 512);
    assert_true(r->crop);
    assert_string_equal(r->crop_style, "center");
    assert_int_equal(r->repeats, 3);
    assert_true(r->probability == 0.5);
    assert_true(r->minimum_image_size == 256);
    assert_false(r->inferred_reference);
}

static void test_longcat_quickstart_layout(void **state) {
    Fx *f = *state;
    /* the reference set has neither dataset_type nor conditioning_type (seed 000, spec §0 trap 8) */
    if (load_data(f, "[{\"id\": \"edit-images\", \"instance_data_dir\": \"/data/edits\", \"caption_strategy\": \"textfile\","
                     "  \"cache_dir_vae\": \"/cache/vae/longcat/edit\", \"conditioning_data\": [\"ref-images\"]},"
                     " {\"id\": \"ref-images\", \"instance_data_dir\": \"/data/refs\", \"caption_strategy\": null,"
                     "  \"cache_dir_vae\": \"/cache/vae/longcat/ref\"}]", NULL))
        fail_msg("%s", f->e.msg);
    const DatasetConfig *r = config_dataset_find(f->c, "ref-images");
    assert_string_equal(r->dataset_type, "conditioning");
    assert_string_equal(r->conditioning_type, "reference_strict");
    assert_true(r->inferred_reference);
    assert_string_equal(r->source_dataset_id, "edit-images");
}

static void test_conditioning_type_implies_conditioning(void **state) {
    Fx *f = *state;
    if (load_data(f, "[{\"id\": \"a\", \"conditioning_data\": \"m\"}, {\"id\": \"m\", \"conditioning_type\": \"mask\"}]", NULL))
        fail_msg("%s", f->e.msg);
    assert_string_equal(config_dataset_find(f->c, "m")->dataset_type, "conditioning");
    assert_string_equal(config_dataset_find(f->c, "a")->conditioning_data[0], "m"); /* a single id, not a list */
}

static void test_errors(void **state) {
    Fx *f = *state;
    static const struct { const char *json, *msg; } CASES[] = {
        {"{\"id\": \"a\"}", ": expected a JSON list of dataset objects"},
        {"[]", ": no datasets (expected a list of dataset objects)"},
        {"[{\"instance_data_dir\": \"/x\"}]", ": dataset '#1': id is required (a non-empty string)"},
        {"[{\"id\": \"a\"}, {\"id\": \"a\"}]", ": dataset 'a': id is used by datasets #1 and #2; ids must be unique"},
        {"[{\"id\": \"a\", \"conditioning_data\": [\"nope\"]}]",
         ": dataset 'a': conditioning_data names 'nope', which is not a dataset id in this file"},
        {"[{\"id\": \"a\", \"conditioning_data\": [\"a\"]}]", ": dataset 'a': conditioning_data names the dataset itself"},
        {"[{\"id\": \"a\", \"conditioning_data\": 5}]", ": dataset 'a': conditioning_data must be a dataset id or a list of ids, got 5"},
        {"[{\"id\": \"a\", \"conditioning_data\": \"t\"}, {\"id\": \"t\", \"dataset_type\": \"text_embeds\"}]",
         ": dataset 'a': conditioning_data names 't', whose dataset_type is 'text_embeds' (expected conditioning)"},
        {"[{\"id\": \"a\", \"cache_dir_vae\": \"/c\"}, {\"id\": \"b\", \"cache_dir_vae\": \"/c\"}]",
         ": dataset 'b': cache_dir_vae '/c' is also used by dataset 'a'; each dataset needs its own VAE cache"},
        {"[{\"id\": \"a\", \"conditioning_type\": \"reference\"}]",
         ": dataset 'a': conditioning_type must be one of reference_strict,reference_loose,mask,segmentation,controlnet, got \"reference\""},
        {"[{\"id\": \"a\", \"resolution\": \"768\"}]", ": dataset 'a': resolution must be a finite number, got \"768\""},
        {"[{\"id\": \"a\", \"repeats\": 1.5}]", ": dataset 'a': repeats must be a whole number in [0, 1000000], got 1.5"},
        {"[{\"id\": \"a\", \"crop\": \"yes\"}]", ": dataset 'a': crop must be true or false, got \"yes\""},
        {"[{\"id\": \"a\", \"conditionning_data\": [\"b\"]}]", ": dataset 'a': unknown key 'conditionning_data' (did you mean 'conditioning_data'?)"},
        {"[{\"id\": \"a\", \"disable_vae_cache\": true}]", ": dataset 'a': disable_vae_cache is not accepted"},
        {"[{\"id\": \"a\", \"type\": \"aws\"}]", ": dataset 'a': not supported yet: type=aws"},
        {"[{\"id\": \"a\", \"caption_strategy\": \"parquet\"}]", ": dataset 'a': not supported yet: caption_strategy=parquet"},
        {"[{\"id\": \"a\", \"conditioning\": [{\"type\": \"canny\"}]}]", ": dataset 'a': not supported yet: conditioning=(generated conditioning sets)"},
        {"[{\"id\": \"a\", \"dataset_type\": \"video\"}]", ": dataset 'a': not supported yet: dataset_type=video"},
        {"[{\"id\": \"a\", \"crop\": true, \"crop_aspect\": \"closest\"}]", ": dataset 'a': crop_aspect closest/random needs crop_aspect_buckets"},
        {"[{\"id\": \"a\", \"conditioning_image_embeds\": \"x\"}]",
         ": dataset 'a': conditioning_image_embeds names 'x', which is not a dataset with dataset_type=conditioning_image_embeds in this file"},
        {"[{\"id\": \"a\", \"text_embeds\": \"a\"}]",
         ": dataset 'a': text_embeds names 'a', which is not a dataset with dataset_type=text_embeds in this file"},
        {"[{\"id\": \"a\", \"source_dataset_id\": \"zz\"}]",
         ": dataset 'a': source_dataset_id names 'zz', which is not a dataset id in this file"},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        if (load_data(f, CASES[i].json, NULL) == 0) fail_msg("case %zu should fail: %s", i, CASES[i].json);
        assert_int_equal(f->e.code, EXIT_USAGE);
        const char *rest = msg_after_file(f);
        if (strncmp(rest, CASES[i].msg, strlen(CASES[i].msg)))
            fail_msg("case %zu:\n  expected %s\n  got      %s", i, CASES[i].msg, rest);
    }
}

static void test_eval_dataset_id_must_exist(void **state) {
    Fx *f = *state;
    assert_int_equal(load_data(f, "[{\"id\": \"a\"}]", "eval_dataset_id=b"), -1);
    char want[800];
    snprintf(want, sizeof want, "command line: eval_dataset_id names 'b', which is not a dataset id in %s", f->data);
    assert_string_equal(f->e.msg, want);
}

static void test_edit_flavour_needs_references(void **state) {
    Fx *f = *state;
    assert_int_equal(load_data(f, "[{\"id\": \"a\"}, {\"id\": \"r\", \"conditioning_type\": \"reference_strict\"}]", NULL), -1);
    assert_string_equal(msg_after_file(f), ": dataset 'a': model_flavour edit trains an edit model, which needs reference "
                                           "images: list the reference dataset(s) in conditioning_data");
    /* a text-to-image flavour trains on plain images */
    if (load_data(f, "[{\"id\": \"a\"}]", "model_flavour=final")) fail_msg("%s", f->e.msg);
}

static void test_disabled_sets_share_cache(void **state) {
    Fx *f = *state;
    if (load_data(f, "[{\"id\": \"a\", \"cache_dir_vae\": \"/c\", \"conditioning_data\": \"r\"},"
                     " {\"id\": \"r\", \"conditioning_type\": \"reference_strict\"},"
                     " {\"id\": \"b\", \"cache_dir_vae\": \"/c\", \"disabled\": true}]",
                  "eval_dataset_id=a"))
        fail_msg("%s", f->e.msg);
    assert_true(config_dataset_find(f->c, "b")->disabled);
    assert_null(config_dataset_find(f->c, "zz"));
}

static void test_qwen_edit_v1_layout(void **state) {
    Fx *f = *state;
    write_text(f->data, "[]");
    const char *args[] = {"--config", "tests/data/config/qwen_seed/config.json", "--data",
                          "tests/data/config/qwen_seed/multidatabackend-edit-v1.json", "output_dir=o",
                          "optimizer=adamw_bf16", NULL};
    if (load_args(&f->c, &f->e, args)) fail_msg("%s", f->e.msg);
    const DatasetConfig *ds;
    int n;
    config_datasets(f->c, &ds, &n);
    assert_int_equal(n, 3);
    assert_string_equal(ds[0].conditioning_image_embeds, "qwen-edit-ref-embeds");
    assert_string_equal(ds[1].conditioning_type, "reference_strict");
    assert_string_equal(ds[2].dataset_type, "conditioning_image_embeds");
    assert_string_equal(ds[2].cache_dir, "cache/conditioning_image_embeds/qwen-edit");
    assert_null(ds[2].cache_dir_vae);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults_and_fallbacks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_longcat_quickstart_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conditioning_type_implies_conditioning, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eval_dataset_id_must_exist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disabled_sets_share_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edit_flavour_needs_references, setup, teardown),
        cmocka_unit_test_setup_teardown(test_qwen_edit_v1_layout, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
