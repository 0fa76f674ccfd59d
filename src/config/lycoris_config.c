/* lycoris_config.c — see lycoris_config.h. */
#include "config/lycoris_config.h"
#include "base/files.h"
#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const ALGOS = "lokr, loha, lora, locon";
static const char *const OTHER_ALGOS[] = {"dylora", "glora", "glokr", "full", "diag-oft", "boft", "ia3", NULL};
static const char *const PRESETS[] = {"full", "full-lin", "attn-mlp", "attn-only", "unet-only", "unet-transformer-only",
                                      "unet-convblock-only", NULL};

static int in_list(const char *const *list, const char *s) {
    for (int i = 0; list[i]; i++) if (!strcmp(list[i], s)) return 1;
    return 0;
}

static void note(LycorisConfig *c, const char *fmt, const char *a, const char *b) {
    char msg[512];
    snprintf(msg, sizeof msg, fmt, a, b);
    if (!c->warnings) { c->warnings = xstrdup(msg); return; }
    char *w = xasprintf("%s; %s", c->warnings, msg);
    free(c->warnings);
    c->warnings = w;
}

/* ---- typed reads (where = "key" or "apply_preset.module_algo_map.Attention.factor") ---- */

static int fail(const LycorisConfig *c, Err *e, const char *where, const char *what) {
    return err_setc(e, EXIT_USAGE, "lycoris_config %s: '%s' %s", c->path, where, what);
}

static int read_bool(const LycorisConfig *c, const cJSON *v, const char *where, int *out, Err *e) {
    if (cJSON_IsBool(v)) { *out = cJSON_IsTrue(v); return 0; }
    return fail(c, e, where, "must be true or false (LyCORIS reads 0, null and \"false\"-like values inconsistently; write a JSON boolean)");
}

static int read_number(const LycorisConfig *c, const cJSON *v, const char *where, double *out, Err *e) {
    if (cJSON_IsNumber(v) && isfinite(v->valuedouble)) { *out = v->valuedouble; return 0; }
    return fail(c, e, where, "must be a number");
}

static int read_int(const LycorisConfig *c, const cJSON *v, const char *where, int *out, Err *e) {
    double d = 0;
    if (read_number(c, v, where, &d, e)) return -1;
    if (d != floor(d) || fabs(d) > 1e9) return fail(c, e, where, "must be a whole number");
    *out = (int)d;
    return 0;
}

static int read_prob(const LycorisConfig *c, const cJSON *v, const char *where, double *out, Err *e) {
    if (cJSON_IsNull(v)) { *out = 0; return 0; }   /* LyCORIS: float(x or 0.0) */
    if (read_number(c, v, where, out, e)) return -1;
    if (!(*out >= 0 && *out < 1)) return fail(c, e, where, "must be a probability in [0, 1)");
    return 0;
}

static int read_algo(const LycorisConfig *c, const cJSON *v, const char *where, char *out, Err *e) {
    if (!cJSON_IsString(v)) return fail(c, e, where, "must be a string (lokr, loha, lora or locon)");
    char low[32];
    size_t n = strlen(v->valuestring);
    if (n >= sizeof low) n = sizeof low - 1;
    for (size_t i = 0; i < n; i++) low[i] = (char)tolower((unsigned char)v->valuestring[i]);
    low[n] = 0;
    if (!strcmp(low, "lokr") || !strcmp(low, "loha") || !strcmp(low, "lora") || !strcmp(low, "locon")) { strcpy(out, low); return 0; }
    char msg[160];
    snprintf(msg, sizeof msg, "is '%s': %s (supported: %s)", v->valuestring, in_list(OTHER_ALGOS, low) ? "not supported yet" : "not a LyCORIS algorithm",
             ALGOS);
    return fail(c, e, where, msg);
}

static int read_strings(const LycorisConfig *c, const cJSON *v, const char *where, char ***out, int *n, Err *e) {
    if (!cJSON_IsArray(v)) return fail(c, e, where, "must be a list of strings");
    for (const cJSON *it = v->child; it; it = it->next)
        if (!cJSON_IsString(it)) return fail(c, e, where, "must be a list of strings");
    *n = cJSON_GetArraySize(v);
    *out = xcalloc((size_t)(*n ? *n : 1), sizeof **out);
    int i = 0;
    for (const cJSON *it = v->child; it; it = it->next) (*out)[i++] = xstrdup(it->valuestring);
    return 0;
}

/* One algo-map entry: the keys LyCORIS' module constructors take from it. */
static int read_entry(LycorisConfig *c, const cJSON *obj, const char *where, LycorisEntry *en, Err *e) {
    char w[384];
    if (!cJSON_IsObject(obj)) return fail(c, e, where, "must be an object of LyCORIS module settings");
    memset(en, 0, sizeof *en);
    for (const cJSON *it = obj->child; it; it = it->next) {
        const char *k = it->string;
        snprintf(w, sizeof w, "%s.%s", where, k);
        int b = 0, rc = 0;
        if (!strcmp(k, "algo")) { rc = read_algo(c, it, w, en->algo, e); en->set |= LYK_ALGO; }
        else if (!strcmp(k, "dim")) {
            if (cJSON_IsNull(it)) continue;
            rc = read_int(c, it, w, &en->dim, e);
            if (!rc && en->dim < 0) rc = fail(c, e, w, "must be a rank >= 0 (0 falls back to linear_dim)");
            en->set |= LYK_DIM;
        } else if (!strcmp(k, "alpha")) {
            if (cJSON_IsNull(it)) continue;
            rc = read_number(c, it, w, &en->alpha, e);
            en->set |= LYK_ALPHA;
        } else if (!strcmp(k, "factor")) { rc = read_int(c, it, w, &en->factor, e); en->set |= LYK_FACTOR; }
        else if (!strcmp(k, "full_matrix")) { rc = read_bool(c, it, w, &en->full_matrix, e); en->set |= LYK_FULL_MATRIX; }
        else if (!strcmp(k, "decompose_both")) { rc = read_bool(c, it, w, &en->decompose_both, e); en->set |= LYK_DECOMPOSE_BOTH; }
        else if (!strcmp(k, "use_scalar")) { rc = read_bool(c, it, w, &en->use_scalar, e); en->set |= LYK_USE_SCALAR; }
        else if (!strcmp(k, "rs_lora")) { rc = read_bool(c, it, w, &en->rs_lora, e); en->set |= LYK_RS_LORA; }
        else if (!strcmp(k, "bypass_mode")) { rc = read_bool(c, it, w, &en->bypass_mode, e); en->set |= LYK_BYPASS; }
        else if (!strcmp(k, "rank_dropout_scale")) { rc = read_bool(c, it, w, &en->rank_dropout_scale, e); en->set |= LYK_RANK_DROPOUT_SCALE; }
        else if (!strcmp(k, "unbalanced_factorization")) { rc = read_bool(c, it, w, &en->unbalanced_factorization, e); en->set |= LYK_UNBALANCED; }
        else if (!strcmp(k, "weight_decompose") || !strcmp(k, "dora_wd")) {
            rc = read_bool(c, it, w, &b, e);
            if (!rc && b) rc = fail(c, e, w, "is true: not supported yet (DoRA weight decomposition)");
        } else if (!strcmp(k, "use_tucker") || !strcmp(k, "use_cp") || !strcmp(k, "wd_on_out")) {
            rc = read_bool(c, it, w, &b, e);   /* convolutions only / DoRA only: no effect on these models */
        } else if (!strcmp(k, "dropout") || !strcmp(k, "rank_dropout") || !strcmp(k, "module_dropout"))
            rc = fail(c, e, w, "cannot be set per module (LyCORIS passes the top-level dropouts to every module); set it at the top level");
        else if (!strcmp(k, "block_size") || !strcmp(k, "constraint") || !strcmp(k, "rescaled")) continue;   /* OFT only */
        else
            rc = fail(c, e, w, "is not a LyCORIS module setting (expected algo, dim, alpha, factor, full_matrix, decompose_both, use_scalar, "
                               "rs_lora, bypass_mode, rank_dropout_scale, unbalanced_factorization)");
        if (rc) return -1;
    }
    return 0;
}

static int read_map(LycorisConfig *c, const cJSON *v, const char *where, LycorisMapItem **out, int *n, Err *e) {
    if (!cJSON_IsObject(v)) return fail(c, e, where, "must be an object mapping names to module settings");
    *n = cJSON_GetArraySize(v);
    *out = xcalloc((size_t)(*n ? *n : 1), sizeof **out);
    int i = 0;
    char w[320];
    for (const cJSON *it = v->child; it; it = it->next, i++) {
        (*out)[i].key = xstrdup(it->string);
        snprintf(w, sizeof w, "%s.%s", where, it->string);
        if (read_entry(c, it, w, &(*out)[i].entry, e)) return -1;
    }
    return 0;
}

static int read_preset(LycorisConfig *c, const cJSON *p, Err *e) {
    if (!cJSON_IsObject(p)) return fail(c, e, "apply_preset", "must be an object (target_module, target_name, module_algo_map, ...)");
    for (const cJSON *it = p->child; it; it = it->next) {
        const char *k = it->string;
        char w[160];
        snprintf(w, sizeof w, "apply_preset.%s", k);
        int rc = 0;
        if (!strcmp(k, "target_module")) { if (cJSON_IsNull(it)) continue; rc = read_strings(c, it, w, &c->target_module, &c->n_target_module, e); }
        else if (!strcmp(k, "target_name")) rc = read_strings(c, it, w, &c->target_name, &c->n_target_name, e);
        else if (!strcmp(k, "exclude_name")) rc = read_strings(c, it, w, &c->exclude_name, &c->n_exclude_name, e);
        else if (!strcmp(k, "module_algo_map")) rc = read_map(c, it, w, &c->module_map, &c->n_module_map, e);
        else if (!strcmp(k, "name_algo_map")) rc = read_map(c, it, w, &c->name_map, &c->n_name_map, e);
        else if (!strcmp(k, "use_fnmatch")) rc = read_bool(c, it, w, &c->use_fnmatch, e);
        else if (!strcmp(k, "lora_prefix")) {
            if (!cJSON_IsString(it) || !it->valuestring[0] || strlen(it->valuestring) >= sizeof c->lora_prefix || strpbrk(it->valuestring, ". "))
                rc = fail(c, e, w, "must be a short name without dots or spaces (default \"lycoris\")");
            else snprintf(c->lora_prefix, sizeof c->lora_prefix, "%s", it->valuestring);
        } else if (!strcmp(k, "enable_conv") || !strcmp(k, "unet_target_module") || !strcmp(k, "unet_target_name") ||
                   !strcmp(k, "text_encoder_target_module") || !strcmp(k, "text_encoder_target_name"))
            continue;   /* valid keys LyCORIS' apply_preset does not act on for a transformer (no convolutions here) */
        else
            rc = fail(c, e, w, "is not a preset key (LyCORIS accepts enable_conv, target_module, target_name, module_algo_map, name_algo_map, "
                               "lora_prefix, use_fnmatch, exclude_name)");
        if (rc) return -1;
    }
    return 0;
}

/* int() of a number as SimpleTuner applies it, with a note when it changes the value. */
static int read_truncated(LycorisConfig *c, const cJSON *v, const char *key, double *out, Err *e) {
    double d = 0;
    if (read_number(c, v, key, &d, e)) return -1;
    *out = trunc(d);
    if (*out != d) {
        char a[64], b[64];
        snprintf(a, sizeof a, "%s %g", key, d); snprintf(b, sizeof b, "%g", *out);
        note(c, "%s is cut to %s, as SimpleTuner casts it with int()", a, b);
    }
    return 0;
}

static int parse(LycorisConfig *c, const cJSON *j, Err *e) {
    if (!cJSON_IsObject(j)) return err_setc(e, EXIT_USAGE, "lycoris_config %s: expected a JSON object of LyCORIS settings", c->path);
    static const char *const REQUIRED[] = {"algo", "multiplier", "linear_alpha"};
    for (int i = 0; i < 3; i++)
        if (!cJSON_GetObjectItemCaseSensitive(j, REQUIRED[i]))
            return err_setc(e, EXIT_USAGE, "lycoris_config %s: missing key '%s' (SimpleTuner requires algo, multiplier, linear_alpha, and "
                            "linear_dim unless full_matrix is true)", c->path, REQUIRED[i]);
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "full_matrix")) && !cJSON_GetObjectItemCaseSensitive(j, "linear_dim"))
        return err_setc(e, EXIT_USAGE, "lycoris_config %s: missing key 'linear_dim' (required unless full_matrix is true)", c->path);
    c->linear_dim = 4;
    c->root.factor = -1;
    snprintf(c->lora_prefix, sizeof c->lora_prefix, "lycoris");
    for (const cJSON *it = j->child; it; it = it->next) {
        const char *k = it->string;
        int rc = 0, b = 0;
        double d = 0;
        if (!strcmp(k, "algo")) rc = read_algo(c, it, k, c->algo, e);
        else if (!strcmp(k, "multiplier")) rc = read_truncated(c, it, k, &c->multiplier, e);
        else if (!strcmp(k, "linear_alpha")) rc = read_truncated(c, it, k, &c->linear_alpha, e);
        else if (!strcmp(k, "linear_dim")) {
            if (!(rc = read_truncated(c, it, k, &d, e))) {
                if (d < 1 || d > 1e8) rc = fail(c, e, k, "must be a rank of at least 1");
                else c->linear_dim = (int)d;
            }
        } else if (!strcmp(k, "factor")) { rc = read_int(c, it, k, &c->root.factor, e); c->root.set |= LYK_FACTOR; }
        else if (!strcmp(k, "full_matrix")) { rc = read_bool(c, it, k, &c->root.full_matrix, e); c->root.set |= LYK_FULL_MATRIX; }
        else if (!strcmp(k, "decompose_both")) { rc = read_bool(c, it, k, &c->root.decompose_both, e); c->root.set |= LYK_DECOMPOSE_BOTH; }
        else if (!strcmp(k, "use_scalar")) { rc = read_bool(c, it, k, &c->root.use_scalar, e); c->root.set |= LYK_USE_SCALAR; }
        else if (!strcmp(k, "bypass_mode")) { rc = read_bool(c, it, k, &c->root.bypass_mode, e); c->root.set |= LYK_BYPASS; }
        else if (!strcmp(k, "unbalanced_factorization")) { rc = read_bool(c, it, k, &c->root.unbalanced_factorization, e); c->root.set |= LYK_UNBALANCED; }
        else if (!strcmp(k, "dropout")) rc = read_prob(c, it, k, &c->dropout, e);
        else if (!strcmp(k, "rank_dropout")) rc = read_prob(c, it, k, &c->rank_dropout, e);
        else if (!strcmp(k, "module_dropout")) rc = read_prob(c, it, k, &c->module_dropout, e);
        else if (!strcmp(k, "apply_preset")) { if (!cJSON_IsNull(it)) rc = read_preset(c, it, e); }
        else if (!strcmp(k, "preset")) {
            if (!cJSON_IsString(it)) rc = fail(c, e, k, "must be the name of a LyCORIS preset");
            else if (!in_list(PRESETS, it->valuestring))
                rc = fail(c, e, k, "names no built-in LyCORIS preset (full, full-lin, attn-mlp, attn-only, unet-only, unet-transformer-only, "
                                   "unet-convblock-only); preset files are not supported yet: use apply_preset");
            /* the built-in presets only switch convolutions on or off: nothing to do for a transformer */
        } else if (!strcmp(k, "dora_wd")) {
            if (!(rc = read_bool(c, it, k, &b, e)) && b) rc = fail(c, e, k, "is true: not supported yet (DoRA weight decomposition)");
        } else if (!strcmp(k, "train_norm")) {
            if (!(rc = read_bool(c, it, k, &b, e)) && b) rc = fail(c, e, k, "is true: not supported yet (training normalisation layers)");
        } else if (!strcmp(k, "tlora_min_rank") || !strcmp(k, "tlora_alpha"))
            rc = fail(c, e, k, "is set: not supported yet (SimpleTuner's T-LoRA)");
        else if (!strcmp(k, "conv_dim") || !strcmp(k, "conv_alpha") || !strcmp(k, "block_size") || !strcmp(k, "constraint")) {
            if (!cJSON_IsNull(it)) rc = read_number(c, it, k, &d, e);   /* convolutions / OFT only */
        } else if (!strcmp(k, "use_tucker") || !strcmp(k, "use_cp") || !strcmp(k, "use_conv_cp") || !strcmp(k, "disable_conv_cp") ||
                   !strcmp(k, "wd_on_output") || !strcmp(k, "rescaled"))
            rc = read_bool(c, it, k, &b, e);   /* convolutions / DoRA / OFT only: no effect on these models */
        else if (!strcmp(k, "rs_lora") || !strcmp(k, "weight_decompose") || !strcmp(k, "rank_dropout_scale") || !strcmp(k, "wd_on_out"))
            note(c, "top-level '%s' has no effect%s (LyCORIS reads it only inside module_algo_map / name_algo_map entries)", k,
                 !strcmp(k, "weight_decompose") ? "; DoRA is dora_wd" : "");
        else
            rc = fail(c, e, k, "is not a LyCORIS setting (expected algo, multiplier, linear_dim, linear_alpha, factor, full_matrix, decompose_both, "
                               "use_scalar, bypass_mode, dropout, rank_dropout, module_dropout, apply_preset, ...)");
        if (rc) return -1;
    }
    if (c->multiplier == 0)
        return err_setc(e, EXIT_USAGE, "lycoris_config %s: 'multiplier' is 0 after SimpleTuner's int() cast: the adapters would have no effect "
                        "and learn nothing (use a whole number such as 1)", c->path);
    return 0;
}

int lycoris_config_load(const char *path, LycorisConfig *c, Err *e) {
    memset(c, 0, sizeof *c);
    c->path = xstrdup(path);
    Err fe = {0};
    c->text = file_read_all(path, NULL, &fe);
    if (!c->text) { lycoris_config_free(c); return err_setc(e, EXIT_USAGE, "lycoris_config: %s", fe.msg); }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithOpts(c->text, &end, 1);
    if (!j) {
        size_t off = end ? (size_t)(end - c->text) : 0;
        err_setc(e, EXIT_USAGE, "lycoris_config %s: not valid JSON (near byte %zu)", path, off);
        lycoris_config_free(c);
        return -1;
    }
    int rc = parse(c, j, e);
    cJSON_Delete(j);
    if (rc) lycoris_config_free(c);
    return rc;
}

static void free_strings(char **v, int n) {
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

static void free_map(LycorisMapItem *m, int n) {
    for (int i = 0; i < n; i++) free(m[i].key);
    free(m);
}

void lycoris_config_free(LycorisConfig *c) {
    free(c->path); free(c->text); free(c->warnings);
    free_strings(c->target_module, c->n_target_module);
    free_strings(c->target_name, c->n_target_name);
    free_strings(c->exclude_name, c->n_exclude_name);
    free_map(c->module_map, c->n_module_map);
    free_map(c->name_map, c->n_name_map);
    memset(c, 0, sizeof *c);
}
