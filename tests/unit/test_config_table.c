/* test_config_table.c — every option of SimpleTuner's registry (the tsv) is known and accepted at its
 * default; the implemented / inert / unsupported classification; SimpleTuner's example presets. */
#include "test_config_util.h"

#define TSV "tests/data/config/simpletuner-options.tsv"

typedef struct { char *dir; Config *c; Err e; } Fx;

static int setup(void **state) {
    Fx *f = calloc(1, sizeof *f);
    f->dir = tmpdir_make();
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

static OptionType expected_type(const char *name, const char *tsv_type) {
    const OptionDef *d = option_find(name);
    if (d->type == OPT_JSON) return OPT_JSON; /* JSON-valued options of spec §2.1 */
    if (!strcmp(tsv_type, "CHECKBOX")) return OPT_BOOL;
    if (!strcmp(tsv_type, "NUMBER")) return OPT_NUMBER;
    if (!strcmp(tsv_type, "SELECT")) return OPT_SELECT;
    return OPT_TEXT;
}

/* Every row of the registry export names a known option of the same type. The registry's own
 * template rows ("field_name", "f'text_encoder_{idx}_precision'") stand for no option / for
 * text_encoder_1..4_precision. */
static void test_every_tsv_row_is_known(void **state) {
    (void)state;
    FILE *fp = fopen(TSV, "r");
    assert_non_null(fp);
    char line[4096];
    int rows = 0, templates = 0;
    assert_non_null(fgets(line, sizeof line, fp)); /* header */
    while (fgets(line, sizeof line, fp)) {
        char *save = NULL, *name = strtok_r(line, "\t\n", &save), *type = strtok_r(NULL, "\t\n", &save);
        rows++;
        if (!strcmp(name, "field_name")) { templates++; continue; }
        if (!strncmp(name, "f'text_encoder_", 15)) name = "text_encoder_1_precision";
        const OptionDef *d = option_find(name);
        if (!d) fail_msg("tsv option '%s' is not in the option table", name);
        if (d->type != expected_type(name, type)) fail_msg("tsv option '%s' (%s) has type %d", name, type, d->type);
    }
    fclose(fp);
    assert_int_equal(rows, 464);
    assert_int_equal(templates, 4);
    assert_non_null(option_find("text_encoder_4_precision"));
    assert_non_null(option_find("validation_guidance_real"));
}

/* Writes {key: default} as members of a config and loads it; returns rc. */
static int load_with_default(Fx *f, const OptionDef *d) {
    char *members = malloc(strlen(d->name) + strlen(d->default_json) + 16);
    sprintf(members, "\"%s\": %s", d->name, d->default_json);
    config_free(f->c);
    f->c = NULL;
    int rc = load_json(&f->c, &f->e, f->dir, members, NULL);
    free(members);
    return rc;
}

static void test_every_option_accepts_its_default(void **state) {
    Fx *f = *state;
    for (int i = 0; i < OPTION_COUNT; i++) {
        const OptionDef *d = &OPTION_TABLE[i];
        if (load_with_default(f, d)) fail_msg("option '%s' = %s: %s", d->name, d->default_json, f->e.msg);
        cJSON *want = cJSON_Parse(d->default_json);
        const cJSON *got = config_json(f->c, d->name);
        /* rules may legitimately rewrite some defaults (cache_dir, flavour, epochs); everything else is kept */
        if (!cJSON_IsNull(want) && strcmp(d->name, "num_train_epochs") && strcmp(d->name, "validation_resolution")) {
            if (!cJSON_Compare(got, want, 1)) {
                char *t = got ? cJSON_PrintUnformatted(got) : strdup("null");
                fail_msg("option '%s': default %s read back as %s", d->name, d->default_json, t);
            }
        }
        cJSON_Delete(want);
    }
}

static void test_every_option_has_default_without_user_value(void **state) {
    Fx *f = *state;
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "", NULL), 0);
    for (int i = 0; i < OPTION_COUNT; i++) {
        const OptionDef *d = &OPTION_TABLE[i];
        cJSON *want = cJSON_Parse(d->default_json);
        assert_non_null(want);
        if (cJSON_IsNull(want) && strcmp(d->name, "cache_dir") && strcmp(d->name, "model_flavour") &&
            strcmp(d->name, "model_family") && strcmp(d->name, "data_backend_config"))
            if (config_has(f->c, d->name)) fail_msg("option '%s' should read as null", d->name);
        assert_string_equal(config_mark(f->c, d->name),
                            config_is_set(f->c, d->name) ? config_mark(f->c, d->name) : "default");
        cJSON_Delete(want);
    }
    assert_string_equal(config_mark(f->c, "model_family"), "implemented");
    assert_string_equal(config_mark(f->c, "lora_rank"), "default");
}

static void test_classification_lists(void **state) {
    (void)state;
    Err e = {0};
    if (option_support_validate(&e)) fail_msg("%s", e.msg);
    if (option_help_validate(&e)) fail_msg("%s", e.msg);
    assert_non_null(option_help("lora_rank"));
    assert_ptr_equal(option_help("checkpointing_steps"), option_help("checkpoint_step_interval"));   /* aliases */
    assert_null(option_help("push_to_hub"));
    /* what the trainer, data and validation engineers consume must never be rejected */
    static const char *const MUST[] = {"lora_rank", "learning_rate", "optimizer", "lr_scheduler", "max_train_steps",
        "train_batch_size", "gradient_accumulation_steps", "validation_step_interval", "validation_guidance",
        "validation_resolution", "base_model_precision", "caption_dropout_probability", "flow_schedule_shift",
        "conditioning_multidataset_sampling", "use_ema", "checkpoint_step_interval", "resume_from_checkpoint", NULL};
    for (int i = 0; MUST[i]; i++)
        if (option_support(MUST[i]) != SUPPORT_IMPLEMENTED) fail_msg("'%s' should be implemented", MUST[i]);
    assert_int_equal(option_support("push_to_hub"), SUPPORT_UNSUPPORTED);
    assert_int_equal(option_support("hub_model_id"), SUPPORT_INERT);
}

/* The publishing / logging / tracker groups, and a few others: which values load, which stop. */
static void test_inert_vs_behaviour_changing(void **state) {
    Fx *f = *state;
    static const struct { const char *members; int ok; const char *expect; } CASES[] = {
        {"\"push_to_hub\": false", 1, NULL},
        {"\"push_to_hub\": true", 0, "not supported yet: push_to_hub=true"},
        {"\"push_checkpoints_to_hub\": true", 0, "not supported yet: push_checkpoints_to_hub=true"},
        {"\"push_to_hub_background\": true", 1, "push_to_hub_background"},
        {"\"hub_model_id\": \"me/my-lora\"", 1, "hub_model_id"},
        {"\"model_card_note\": \"hello\", \"model_card_private\": false", 1, "model_card_note, model_card_private"},
        {"\"model_card_safe_for_work\": true", 1, "model_card_safe_for_work"},
        {"\"modelspec_comment\": \"x\"", 1, "modelspec_comment"},
        {"\"publishing_config\": {\"provider\": \"s3\"}", 0, "not supported yet: publishing_config={\"provider\":\"s3\"}"},
        {"\"post_upload_script\": \"up.sh\"", 0, "not supported yet: post_upload_script=up.sh"},
        {"\"post_checkpoint_script\": \"ck.sh\"", 0, "not supported yet: post_checkpoint_script=ck.sh"},
        {"\"report_to\": \"none\"", 1, NULL},
        {"\"report_to\": \"wandb\"", 0, "not supported yet: report_to=wandb (supported: none)"},
        {"\"report_to\": \"tensorboard\"", 0, "not supported yet: report_to=tensorboard"},
        {"\"tracker_project_name\": \"p\", \"tracker_run_name\": \"r\"", 1, "tracker_project_name, tracker_run_name"},
        {"\"tracker_image_layout\": \"table\"", 1, "tracker_image_layout"},
        {"\"custom_tracker\": \"mine\"", 1, "custom_tracker"},
        {"\"webhook_reporting_interval\": 10", 1, "webhook_reporting_interval"},
        {"\"webhook_config\": {\"url\": \"http://x\"}", 0, "not supported yet: webhook_config="},
        {"\"logging_dir\": \"mylogs\"", 1, "logging_dir"},
        {"\"checkpoint_epoch_interval\": 1", 0, "not supported yet: checkpoint_epoch_interval=1"},
        {"\"enable_watermark\": true", 0, "not supported yet: enable_watermark=true"},
        {"\"disable_benchmark\": true", 1, "disable_benchmark"},
        {"\"validation_prompt_library\": false", 1, NULL},
        {"\"validation_prompt_library\": true", 0, "not supported yet: validation_prompt_library=true"},
        {"\"vae_batch_size\": 16, \"attention_mechanism\": \"sageattention\", \"dynamo_backend\": \"inductor\"", 1,
         "attention_mechanism, dynamo_backend, vae_batch_size"},
        {"\"lora_type\": \"lycoris\"", 0, "not supported yet: lora_type=lycoris"},
        {"\"model_family\": \"flux\"", 0, "not supported yet: model_family=flux (supported: qwen_image,longcat_image)"},
        {"\"optimizer\": \"prodigy\"", 0, "not supported yet: optimizer=prodigy"},
        {"\"use_dora\": true, \"report_to\": \"wandb\"", 0, "not supported yet: report_to=wandb (supported: none); use_dora=true"},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        config_free(f->c);
        f->c = NULL;
        int rc = load_json(&f->c, &f->e, f->dir, CASES[i].members, NULL);
        if (CASES[i].ok) {
            if (rc) fail_msg("case %zu (%s): %s", i, CASES[i].members, f->e.msg);
            const char *ign = config_ignored(f->c);
            if (CASES[i].expect && (!ign || strcmp(ign, CASES[i].expect)))
                fail_msg("case %zu: ignored list '%s', expected '%s'", i, ign ? ign : "(none)", CASES[i].expect);
            if (!CASES[i].expect && ign) fail_msg("case %zu: nothing should be listed as ignored, got '%s'", i, ign);
        } else {
            if (!rc) fail_msg("case %zu (%s) should fail", i, CASES[i].members);
            assert_int_equal(f->e.code, EXIT_USAGE);
            assert_contains(f->e.msg, CASES[i].expect);
            assert_contains(f->e.msg, "config.json: not supported yet: ");
        }
    }
}

static int load_file(Fx *f, const char *config, const char *data) {
    config_free(f->c);
    f->c = NULL;
    const char *args[] = {"--config", config, data ? "--data" : NULL, data, NULL};
    return load_args(&f->c, &f->e, args);
}

static void test_simpletuner_presets(void **state) {
    Fx *f = *state;
    if (load_file(f, "tests/data/config/presets/qwen_image.peft-lora/config.json", NULL)) fail_msg("%s", f->e.msg);
    assert_int_equal(config_int(f->c, "validation_step_interval"), 50);
    assert_string_equal(config_str(f->c, "optimizer"), "optimi-lion");
    assert_string_equal(config_str(f->c, "base_model_precision"), "int2-quanto");
    const DatasetConfig *ds;
    int n;
    config_datasets(f->c, &ds, &n);
    assert_int_equal(n, 2);
    assert_string_equal(ds[0].cache_dir_vae, "cache/vae/qwen_image/dreambooth-1024");
    assert_string_equal(ds[1].cache_dir, "cache/text/qwen_image");
    assert_true(ds[1].is_default);

    if (load_file(f, "tests/data/config/presets/longcat-image.peft-lora/config.json", NULL)) fail_msg("%s", f->e.msg);
    assert_string_equal(config_str(f->c, "model_flavour"), "final");
    assert_true(config_num(f->c, "flow_schedule_shift") == 0.0);

    assert_int_equal(load_file(f, "tests/data/config/presets/longcat-image-edit.lycoris-lokr/config.json", NULL), -1);
    assert_string_equal(f->e.msg, "tests/data/config/presets/longcat-image-edit.lycoris-lokr/config.json: "
                                  "not supported yet: lora_type=lycoris (supported: standard)");
    assert_int_equal(f->e.code, EXIT_USAGE);

    assert_int_equal(load_file(f, "tests/data/config/presets/qwen_image.peft-lora/config.json",
                               "tests/data/config/presets/multidatabackend-small-dreambooth-1024px.huggingface.json"), -1);
    assert_string_equal(f->e.msg, "tests/data/config/presets/multidatabackend-small-dreambooth-1024px.huggingface.json: "
                                  "dataset 'dreambooth-1024': not supported yet: type=huggingface");
}

/* Both quickstarts' snippets (comments included) with the keys they tell the user to add. */
static void test_seed_examples(void **state) {
    Fx *f = *state;
    static const char *const EXTRA[] = {"output_dir=out", "optimizer=adamw_bf16", NULL};
    struct { const char *config, *data, *extra; const char *family, *flavour; int n; } CASES[] = {
        {"tests/data/config/longcat_seed/config.json", "tests/data/config/longcat_seed/multidatabackend.json",
         "model_flavour=edit", "longcat_image", "edit", 2},
        {"tests/data/config/qwen_seed/config.json", "tests/data/config/qwen_seed/multidatabackend-edit-v1.json",
         "model_flavour=edit-v1", "qwen_image", "edit-v1", 3},
        {"tests/data/config/qwen_seed/config.json", "tests/data/config/qwen_seed/multidatabackend-edit-v2.json",
         "eval_dataset_id=qwen-edit-plus-images", "qwen_image", "edit-v1", 4},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        config_free(f->c);
        f->c = NULL;
        const char *args[] = {"--config", CASES[i].config, "--data", CASES[i].data, EXTRA[0], EXTRA[1],
                              CASES[i].extra, NULL};
        if (load_args(&f->c, &f->e, args)) fail_msg("case %zu: %s", i, f->e.msg);
        assert_string_equal(config_str(f->c, "model_family"), CASES[i].family);
        assert_string_equal(config_str(f->c, "model_flavour"), CASES[i].flavour);
        const DatasetConfig *ds;
        int n;
        config_datasets(f->c, &ds, &n);
        assert_int_equal(n, CASES[i].n);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_tsv_row_is_known),
        cmocka_unit_test_setup_teardown(test_every_option_accepts_its_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_option_has_default_without_user_value, setup, teardown),
        cmocka_unit_test(test_classification_lists),
        cmocka_unit_test_setup_teardown(test_inert_vs_behaviour_changing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_simpletuner_presets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seed_examples, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
