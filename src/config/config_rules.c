/* config_rules.c — SimpleTuner's post-parse rules (spec §2.1, cmd_args.py / safety_check.py), the
 * required keys, model family/flavour validation, and the "not supported yet" gate of issue 11. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include "config/config_internal.h"

static const char *where(const Config *c, const char *key) {
    const char *s = config_source(c, key);
    return s ? s : (c->file[0] ? c->file : "configuration");
}

static void put_num(Config *c, const char *key, double x) { config_put(c, config_index(key), cJSON_CreateNumber(x), NULL); }
static void put_str(Config *c, const char *key, const char *s) { config_put(c, config_index(key), cJSON_CreateString(s), NULL); }

static int rule_steps_epochs(Config *c, Err *e) {
    double steps = config_num(c, "max_train_steps"), epochs = config_num(c, "num_train_epochs");
    int has_steps = !isnan(steps) && steps > 0, has_epochs = !isnan(epochs) && epochs > 0;
    if (has_steps && has_epochs) {
        if (config_is_set(c, "num_train_epochs"))
            return err_setc(e, EXIT_USAGE, "%s: When using --max_train_steps (MAX_NUM_STEPS), you must set "
                            "--num_train_epochs (NUM_EPOCHS) to 0 (max_train_steps=%g, num_train_epochs=%g)",
                            where(c, "num_train_epochs"), steps, epochs);
        put_num(c, "num_train_epochs", 0); /* only the default was in the way: follow max_train_steps */
    }
    if (!has_steps && !has_epochs)
        return err_setc(e, EXIT_USAGE, "%s: either max_train_steps or num_train_epochs must be greater than 0",
                        where(c, "max_train_steps"));
    return 0;
}

/* seed 0 → time-based, -1 → random (cmd_args.py); the value actually used is stored so that
 * `config show` and checkpoints record it. */
static void rule_seed(Config *c) {
    if (!config_has(c, "seed")) return;
    long seed = config_int(c, "seed");
    /* SimpleTuner's rule: 0 takes the clock, -1 a random seed; say which, so the run can be repeated */
    if (seed == 0) {
        put_num(c, "seed", (double)(time(NULL) & 0x7fffffff));
        log_info("seed=0: seed %ld from the clock (set it to repeat this run)", config_int(c, "seed"));
    } else if (seed == -1) {
        unsigned int r = 0;
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) r = (unsigned int)time(NULL) * 2654435761u;
        put_num(c, "seed", (double)(r & 0x7fffffff));
        log_info("seed=-1: random seed %ld (set it to repeat this run)", config_int(c, "seed"));
    }
}

static void rule_cache_dir(Config *c) {
    const char *cd = config_str(c, "cache_dir");
    if (cd && cd[0]) return;
    char *p = xasprintf("%s/cache", config_str(c, "output_dir"));
    put_str(c, "cache_dir", p);
    free(p);
}

/* validation_resolution entries that are a bare number < 128 are megapixels. */
static void rule_validation_resolution(Config *c) {
    const char *s = config_str(c, "validation_resolution");
    if (!s) return;
    char *copy = xstrdup(s), *save = NULL, out[1024] = "";
    int changed = 0;
    for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        char *end, piece[64];
        double x = strtod(tok, &end);
        /* plain decimals only: "0x10" is no megapixel count (the strict check later refuses it) */
        if (end != tok && !*end && strspn(tok, "0123456789.") == strlen(tok) && x > 0 && x < 128) {
            snprintf(piece, sizeof piece, "%d", megapixel_edge(x));
            changed = 1;
        } else {
            snprintf(piece, sizeof piece, "%s", tok);
        }
        if (out[0]) strncat(out, ",", sizeof out - strlen(out) - 1);
        strncat(out, piece, sizeof out - strlen(out) - 1);
    }
    if (changed) put_str(c, "validation_resolution", out);
    free(copy);
}

static void rule_lr_scheduler(Config *c) {
    const char *s = config_str(c, "lr_scheduler");
    if (!s) return;
    if (!strcmp(s, "constant") && config_num(c, "lr_warmup_steps") > 0) put_str(c, "lr_scheduler", "constant_with_warmup");
    else if (!strcmp(s, "cosine_with_warmup")) put_str(c, "lr_scheduler", "cosine");
}

static void rule_auto_shift(Config *c) {
    if (config_bool(c, "flow_schedule_auto_shift") && config_num(c, "flow_schedule_shift") != 0)
        put_num(c, "flow_schedule_shift", 0);
}

static int rule_downsample(Config *c, Err *e) {
    if (config_has(c, "maximum_image_size") && !config_has(c, "target_downsample_size"))
        return err_setc(e, EXIT_USAGE, "%s: maximum_image_size is set but target_downsample_size is not; "
                        "images larger than maximum_image_size are downsampled to target_downsample_size",
                        where(c, "maximum_image_size"));
    return 0;
}

static int require_keys(const Config *c, Err *e) {
    static const char *const REQUIRED[] = {"model_family", "model_type", "output_dir", "optimizer", "data_backend_config"};
    char missing[256] = "";
    for (size_t i = 0; i < sizeof REQUIRED / sizeof REQUIRED[0]; i++)
        if (!config_is_set(c, REQUIRED[i])) {
            if (missing[0]) strcat(missing, ", ");
            strcat(missing, REQUIRED[i]);
        }
    if (!missing[0]) return 0;
    return err_setc(e, EXIT_USAGE, "%s: missing required option%s: %s", c->file[0] ? c->file : "command line",
                    strchr(missing, ',') ? "s" : "", missing);
}

/* Flavours per family (spec §1); the default flavour is the first. */
static const struct { const char *family, *flavours; } FLAVOURS[] = {
    {"qwen_image", "v2.0,v1.0,edit-v1,edit-v2,edit-v2+,edit-v3"},
    {"longcat_image", "final,dev,edit"},
};

static int check_flavour(Config *c, Err *e) {
    const char *fam = config_str(c, "model_family");
    if (!fam) return 0;
    for (size_t i = 0; i < sizeof FLAVOURS / sizeof FLAVOURS[0]; i++) {
        if (strcmp(FLAVOURS[i].family, fam)) continue;
        const char *fl = config_str(c, "model_flavour");
        if (!fl) {
            char first[32];
            snprintf(first, sizeof first, "%.*s", (int)strcspn(FLAVOURS[i].flavours, ","), FLAVOURS[i].flavours);
            put_str(c, "model_flavour", first);
            return 0;
        }
        if (!csv_has(FLAVOURS[i].flavours, fl))
            return err_setc(e, EXIT_USAGE, "%s: model_flavour '%s' is not a flavour of %s (flavours: %s)",
                            where(c, "model_flavour"), fl, fam, FLAVOURS[i].flavours);
    }
    return 0;
}

int config_apply_rules(Config *c, int require, Err *e) {
    if (require && require_keys(c, e)) return -1;
    if (rule_steps_epochs(c, e)) return -1;
    rule_seed(c);
    rule_cache_dir(c);
    rule_validation_resolution(c);
    int wh[1][2];
    if (config_validation_resolutions(c, wh, 1, e) < 0) return -1;   /* checked before any work */
    rule_lr_scheduler(c);
    rule_auto_shift(c);
    if (rule_downsample(c, e)) return -1;
    return check_flavour(c, e);
}

int config_check_support(Config *c, Err *e) {
    char *unsupported = NULL, *inert = NULL;
    const char *first_src = NULL;
    for (int i = 0; i < OPTION_COUNT; i++) {
        if (!c->source[i] || !c->value[i]) continue;
        const OptionDef *d = &OPTION_TABLE[i];
        OptionSupport s = option_support(d->name);
        int at_default = cJSON_Compare(c->value[i], c->defaults[i], 1);
        char *val = config_value_text(c->value[i]);
        const char *allowed = option_supported_values(d->name);
        if (s == SUPPORT_INERT && !at_default) {
            text_append(&inert, ", ", d->name);
        } else if ((s == SUPPORT_UNSUPPORTED && !at_default) ||
                   (s == SUPPORT_IMPLEMENTED && allowed && !csv_has(allowed, val))) {
            char *item = allowed ? xasprintf("%s=%s (supported: %s)", d->name, val, allowed)
                                 : xasprintf("%s=%s", d->name, val);
            text_append(&unsupported, "; ", item);
            free(item);
            if (!first_src) first_src = c->source[i];
        }
        free(val);
    }
    if (unsupported) {
        err_setc(e, EXIT_USAGE, "%s: not supported yet: %s", first_src, unsupported);
        free(unsupported); free(inert);
        return -1;
    }
    if (inert && !c->quiet) log_info("ignored, no effect here: %s", inert);
    free(c->ignored);
    c->ignored = inert;
    return 0;
}

int config_unsupported(const Config *c, const char *key, Err *e) {
    int i = config_index(key);
    char *val = config_value_text(config_value(c, i));
    err_setc(e, EXIT_USAGE, "%s: not supported yet: %s=%s", where(c, key), key, val);
    free(val);
    return -1;
}
