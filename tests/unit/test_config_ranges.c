/* Numeric option ranges (issue 18 item 11): every numeric option of the table has a range, its
 * default lies in it, out-of-range values (and values that would wrap when converted) are refused
 * while the configuration is read, naming the option; validation_resolution is parsed strictly. */
#include "test_util.h"
#include <math.h>
#include "config/config_internal.h"

static void test_every_number_has_a_range(void **state) {
    (void)state;
    int numbers = 0;
    for (int i = 0; i < OPTION_COUNT; i++) {
        const OptionDef *d = &OPTION_TABLE[i];
        if (d->type != OPT_NUMBER) { assert_null(option_range(d->name)); continue; }
        numbers++;
        const OptionRange *r = option_range(d->name);
        if (!r) fail_msg("numeric option '%s' has no range in src/config/config_ranges.c", d->name);
        double v = option_default_num(d->name);
        if (!isnan(v) && (v < r->min || v > r->max || (r->min_exclusive && v == r->min) || (r->max_exclusive && v == r->max)))
            fail_msg("the default of '%s' (%g) is outside its own range", d->name, v);
    }
    assert_int_equal(option_range_count(), numbers);
    for (int i = 1; i < option_range_count(); i++)   /* looked up by bisection */
        assert_true(strcmp(option_range_at(i - 1)->name, option_range_at(i)->name) < 0);
}

static int load1(const char *arg, Err *e) {
    const char *args[] = {"model_family=qwen_image", arg};
    Config *c = NULL;
    ConfigLoadOptions opt = {0};
    opt.args_only = 1; opt.skip_datasets = 1; opt.quiet = 1; opt.allow_missing_required = 1;
    int rc = config_load_with(&c, 2, (char **)args, &opt, e);
    config_free(c);
    return rc;
}

static void test_refused(void **state) {
    (void)state;
    static const struct { const char *arg, *msg; } BAD[] = {
        {"lora_rank=2147483648", "option 'lora_rank' expects a whole number in [1, 65536], got 2147483648"},
        {"lora_rank=0", "'lora_rank' expects a whole number"},
        {"lora_alpha=0", "option 'lora_alpha' expects a number in (0,"},
        {"lora_alpha=-8", "'lora_alpha'"},
        {"lora_dropout=-0.5", "'lora_dropout' expects a number in [0, 1)"},
        {"lora_dropout=2", "'lora_dropout'"},
        {"lora_dropout=1", "'lora_dropout'"},
        {"caption_dropout_probability=-1", "'caption_dropout_probability' expects a number in [0, 1]"},
        {"caption_dropout_probability=2", "'caption_dropout_probability'"},
        {"gradient_accumulation_steps=0", "'gradient_accumulation_steps'"},
        {"gradient_accumulation_steps=-2", "'gradient_accumulation_steps'"},
        {"gradient_accumulation_steps=1e12", "got 1e12"},
        {"checkpoint_step_interval=0", "'checkpoint_step_interval'"},
        {"checkpoint_step_interval=-1", "'checkpoint_step_interval'"},
        {"max_grad_norm=-1", "'max_grad_norm'"},
        {"seed=-2", "'seed' expects a whole number in [-1,"},
        {"seed=1e20", "'seed'"},
        {"resolution=1e9", "'resolution' expects a number in (0, 16384]"},
        {"resolution=1e400", "'resolution' expects a finite decimal number"},
        {"train_batch_size=2.5", "'train_batch_size' expects a whole number"},
        {"validation_resolution=1e9x1e9", "validation_resolution '1e9x1e9'"},
        {"validation_resolution=1024*768", "'1024*768' is not WxH"},
        {"validation_resolution=512x", "'512x' is not WxH"},
        {"validation_resolution=0x10", "'0x10' is not WxH"},
        {"validation_resolution=16385", "'16385' is not WxH"},
        {"validation_resolution=512x768,banana", "'banana' is not WxH"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++) {
        Err e = {0};
        if (load1(BAD[i].arg, &e) != -1) fail_msg("%s was accepted", BAD[i].arg);
        assert_int_equal(e.code, EXIT_USAGE);
        if (!strstr(e.msg, BAD[i].msg)) fail_msg("%s: message '%s' lacks '%s'", BAD[i].arg, e.msg, BAD[i].msg);
        assert_contains(e.msg, "command line");
    }
    static const char *const GOOD[] = {"lora_rank=65536", "lora_dropout=0", "lora_dropout=0.999", "seed=0", "seed=4294967295",
                                       "validation_resolution=1024", "validation_resolution=512x768,1024", "validation_resolution=0.5",
                                       "validation_resolution=2", "checkpoints_total_limit=0", "max_grad_norm=0"};
    for (size_t i = 0; i < sizeof GOOD / sizeof *GOOD; i++) {
        Err e = {0};
        if (load1(GOOD[i], &e)) fail_msg("%s refused: %s", GOOD[i], e.msg);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_every_number_has_a_range), cmocka_unit_test(test_refused)};
    return cmocka_run_group_tests_name("config_ranges", tests, NULL, NULL);
}
