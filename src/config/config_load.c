/* config_load.c — reading config.json and the command line into a Config (spec §2.1, §5).
 *
 * Order of precedence, lowest first: option defaults, the config file, command-line key=value
 * arguments in the order given. --data overrides data_backend_config last. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "config/config_internal.h"
#include "config/lycoris_config.h"
#include "config/config_json.h"
#include "base/files.h"

#define CLI "command line"

typedef struct Pair { char *key, *value; } Pair;

typedef struct Args {
    const char *config, *data, *example, *env;
    Pair *pairs;
    int n;
} Args;

static void add_pair(Args *a, const char *key, size_t klen, const char *value) {
    a->pairs = xrealloc(a->pairs, (size_t)(a->n + 1) * sizeof *a->pairs);
    a->pairs[a->n].key = strndup(key, klen);
    a->pairs[a->n].value = xstrdup(value);
    a->n++;
}

/* Selector arguments (--config, --data, --example/-e, --env) in any of their spellings; returns the
 * number of argv entries consumed, 0 when argv[i] is not one. */
static int take_selector(int argc, char **argv, int i, Args *a, Err *e) {
    static const struct { const char *flag, *alt; size_t off; } SEL[] = {
        {"config", NULL, offsetof(Args, config)}, {"data", NULL, offsetof(Args, data)},
        {"example", "-e", offsetof(Args, example)}, {"env", NULL, offsetof(Args, env)},
    };
    const char *arg = argv[i];
    for (size_t k = 0; k < sizeof SEL / sizeof SEL[0]; k++) {
        const char **slot = (const char **)((char *)a + SEL[k].off);
        size_t fl = strlen(SEL[k].flag);
        const char *name = arg[0] == '-' && arg[1] == '-' ? arg + 2 : arg;
        int dashed = name != arg;
        if (!strncmp(name, SEL[k].flag, fl) && name[fl] == '=') { *slot = name + fl + 1; return 1; }
        if ((dashed && !strcmp(name, SEL[k].flag)) || (SEL[k].alt && !strcmp(arg, SEL[k].alt))) {
            if (i + 1 >= argc) return err_setc(e, EXIT_USAGE, "%s needs a value", arg), -1;
            *slot = argv[i + 1];
            return 2;
        }
    }
    return 0;
}

static int is_bool_word(const char *s) {
    static const char *const W[] = {"true", "false", "1", "0", "yes", "no", "on", "off"};
    for (size_t i = 0; i < sizeof W / sizeof W[0]; i++)
        if (!strcasecmp(s, W[i])) return 1;
    return 0;
}

static int parse_args(int argc, char **argv, const ConfigLoadOptions *opt, Args *a, Err *e) {
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        int used = take_selector(argc, argv, i, a, e);
        if (used < 0) return -1;
        if (used) { i += used - 1; continue; }
        const char *eq = strchr(arg, '=');
        size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
        char flag[256];
        snprintf(flag, sizeof flag, "%.*s", (int)(nlen < 255 ? nlen : 255), arg);
        if (names_have(opt->command_switches, flag)) continue;
        if (names_have(opt->command_flags, flag)) { if (!eq) i++; continue; }
        if (arg[0] == '-' && arg[1] == '-') {
            const char *key = arg + 2;
            if (eq) { add_pair(a, key, (size_t)(eq - key), eq + 1); continue; }
            const OptionDef *d = option_find(key);
            int has_next = i + 1 < argc;
            if (d && d->type == OPT_BOOL && !(has_next && is_bool_word(argv[i + 1]))) {
                add_pair(a, key, strlen(key), "true"); /* a bare flag */
                continue;
            }
            if (!has_next) return err_setc(e, EXIT_USAGE, "%s needs a value", arg), -1;
            add_pair(a, key, strlen(key), argv[++i]);
        } else if (eq && eq != arg && arg[0] != '-') {
            add_pair(a, arg, nlen, eq + 1);
        } else {
            return err_setc(e, EXIT_USAGE, "unexpected argument '%s' (expected key=value, --key value, "
                            "--config FILE, --data FILE, --example NAME or --env NAME)", arg), -1;
        }
    }
    return 0;
}

static void free_args(Args *a) {
    for (int i = 0; i < a->n; i++) { free(a->pairs[i].key); free(a->pairs[i].value); }
    free(a->pairs);
}

/* Folder of packaged presets: option, $SIMPLETUNER_EXAMPLES_DIR, ./examples, <exe dir>/../examples (a
 * build tree: build/simpletuner), <exe dir>/../share/simpletuner/examples (make install). */
char *config_examples_dir(const char *override) {
    if (override) return xstrdup(override);
    const char *env = getenv("SIMPLETUNER_EXAMPLES_DIR");
    if (env && *env) return xstrdup(env);
    if (dir_exists("examples")) return xstrdup("examples");
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        static const char *const BESIDE[] = {"../examples", "../share/simpletuner/examples"};
        char *dir = path_dirname(exe);
        for (size_t i = 0; i < sizeof BESIDE / sizeof *BESIDE; i++) {
            char *up = path_join(dir, BESIDE[i]), real[PATH_MAX];
            if (dir_exists(up)) { free(dir); if (realpath(up, real)) { free(up); return xstrdup(real); } return up; }
            free(up);
        }
        free(dir);
    }
    return xstrdup("examples");
}

/* The config file to read, or "" when there is none and command-line keys stand alone. */
static char *choose_config_file(const Args *a, const char *examples_dir, Err *e) {
    if (a->config) {
        if (!file_exists(a->config)) return err_setc(e, EXIT_USAGE, "config file %s not found", a->config), NULL;
        return xstrdup(a->config);
    }
    if (a->example) {
        char *dir = path_join(examples_dir, a->example), *p = path_join(dir, "config.json");
        free(dir);
        if (file_exists(p)) return p;
        err_setc(e, EXIT_USAGE, "example '%s' not found (looked for %s; `simpletuner examples list` shows the presets)",
                 a->example, p);
        free(p);
        return NULL;
    }
    if (a->env) {
        char *p = xasprintf("config/%s/config.json", a->env);
        if (file_exists(p)) return p;
        err_setc(e, EXIT_USAGE, "environment '%s': %s not found", a->env, p);
        free(p);
        return NULL;
    }
    const char *cp = getenv("CONFIG_PATH"), *envname = getenv("ENV");
    char *tried[4] = {0};
    int nt = 0;
    if (cp && *cp) {
        tried[nt++] = xstrdup(cp);
        if (!strstr(cp, ".json")) tried[nt++] = xasprintf("%s.json", cp);
    }
    if (envname && *envname) tried[nt++] = xasprintf("config/%s/config.json", envname);
    tried[nt++] = xstrdup("config/config.json");
    char *found = NULL;
    for (int i = 0; i < nt; i++)
        if (!found && file_exists(tried[i])) found = xstrdup(tried[i]);
    if (!found && a->n == 0) {
        char list[1024] = "";
        for (int i = 0; i < nt; i++) {
            if (i) strncat(list, ", ", sizeof list - strlen(list) - 1);
            strncat(list, tried[i], sizeof list - strlen(list) - 1);
        }
        err_setc(e, EXIT_USAGE, "no configuration: give --config FILE (looked in %s%s)", list,
                 cp ? "" : "; CONFIG_PATH is not set");
    }
    for (int i = 0; i < nt; i++) free(tried[i]);
    if (!found && a->n == 0) return NULL;
    return found ? found : xstrdup("");
}

static int is_empty_or_null(const cJSON *v) {
    return !v || cJSON_IsNull(v) || (cJSON_IsString(v) && !v->valuestring[0]);
}

int config_set(Config *c, const OptionDef *d, const cJSON *raw, int from_cli, const char *where, Err *e) {
    cJSON *v = config_coerce(d, raw, from_cli, where, e);
    if (!v) return -1;
    config_put(c, option_index(d->name), v, where);
    return 0;
}

/* Legacy keys whose value changes meaning (spec §2.1); returns 1 when handled. */
static int apply_legacy(Config *c, const char *key, const cJSON *raw, int from_cli, const char *where, Err *e, int *rc) {
    const char *target = NULL;
    int invert = 0;
    if (!strcmp(key, "vae_cache_preprocess")) { target = "vae_cache_ondemand"; invert = 1; }
    else if (!strcmp(key, "ignore_final_epochs")) { target = "strict_epoch_limit"; invert = 1; }
    if (!target) return 0;
    const OptionDef *d = option_find(target);
    cJSON *b = config_coerce(d, raw, from_cli, where, e);
    if (!b) { *rc = -1; return 1; }
    int val = cJSON_IsTrue(b);
    cJSON_Delete(b);
    /* vae_cache_preprocess=true is the normal behaviour: nothing to change. */
    if (!strcmp(key, "vae_cache_preprocess") && val) { *rc = 0; return 1; }
    cJSON *nv = cJSON_CreateBool(invert ? !val : val);
    *rc = config_set(c, d, nv, 0, where, e);
    cJSON_Delete(nv);
    return 1;
}

/* An unknown key, kept for the one error that lists them all: with the nearest option, or the
 * command's own flag when that is nearer (`--imag` -> `--image`), when one is within a typo
 * (option_nearest's bound); otherwise with where the list of options is. */
static void note_unknown(Config *c, const char *key, const char *where) {
    const char *best = option_nearest(key), *flag = NULL;
    int best_d = best ? name_distance_below(key, best, 1000) : typo_distance(strlen(key)) + 1;
    for (int k = 0; k < 2; k++)
        for (const char *const *f = k ? c->command_switches : c->command_flags; f && *f; f++) {
            const char *name = *f + strspn(*f, "-");
            int d = name_distance_below(key, name, best_d);
            if (d < best_d) { best_d = d; flag = *f; }
        }
    const char *near = flag ? flag : best;
    char *hint = near ? xasprintf(" (did you mean '%s'?)", near) : xstrdup(" (`simpletuner config show` lists every option)");
    /* grouped by where they were met (the file, then the command line) */
    const char *last = c->unknown_where;
    char *item = last && !strcmp(last, where)   /* same source: ", 'k' (did you mean ...)" */
                     ? xasprintf(", '%s%s'%s", flag ? "--" : "", key, hint)
                     : xasprintf("%s%s: unknown option '%s%s'%s", c->unknown ? "; " : "", where, flag ? "--" : "", key, hint);
    text_append(&c->unknown, "", item);
    free(item); free(hint);
    free(c->unknown_where);
    c->unknown_where = xstrdup(where);
    c->n_unknown++;
}

/* An object value outside the option table. SimpleTuner diverts dict values into "extras" that never
 * reach the trainer (spec §0 trap 6); we keep them: the docs promise model_kwargs.match_target_res,
 * which validation honours. From the command line model_kwargs is JSON text. */
static int apply_extra(Config *c, const char *key, const cJSON *raw, int from_cli, const char *where, Err *e) {
    cJSON *parsed = NULL;
    if (from_cli && cJSON_IsString(raw)) {
        parsed = cJSON_Parse(raw->valuestring);
        if (!cJSON_IsObject(parsed)) {
            cJSON_Delete(parsed);
            return err_setc(e, EXIT_USAGE, "%s: %s expects a JSON object, e.g. %s='{\"match_target_res\": true}', got '%s'", where, key,
                            key, raw->valuestring);
        }
        raw = parsed;
    }
    if (!c->extras) { c->extras = cJSON_CreateObject(); c->extras_source = cJSON_CreateObject(); }
    cJSON_DeleteItemFromObjectCaseSensitive(c->extras, key);
    cJSON_DeleteItemFromObjectCaseSensitive(c->extras_source, key);
    cJSON_AddItemToObject(c->extras, key, cJSON_Duplicate(raw, 1));
    cJSON_AddItemToObject(c->extras_source, key, cJSON_CreateString(where));
    if (!config_extra_read(key) && !(c->dropped && csv_has(c->dropped, key))) text_append(&c->dropped, ", ", key);
    cJSON_Delete(parsed);
    return 0;
}

/* One key = value from a file (from_cli 0) or the command line (from_cli 1, value a string). */
static int apply_entry(Config *c, const char *key, const cJSON *raw, int from_cli, const char *where, Err *e) {
    while (*key == '-') key++;
    int rc;
    if (apply_legacy(c, key, raw, from_cli, where, e, &rc)) return rc;
    const OptionDef *d = option_find(key);
    if ((cJSON_IsObject(raw) && !(d && d->type == OPT_JSON)) || (!d && config_extra_read(key)))
        return apply_extra(c, key, raw, from_cli, where, e);
    if (!d) { note_unknown(c, key, where); return 0; }
    if (is_empty_or_null(raw)) return 0; /* None or "" is skipped: the default applies */
    if (!from_cli && cJSON_IsString(raw) && !strcmp(raw->valuestring, "false")) {
        /* The string "false" is dropped upstream, so the default applies (spec §2.1). */
        if (d->type == OPT_BOOL && !strcmp(d->default_json, "true"))
            log_warn("%s: %s is the string \"false\", which SimpleTuner drops, so the default (true) applies; "
                     "write false without quotes to turn it off", where, d->name);
        return 0;
    }
    return config_set(c, d, raw, from_cli, where, e);
}

static int apply_file(Config *c, const char *path, Err *e) {
    cJSON *root = json_read_config_file(path, e);
    if (!root) return -1;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return err_setc(e, EXIT_USAGE, "%s: expected a JSON object of option names and values", path);
    }
    const cJSON *it;
    int rc = 0;
    cJSON_ArrayForEach(it, root)
        if ((rc = apply_entry(c, it->string, it, 0, path, e))) break;
    cJSON_Delete(root);
    return rc;
}

static int apply_pairs(Config *c, const Args *a, Err *e) {
    for (int i = 0; i < a->n; i++) {
        char *val = env_substitute(a->pairs[i].value, CLI, e);
        if (!val) return -1;
        cJSON *s = cJSON_CreateString(val);
        free(val);
        int rc = apply_entry(c, a->pairs[i].key, s, 1, CLI, e);
        cJSON_Delete(s);
        if (rc) return -1;
    }
    return 0;
}

/* data_backend_config as given, else (SimpleTuner's config/examples/... convention) inside the
 * examples folder, else next to the config file. */
static char *resolve_data_path(const Config *c, const char *given) {
    if (file_exists(given) || given[0] == '/') return xstrdup(given);
    if (!strncmp(given, "config/examples/", 16)) {
        char *p = path_join(c->examples_dir, given + 16);
        if (file_exists(p)) return p;
        free(p);
    }
    if (c->file[0]) {
        char *dir = path_dirname(c->file), *p = path_join(dir, given);
        free(dir);
        if (file_exists(p)) return p;
        free(p);
    }
    return xstrdup(given);
}

/* lora_type=lycoris: lycoris_config resolved like data_backend_config (as given, the examples
 * folder, next to the config file), stored resolved, and read whole so that a bad file stops the
 * load here with its file and key named. */
static int check_lycoris(Config *c, Err *e) {
    const char *lt = config_str(c, "lora_type"), *mt = config_str(c, "model_type");
    if (!lt || strcmp(lt, "lycoris") || !mt || strcmp(mt, "lora")) return 0;
    const char *given = config_str(c, "lycoris_config");
    if (!given || !given[0])
        return err_setc(e, EXIT_USAGE, "%s: lora_type=lycoris needs lycoris_config, the path of a LyCORIS JSON file",
                        config_source(c, "lora_type") ? config_source(c, "lora_type") : "configuration");
    char *path = resolve_data_path(c, given);
    LycorisConfig lc;
    int rc = lycoris_config_load(path, &lc, e);
    if (!rc) {
        lycoris_config_free(&lc);
        if (strcmp(path, given)) config_put(c, config_index("lycoris_config"), cJSON_CreateString(path), NULL);
    }
    free(path);
    return rc;
}

static int load_into(Config *c, int argc, char **argv, const ConfigLoadOptions *opt, Err *e) {
    Args a = {0};
    int rc = -1;
    if (parse_args(argc, argv, opt, &a, e)) goto done;
    c->examples_dir = config_examples_dir(opt->examples_dir);
    char *file = opt->args_only ? xstrdup("") : choose_config_file(&a, c->examples_dir, e);
    if (!file) goto done;
    free(c->file);
    c->file = file;
    /* a file found by looking (CONFIG_PATH, ENV, config/config.json) is named: it may not be the expected one */
    if (file[0] && !a.config && !a.example && !a.env && !opt->quiet) log_info("using %s (no --config given)", file);
    if (file[0] && strstr(file, ".json") == NULL && (strstr(file, ".toml") || strstr(file, ".env"))) {
        err_setc(e, EXIT_USAGE, "%s: not supported yet: TOML and .env configuration files (use config.json)", file);
        goto done;
    }
    c->command_flags = opt->command_flags;
    c->command_switches = opt->command_switches;
    if (file[0] && apply_file(c, file, e)) goto done;
    if (apply_pairs(c, &a, e)) goto done;
    if (c->unknown) {
        err_setc(e, EXIT_USAGE, "%s", c->unknown);
        goto done;
    }
    if (a.data) {
        cJSON *s = cJSON_CreateString(a.data);
        rc = config_set(c, option_find("data_backend_config"), s, 1, CLI, e);
        cJSON_Delete(s);
        if (rc) goto done;
        rc = -1;
    }
    const char *data = config_str(c, "data_backend_config");
    if (data) { free(c->data_file); c->data_file = resolve_data_path(c, data); }
    if (config_apply_rules(c, !opt->allow_missing_required, e)) goto done;
    if (config_check_support(c, e)) goto done;
    if (check_lycoris(c, e)) goto done;
    if (!opt->skip_datasets && c->data_file[0] && config_load_datasets(c, e)) goto done;
    if (!opt->quiet && c->dropped)
        log_info("ignored, no effect here (SimpleTuner drops object values): %s", c->dropped);
    rc = 0;
done:
    free_args(&a);
    return rc;
}

int config_load_with(Config **out, int argc, char **argv, const ConfigLoadOptions *opt, Err *e) {
    static const ConfigLoadOptions DEFAULTS = {0};
    Config *c = config_new();
    c->quiet = opt ? opt->quiet : 0;
    *out = NULL;
    if (load_into(c, argc, argv, opt ? opt : &DEFAULTS, e)) {
        if (!e->code) e->code = EXIT_USAGE;
        config_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

int config_load(Config **out, int argc, char **argv, Err *e) { return config_load_with(out, argc, argv, NULL, e); }

int config_from_pairs(Config **out, const char *const *keys, const char *const *values, int n, Err *e) {
    char **argv = xcalloc((size_t)(n > 0 ? n : 1), sizeof *argv);
    for (int i = 0; i < n; i++) argv[i] = xasprintf("%s=%s", keys[i], values[i]);
    ConfigLoadOptions opt = {0};
    opt.args_only = 1; opt.skip_datasets = 1; opt.quiet = 1; opt.allow_missing_required = 1;
    int rc = config_load_with(out, n, argv, &opt, e);
    for (int i = 0; i < n; i++) free(argv[i]);
    free(argv);
    return rc;
}
