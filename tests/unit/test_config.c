/* test_config.c — config.json reading, command line, SimpleTuner's parsing and post-parse rules, and
 * the exact error messages. */
#include <math.h>
#include <sys/stat.h>
#include "test_config_util.h"

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

static void test_comments_dashes_env(void **state) {
    Fx *f = *state;
    setenv("ST_TEST_OUT", "/tmp/from_env", 1);
    int rc = load_json(&f->c, &f->e, f->dir,
                       "// a line comment\n"
                       "\"--lora_rank\": 8, /* block\n comment */ \"lora_alpha\": 4,\n"
                       "\"validation_prompt\": \"see http://example.com /* not a comment */\",\n"
                       "\"output_dir\": \"{env:ST_TEST_OUT}/run\"", NULL);
    assert_int_equal(rc, 0);
    assert_int_equal(config_int(f->c, "lora_rank"), 8);
    assert_true(config_num(f->c, "lora_alpha") == 4.0);
    assert_string_equal(config_str(f->c, "validation_prompt"), "see http://example.com /* not a comment */");
    assert_string_equal(config_str(f->c, "output_dir"), "/tmp/from_env/run");
    assert_string_equal(config_str(f->c, "cache_dir"), "/tmp/from_env/run/cache"); /* empty cache_dir rule */
}

static void test_comment_edge_cases(void **state) {
    Fx *f = *state;
    /* an escaped quote does not end the string, so the // after it is text */
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"validation_prompt\": \"say \\\"hi\\\" // not a comment\" // one\n", NULL), 0);
    assert_string_equal(config_str(f->c, "validation_prompt"), "say \"hi\" // not a comment");
    config_free(f->c);
    f->c = NULL;
    /* a comment on the last line without a newline, and an unterminated block comment */
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"lora_rank\": 2 /* trailing */", NULL), 0);
    assert_int_equal(config_int(f->c, "lora_rank"), 2);
    config_free(f->c);
    f->c = NULL;
    char path[512];
    snprintf(path, sizeof path, "%s/u.json", f->dir);
    write_text(path, "{\"lora_rank\": 2 /* never closed\n}");
    const char *args[] = {"--config", path, NULL};
    assert_int_equal(load_args(&f->c, &f->e, args), -1);
    assert_contains(f->e.msg, "invalid JSON");
}

static void test_env_in_dataset_file(void **state) {
    Fx *f = *state;
    setenv("ST_TEST_DATA", "/srv/data", 1);
    char data[512], arg[600];
    snprintf(data, sizeof data, "%s/d.json", f->dir);
    write_text(data, "[{\"id\": \"a\", \"instance_data_dir\": \"{env:ST_TEST_DATA}/edits\"} // comment\n]");
    snprintf(arg, sizeof arg, "--data=%s", data);
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "", arg), 0);
    assert_string_equal(config_dataset_find(f->c, "a")->instance_data_dir, "/srv/data/edits");
}

static void test_env_unset_is_error(void **state) {
    Fx *f = *state;
    unsetenv("ST_TEST_UNSET");
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"validation_prompt\": \"{env:ST_TEST_UNSET}\"", NULL), -1);
    assert_contains(f->e.msg, "uses {env:ST_TEST_UNSET} but the environment variable ST_TEST_UNSET is not set");
    assert_int_equal(f->e.code, EXIT_USAGE);
}

static void test_invalid_json_position(void **state) {
    Fx *f = *state;
    char path[512];
    snprintf(path, sizeof path, "%s/bad.json", f->dir);
    write_text(path, "{\n  \"lora_rank\": 8,\n  \"lora_alpha\" 4\n}\n");
    const char *args[] = {"--config", path, NULL};
    assert_int_equal(load_args(&f->c, &f->e, args), -1);
    char want[600];
    snprintf(want, sizeof want, "%s:3:", path);
    assert_contains(f->e.msg, want);
    assert_contains(f->e.msg, "invalid JSON");
}

static void test_unknown_key_suggestion(void **state) {
    Fx *f = *state;
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"lora_rnak\": 8", NULL), -1);
    char want[600];
    snprintf(want, sizeof want, "%s/config.json: unknown option 'lora_rnak' (did you mean 'lora_rank'?)", f->dir);
    assert_string_equal(f->e.msg, want);
    assert_int_equal(f->e.code, EXIT_USAGE);
}

static void test_unknown_key_on_command_line(void **state) {
    Fx *f = *state;
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "", "--learning_rat=1e-4"), -1);
    assert_string_equal(f->e.msg, "command line: unknown option 'learning_rat' (did you mean 'learning_rate'?)");
}

static void test_nearest_names(void **state) {
    (void)state;
    static const char *const CASES[][2] = {
        {"lora_rnak", "lora_rank"}, {"learning_rat", "learning_rate"}, {"--validation_step", "validation_steps"},
        {"max_train_step", "max_train_steps"}, {"optimiser", "optimizer"}, {"train_batchsize", "train_batch_size"},
        {"model_flavor", "model_flavour"}, {"gradient_acumulation_steps", "gradient_accumulation_steps"},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const char *got = option_nearest(CASES[i][0]);
        /* the nearest *option* for "--validation_step" is the canonical validation_step_interval's alias
         * target or the alias itself: accept the canonical name of what it resolves to */
        const OptionDef *want = option_find(CASES[i][1]);
        const OptionDef *have = option_find(got);
        if (!want || have != want) fail_msg("nearest('%s') = '%s', expected '%s'", CASES[i][0], got, CASES[i][1]);
    }
    /* farther than a typo from every option: no suggestion (a long random key included, which the
     * bound also keeps cheap) */
    static const char *const FAR[] = {"zzqx", "colour", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "lr"};
    for (size_t i = 0; i < sizeof FAR / sizeof *FAR; i++)
        if (option_nearest(FAR[i])) fail_msg("nearest('%s') = '%s', expected none", FAR[i], option_nearest(FAR[i]));
}

static void test_unknown_key_far_from_any(void **state) {
    Fx *f = *state;
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"zzqx\": 8, \"lora_rnak\": 8", NULL), -1);
    char want[700];
    snprintf(want, sizeof want, "%s/config.json: unknown option 'zzqx' (`simpletuner config show` lists every option), "
             "'lora_rnak' (did you mean 'lora_rank'?)", f->dir);
    assert_string_equal(f->e.msg, want);
}

/* Numbers are finite decimals, from a file or the command line: inf, Infinity, nan, hex and values
 * that overflow a double are refused naming the option (exit 2). */
static void test_non_finite_numbers(void **state) {
    Fx *f = *state;
    static const char *const TEXTS[] = {"inf", "Infinity", "-inf", "nan", "NaN", "0x10", "1e999", "-1e999", "1e", ".", "1.2.3"};
    for (size_t i = 0; i < sizeof TEXTS / sizeof *TEXTS; i++) {
        char member[128], arg[128];
        snprintf(member, sizeof member, "\"learning_rate\": \"%s\"", TEXTS[i]);
        assert_int_equal(load_json(&f->c, &f->e, f->dir, member, NULL), -1);
        assert_int_equal(f->e.code, EXIT_USAGE);
        assert_contains(f->e.msg, "option 'learning_rate' expects a");
        assert_contains(f->e.msg, TEXTS[i]);
        snprintf(arg, sizeof arg, "learning_rate=%s", TEXTS[i]);
        assert_int_equal(load_json(&f->c, &f->e, f->dir, "", arg), -1);
        assert_int_equal(f->e.code, EXIT_USAGE);
        assert_contains(f->e.msg, "command line: option 'learning_rate' expects a");
    }
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "", "learning_rate=0x10"), -1);
    assert_contains(f->e.msg, "expects a finite decimal number, got \"0x10\"");
    /* a JSON number too large for a double (cJSON makes it infinity) */
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"learning_rate\": 1e999", NULL), -1);
    assert_contains(f->e.msg, "option 'learning_rate' expects a finite number");
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"max_grad_norm\": -1e999", NULL), -1);
    assert_contains(f->e.msg, "option 'max_grad_norm' expects a finite number");
    /* what JSON itself allows still loads, as text or number */
    static const char *const GOOD[] = {"1e-4", "0.5", "+2", "3.", ".25", "1E+3", " 7 "};
    static const double WANT[] = {1e-4, 0.5, 2, 3, 0.25, 1000, 7};
    for (size_t i = 0; i < sizeof GOOD / sizeof *GOOD; i++) {
        char arg[64];
        snprintf(arg, sizeof arg, "max_grad_norm=%s", GOOD[i]);
        if (load_json(&f->c, &f->e, f->dir, "", arg)) fail_msg("%s: %s", arg, f->e.msg);
        assert_true(config_num(f->c, "max_grad_norm") == WANT[i]);
        config_free(f->c);
        f->c = NULL;
    }
}

static void test_wrong_type_messages(void **state) {
    Fx *f = *state;
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"lora_rank\": \"sixteen\"", NULL), -1);
    assert_contains(f->e.msg, "config.json: option 'lora_rank' expects a number, got \"sixteen\"");
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"use_ema\": \"maybe\"", NULL), -1);
    assert_contains(f->e.msg, "option 'use_ema' expects a boolean (true or false), got \"maybe\"");
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"lr_scheduler\": \"warp\"", NULL), -1);
    assert_contains(f->e.msg, "option 'lr_scheduler' has value 'warp'; expected one of: linear, sine, cosine, "
                              "cosine_with_restarts, polynomial, constant, constant_with_warmup, cosine_with_warmup");
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"aspect_bucket_alignment\": 48", NULL), -1);
    assert_contains(f->e.msg, "option 'aspect_bucket_alignment' has value '48'; expected one of: 8, 16, 24, 32, 64");
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"validation_prompt\": {\"a\": 1}, \"lora_rank\": [1]", NULL), -1);
    assert_contains(f->e.msg, "option 'lora_rank' expects a number, got [1]");
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"train_batch_size\": 1.5", NULL), -1);
    assert_contains(f->e.msg, "option 'train_batch_size' expects a whole number in [1, 4096], got 1.5");
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"report_to\": false", NULL), -1);
    assert_contains(f->e.msg, "option 'report_to' has value 'false'; expected one of: simpletuner, tensorboard");
}

static void test_numbers_as_strings_and_text_from_numbers(void **state) {
    Fx *f = *state;
    assert_int_equal(load_json(&f->c, &f->e, f->dir,
                               "\"learning_rate\": \"1e-4\", \"validation_resolution\": 1024, "
                               "\"aspect_bucket_alignment\": \"32\", \"skip_file_discovery\": false", NULL), 0);
    assert_true(fabs(config_num(f->c, "learning_rate") - 1e-4) < 1e-12);
    assert_string_equal(config_str(f->c, "validation_resolution"), "1024");
    assert_int_equal(config_int(f->c, "aspect_bucket_alignment"), 32);
    assert_string_equal(config_str(f->c, "skip_file_discovery"), "false");
}

static void test_string_false_true_null_empty(void **state) {
    Fx *f = *state;
    assert_int_equal(load_json(&f->c, &f->e, f->dir,
                               "\"use_ema\": \"true\", \"gradient_checkpointing\": \"false\", "
                               "\"validation_disable_unconditional\": false, \"lora_alpha\": null, "
                               "\"validation_prompt\": \"\", \"hub_model_id\": \"false\"", NULL), 0);
    assert_true(config_bool(f->c, "use_ema"));                 /* "true" becomes the flag */
    assert_true(config_bool(f->c, "gradient_checkpointing"));  /* "false" is dropped: default true stays */
    assert_false(config_is_set(f->c, "gradient_checkpointing"));
    assert_false(config_bool(f->c, "validation_disable_unconditional"));
    assert_true(config_is_set(f->c, "validation_disable_unconditional"));
    assert_false(config_has(f->c, "lora_alpha"));              /* null skipped: default None */
    assert_false(config_is_set(f->c, "validation_prompt"));    /* "" skipped */
    assert_false(config_is_set(f->c, "hub_model_id"));
}

static void test_aliases(void **state) {
    Fx *f = *state;
    assert_int_equal(load_json(&f->c, &f->e, f->dir,
                               "\"validation_steps\": 50, \"checkpointing_steps\": 25, \"save_total_limit\": 2, "
                               "\"vae_cache_preprocess\": false, \"ignore_final_epochs\": true", NULL), 0);
    assert_int_equal(config_int(f->c, "validation_step_interval"), 50);
    assert_int_equal(config_int(f->c, "checkpoint_step_interval"), 25);
    assert_int_equal(config_int(f->c, "checkpoints_total_limit"), 2);
    assert_true(config_bool(f->c, "vae_cache_ondemand"));
    assert_false(config_bool(f->c, "strict_epoch_limit"));
    assert_string_equal(config_source(f->c, "validation_step_interval"), strstr(config_file(f->c), f->dir));
}

static void test_command_line_forms(void **state) {
    Fx *f = *state;
    char path[512];
    snprintf(path, sizeof path, "%s/c.json", f->dir);
    char *data = write_min_data(f->dir);
    char json[1024];
    snprintf(json, sizeof json, "{\"model_family\": \"qwen_image\", \"model_type\": \"lora\", \"output_dir\": \"o\", "
             "\"optimizer\": \"adamw_bf16\", \"data_backend_config\": \"%s\", \"lora_rank\": 4, \"use_ema\": false}", data);
    write_text(path, json);
    const char *args[] = {"lora_rank=8", "--config", path, "--learning_rate=2e-4", "--lora_dropout", "0.5",
                          "--use_ema", "--validation_seed", "7", "lora_rank=32", "--validation_disable_unconditional",
                          "false", NULL};
    assert_int_equal(load_args(&f->c, &f->e, args), 0);
    assert_int_equal(config_int(f->c, "lora_rank"), 32);        /* later wins, command line over file */
    assert_true(config_num(f->c, "learning_rate") == 2e-4);
    assert_true(config_num(f->c, "lora_dropout") == 0.5);
    assert_true(config_bool(f->c, "use_ema"));                  /* bare flag */
    assert_int_equal(config_int(f->c, "validation_seed"), 7);
    assert_false(config_bool(f->c, "validation_disable_unconditional"));
    assert_string_equal(config_source(f->c, "lora_rank"), "command line");
    free(data);
}

static void test_command_line_only_and_flags(void **state) {
    Fx *f = *state;
    char *data = write_min_data(f->dir);
    char dataarg[600];
    snprintf(dataarg, sizeof dataarg, "--data=%s", data);
    static const char *const FLAGS[] = {"--image", "--prompt", NULL}, *const SWITCHES[] = {"--json", NULL};
    const char *args[] = {"--model_family", "longcat_image", "--model_flavour", "edit", "model_type=lora",
                          "output_dir=o", "optimizer=adamw_bf16", dataarg, "--image", "a.png", "--prompt=make it red",
                          "--json", NULL};
    ConfigLoadOptions opt = {0};
    opt.quiet = 1;
    opt.command_flags = FLAGS;
    opt.command_switches = SWITCHES;
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(f->dir), 0); /* no config/config.json here */
    unsetenv("CONFIG_PATH");
    unsetenv("ENV");
    int rc = config_load_with(&f->c, 12, (char **)args, &opt, &f->e);
    assert_int_equal(chdir(cwd), 0);
    if (rc) fail_msg("%s", f->e.msg);
    assert_string_equal(config_str(f->c, "model_flavour"), "edit");
    assert_string_equal(config_data_file(f->c), data);
    assert_string_equal(config_file(f->c), "");
    free(data);
}

static void test_unexpected_argument(void **state) {
    Fx *f = *state;
    const char *args[] = {"--config", "x.json", "stray", NULL};
    assert_int_equal(load_args(&f->c, &f->e, args), -1);
    assert_contains(f->e.msg, "unexpected argument 'stray'");
}

static void test_required_keys(void **state) {
    Fx *f = *state;
    char path[512];
    snprintf(path, sizeof path, "%s/c.json", f->dir);
    write_text(path, "{\"model_family\": \"qwen_image\", \"lora_rank\": 4}");
    const char *args[] = {"--config", path, NULL};
    assert_int_equal(load_args(&f->c, &f->e, args), -1);
    char want[700];
    snprintf(want, sizeof want, "%s: missing required options: model_type, output_dir, optimizer, data_backend_config", path);
    assert_string_equal(f->e.msg, want);
    /* allowed when the command says so (validate from flags) */
    ConfigLoadOptions opt = {0};
    opt.quiet = 1;
    opt.allow_missing_required = 1;
    assert_int_equal(config_load_with(&f->c, 2, (char **)args, &opt, &f->e), 0);
    assert_string_equal(config_str(f->c, "model_flavour"), "v2.0"); /* family default flavour */
}

static void test_steps_epochs_rule(void **state) {
    Fx *f = *state;
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"max_train_steps\": 100, \"num_train_epochs\": 3", NULL), -1);
    assert_contains(f->e.msg, "When using --max_train_steps (MAX_NUM_STEPS), you must set --num_train_epochs (NUM_EPOCHS) to 0");
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"max_train_steps\": 100", NULL), 0);
    assert_int_equal(config_int(f->c, "num_train_epochs"), 0);
    config_free(f->c);
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"max_train_steps\": 0, \"num_train_epochs\": 0", NULL), -1);
    assert_contains(f->e.msg, "either max_train_steps or num_train_epochs must be greater than 0");
}

static void test_seed_rule(void **state) {
    Fx *f = *state;
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"seed\": 0", NULL), 0);
    assert_true(config_int(f->c, "seed") > 0);
    config_free(f->c);
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"seed\": -1", NULL), 0);
    assert_true(config_int(f->c, "seed") >= 0 && config_int(f->c, "seed") != -1);
    config_free(f->c);
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"seed\": 42", NULL), 0);
    assert_int_equal(config_int(f->c, "seed"), 42);
}

static void test_validation_resolution_rule(void **state) {
    Fx *f = *state;
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"validation_resolution\": \"1\"", NULL), 0);
    assert_string_equal(config_str(f->c, "validation_resolution"), "1024");
    config_free(f->c);
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"validation_resolution\": \"1024x768,2,0.25\"", NULL), 0);
    assert_string_equal(config_str(f->c, "validation_resolution"), "1024x768,2000,504");
    int wh[4][2];
    assert_int_equal(config_validation_resolutions(f->c, wh, 4, &f->e), 3);
    assert_int_equal(wh[0][0], 1024); assert_int_equal(wh[0][1], 768);
    assert_int_equal(wh[1][0], 2000); assert_int_equal(wh[2][1], 504);
    config_free(f->c);
    /* refused while the configuration is read, before any work */
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"validation_resolution\": \"1024xabc\"", NULL), -1);
    assert_contains(f->e.msg, "validation_resolution '1024xabc': '1024xabc' is not WxH");
}

static void test_lr_scheduler_rules(void **state) {
    Fx *f = *state;
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"lr_scheduler\": \"constant\", \"lr_warmup_steps\": 10", NULL), 0);
    assert_string_equal(config_str(f->c, "lr_scheduler"), "constant_with_warmup");
    config_free(f->c);
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"lr_scheduler\": \"constant\"", NULL), 0);
    assert_string_equal(config_str(f->c, "lr_scheduler"), "constant");
    config_free(f->c);
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"lr_scheduler\": \"cosine_with_warmup\"", NULL), 0);
    assert_string_equal(config_str(f->c, "lr_scheduler"), "cosine");
}

static void test_auto_shift_and_downsample_rules(void **state) {
    Fx *f = *state;
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"flow_schedule_auto_shift\": true, \"flow_schedule_shift\": 3", NULL), 0);
    assert_true(config_num(f->c, "flow_schedule_shift") == 0.0);
    config_free(f->c);
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"maximum_image_size\": 2048", NULL), -1);
    assert_contains(f->e.msg, "maximum_image_size is set but target_downsample_size is not");
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"maximum_image_size\": 2048, \"target_downsample_size\": 1024", NULL), 0);
}

static void test_flavour_validation(void **state) {
    Fx *f = *state;
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"model_flavour\": \"edit-v9\"", NULL), -1);
    assert_contains(f->e.msg, "model_flavour 'edit-v9' is not a flavour of qwen_image (flavours: v2.0,v1.0,edit-v1,edit-v2,edit-v2+,edit-v3)");
}

static void test_dropped_object_values(void **state) {
    Fx *f = *state;
    /* dict values never reach SimpleTuner's trainer (trap 6), so even an unknown key loads */
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"model_kwargs\": {\"match_target_res\": true}", NULL), 0);
    config_free(f->c);
    /* JSON-valued options keep objects and lists */
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"peft_lora_target_modules\": [\"to_q\", \"to_k\"]", NULL), 0);
    const cJSON *v = config_json(f->c, "peft_lora_target_modules");
    assert_true(cJSON_IsArray(v));
    assert_int_equal(cJSON_GetArraySize(v), 2);
    config_free(f->c);
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "", "peft_lora_target_modules=[\"to_q\"]"), 0);
    assert_true(cJSON_IsArray(config_json(f->c, "peft_lora_target_modules")));
}

static void test_config_file_selection(void **state) {
    Fx *f = *state;
    char cwd[1024], p[600];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(f->dir), 0);
    assert_int_equal(system("mkdir -p config/prod examples/demo"), 0);
    char *data = write_min_data(".");
    char body[1024];
    snprintf(body, sizeof body, "{\"model_family\": \"qwen_image\", \"model_type\": \"lora\", \"output_dir\": \"%%s\", "
             "\"optimizer\": \"adamw_bf16\", \"data_backend_config\": \"%s\"}", data);
    snprintf(p, sizeof p, body, "default"); write_text("config/config.json", p);
    snprintf(p, sizeof p, body, "prod"); write_text("config/prod/config.json", p);
    snprintf(p, sizeof p, body, "viapath"); write_text("elsewhere.json", p);
    snprintf(p, sizeof p, body, "example"); write_text("examples/demo/config.json", p);
    unsetenv("CONFIG_PATH");
    unsetenv("ENV");
    ConfigLoadOptions opt = {0};
    opt.quiet = 1;
    struct { const char *args[3]; const char *env_config_path, *env_env, *want; } CASES[] = {
        {{NULL}, NULL, NULL, "default"},
        {{NULL}, NULL, "prod", "prod"},
        {{NULL}, "elsewhere.json", "prod", "viapath"},
        {{"env=prod", NULL}, NULL, NULL, "prod"},
        {{"--env", "prod", NULL}, NULL, NULL, "prod"},
        {{"example=demo", NULL}, NULL, NULL, "example"},
        {{"--example", "demo", NULL}, NULL, NULL, "example"},
        {{"--config", "elsewhere.json", NULL}, NULL, NULL, "viapath"},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        if (CASES[i].env_config_path) setenv("CONFIG_PATH", CASES[i].env_config_path, 1); else unsetenv("CONFIG_PATH");
        if (CASES[i].env_env) setenv("ENV", CASES[i].env_env, 1); else unsetenv("ENV");
        int n = 0;
        while (CASES[i].args[n]) n++;
        Config *c = NULL;
        Err e = {0};
        if (config_load_with(&c, n, (char **)CASES[i].args, &opt, &e)) { assert_int_equal(chdir(cwd), 0); fail_msg("case %zu: %s", i, e.msg); }
        if (strcmp(config_str(c, "output_dir"), CASES[i].want)) {
            assert_int_equal(chdir(cwd), 0);
            fail_msg("case %zu: read %s", i, config_file(c));
        }
        config_free(c);
    }
    unsetenv("CONFIG_PATH");
    unsetenv("ENV");
    const char *missing[] = {"example=nope", NULL};
    Config *c = NULL;
    Err e = {0};
    int rc = config_load_with(&c, 1, (char **)missing, &opt, &e);
    assert_int_equal(system("rm -rf config"), 0);
    const char *none[] = {NULL};
    int rc2 = config_load_with(&c, 0, (char **)none, &opt, &f->e);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(rc, -1);
    assert_contains(e.msg, "example 'nope' not found (looked for examples/nope/config.json");
    assert_int_equal(rc2, -1);
    assert_contains(f->e.msg, "no configuration: give --config FILE (looked in config/config.json; CONFIG_PATH is not set)");
    free(data);
}

static void test_data_path_resolution(void **state) {
    Fx *f = *state;
    /* data_backend_config relative to the config file's folder, and SimpleTuner's config/examples/ prefix */
    char sub[400], path[500], cwd[1024];
    snprintf(sub, sizeof sub, "%s/env", f->dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    free(write_min_data(sub));
    snprintf(path, sizeof path, "%s/config.json", sub);
    write_text(path, "{\"model_family\": \"qwen_image\", \"model_type\": \"lora\", \"output_dir\": \"o\", "
                     "\"optimizer\": \"adamw_bf16\", \"data_backend_config\": \"data.json\"}");
    const char *args[] = {"--config", path, NULL};
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(load_args(&f->c, &f->e, args), 0);
    char want[1200];
    snprintf(want, sizeof want, "%s/data.json", sub);
    assert_string_equal(config_data_file(f->c), want);
    config_free(f->c);
    write_text(path, "{\"model_family\": \"qwen_image\", \"model_type\": \"lora\", \"output_dir\": \"o\", "
                     "\"optimizer\": \"adamw_bf16\", \"data_backend_config\": \"config/missing.json\"}");
    assert_int_equal(load_args(&f->c, &f->e, args), -1);
    snprintf(want, sizeof want, "%s: data_backend_config config/missing.json not found", path);
    assert_contains(f->e.msg, want);
}

static void test_examples_prefix_and_toml(void **state) {
    Fx *f = *state;
    /* SimpleTuner's presets name their data file "config/examples/<preset>/..."; it resolves into the
     * examples folder */
    char ex[600], cfg[700], data[700];
    snprintf(ex, sizeof ex, "%s/examples", f->dir);
    snprintf(cfg, sizeof cfg, "%s/p", ex);
    char cmd[800];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", cfg);
    assert_int_equal(system(cmd), 0);
    free(write_min_data(cfg));
    snprintf(data, sizeof data, "%s/config.json", cfg);
    write_text(data, "{\"model_family\": \"qwen_image\", \"model_type\": \"lora\", \"output_dir\": \"o\", "
                     "\"optimizer\": \"adamw_bf16\", \"data_backend_config\": \"config/examples/p/data.json\"}");
    ConfigLoadOptions opt = {0};
    opt.quiet = 1;
    opt.examples_dir = ex;
    const char *args[] = {"example=p", NULL};
    if (config_load_with(&f->c, 1, (char **)args, &opt, &f->e)) fail_msg("%s", f->e.msg);
    snprintf(data, sizeof data, "%s/data.json", cfg);
    assert_string_equal(config_data_file(f->c), data);
    config_free(f->c);
    f->c = NULL;
    snprintf(data, sizeof data, "%s/config.toml", f->dir);
    write_text(data, "model_family = 'qwen_image'\n");
    const char *toml[] = {"--config", data, NULL};
    assert_int_equal(load_args(&f->c, &f->e, toml), -1);
    assert_contains(f->e.msg, "config.toml: not supported yet: TOML and .env configuration files (use config.json)");
}

static void test_config_unsupported_helper(void **state) {
    Fx *f = *state;
    assert_int_equal(load_json(&f->c, &f->e, f->dir, "\"lora_rank\": 4", "lora_dropout=0.3"), 0);
    Err e = {0};
    assert_int_equal(config_unsupported(f->c, "lora_dropout", &e), -1);
    assert_string_equal(e.msg, "command line: not supported yet: lora_dropout=0.3");
    assert_int_equal(e.code, EXIT_USAGE);
    assert_int_equal(config_unsupported(f->c, "lora_rank", &e), -1);
    assert_contains(e.msg, "config.json: not supported yet: lora_rank=4");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_comments_dashes_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_non_finite_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_unset_is_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_comment_edge_cases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_in_dataset_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_json_position, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_key_suggestion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_key_far_from_any, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_key_on_command_line, setup, teardown),
        cmocka_unit_test(test_nearest_names),
        cmocka_unit_test_setup_teardown(test_wrong_type_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_numbers_as_strings_and_text_from_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string_false_true_null_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aliases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_line_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_line_only_and_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unexpected_argument, setup, teardown),
        cmocka_unit_test_setup_teardown(test_required_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_steps_epochs_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seed_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validation_resolution_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lr_scheduler_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auto_shift_and_downsample_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flavour_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dropped_object_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_file_selection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_data_path_resolution, setup, teardown),
        cmocka_unit_test_setup_teardown(test_examples_prefix_and_toml, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_unsupported_helper, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
