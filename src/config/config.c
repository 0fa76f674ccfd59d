/* config.c — the Config store: defaults, user values, getters. Loading lives in config_load.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config/config_internal.h"

int config_index(const char *key) {
    const OptionDef *d = option_find(key);
    if (!d || strcmp(d->name, key[0] == '-' ? key + strspn(key, "-") : key)) {
        /* Code asked for a name that is not canonical: a bug, never a user error. */
        fprintf(stderr, "internal error: configuration key '%s' is not a canonical option name%s%s\n", key,
                d ? "; use " : "", d ? d->name : "");
        abort();
    }
    return (int)(d - OPTION_TABLE);
}

Config *config_new(void) {
    Config *c = xcalloc(1, sizeof *c);
    c->value = xcalloc((size_t)OPTION_COUNT, sizeof *c->value);
    c->defaults = xcalloc((size_t)OPTION_COUNT, sizeof *c->defaults);
    c->source = xcalloc((size_t)OPTION_COUNT, sizeof *c->source);
    c->text = xcalloc((size_t)OPTION_COUNT, sizeof *c->text);
    for (int i = 0; i < OPTION_COUNT; i++) c->defaults[i] = cJSON_Parse(OPTION_TABLE[i].default_json);
    c->file = xstrdup("");
    c->data_file = xstrdup("");
    return c;
}

void config_free(Config *c) {
    if (!c) return;
    for (int i = 0; i < OPTION_COUNT; i++) {
        cJSON_Delete(c->value[i]);
        cJSON_Delete(c->defaults[i]);
        free(c->source[i]);
        free(c->text[i]);
    }
    free(c->value); free(c->defaults); free(c->source); free(c->text);
    config_free_datasets(c);
    cJSON_Delete(c->data_root);
    free(c->file); free(c->data_file); free(c->examples_dir); free(c->dropped); free(c->ignored); cJSON_Delete(c->extras);
    free(c);
}

const cJSON *config_value(const Config *c, int idx) {
    const cJSON *v = c->value[idx] ? c->value[idx] : c->defaults[idx];
    return (v && !cJSON_IsNull(v)) ? v : NULL;
}

void config_put(Config *c, int idx, cJSON *v, const char *source) {
    cJSON_Delete(c->value[idx]);
    c->value[idx] = v;
    if (source) { free(c->source[idx]); c->source[idx] = xstrdup(source); }
    free(c->text[idx]);
    c->text[idx] = NULL;
}

/* Text form of a value for config_str: strings as they are, lists joined by ",". */
static char *value_to_str(const cJSON *v) {
    if (!cJSON_IsArray(v)) return config_value_text(v);
    size_t cap = 64, n = 0;
    char *out = xmalloc(cap);
    out[0] = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, v) {
        char *t = config_value_text(it);
        size_t len = strlen(t);
        if (n + len + 2 > cap) { cap = 2 * (n + len + 2); out = xrealloc(out, cap); }
        if (n) out[n++] = ',';
        memcpy(out + n, t, len + 1);
        n += len;
        free(t);
    }
    return out;
}

const char *config_str(const Config *c, const char *key) {
    int i = config_index(key);
    const cJSON *v = config_value(c, i);
    if (!v) return NULL;
    if (cJSON_IsString(v)) return v->valuestring;
    /* The cache is filled lazily; it is logically part of the value, so casting away const is safe
     * (a Config is not shared between threads while it is being read for the first time). */
    Config *mut = (Config *)c;
    if (!mut->text[i]) mut->text[i] = value_to_str(v);
    return mut->text[i];
}

double config_num(const Config *c, const char *key) {
    const cJSON *v = config_value(c, config_index(key));
    if (!v) return NAN;
    if (cJSON_IsNumber(v)) return v->valuedouble;
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    if (cJSON_IsString(v)) { char *end; double x = strtod(v->valuestring, &end); return *end ? NAN : x; }
    return NAN;
}

long config_int(const Config *c, const char *key) {
    double x = config_num(c, key);
    return isnan(x) ? 0 : (long)x;
}

int config_bool(const Config *c, const char *key) {
    const cJSON *v = config_value(c, config_index(key));
    if (!v) return 0;
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    if (cJSON_IsNumber(v)) return v->valuedouble != 0;
    if (cJSON_IsString(v)) return v->valuestring[0] && strcmp(v->valuestring, "false") && strcmp(v->valuestring, "0");
    return 1;
}

int config_has(const Config *c, const char *key) { return config_value(c, config_index(key)) != NULL; }
int config_is_set(const Config *c, const char *key) { return c->source[config_index(key)] != NULL; }
const cJSON *config_json(const Config *c, const char *key) { return config_value(c, config_index(key)); }
const char *config_source(const Config *c, const char *key) { return c->source[config_index(key)]; }
const char *config_file(const Config *c) { return c->file; }
const char *config_data_file(const Config *c) { return c->data_file; }

const char *config_ignored(const Config *c) { return c->ignored; }

const char *config_mark(const Config *c, const char *key) {
    int i = config_index(key);
    if (!c->source[i]) return "default";
    OptionSupport s = option_support(key);
    if (s == SUPPORT_IMPLEMENTED) return "implemented";
    if (s == SUPPORT_INERT) return "ignored";
    return "default"; /* unsupported options only load when given their default value */
}

int megapixel_edge(double mp) {
    /* SimpleTuner (cmd_args.py): an integer N < 128 is N megapixels; 1 -> 1024, else N*1000 rounded
     * down to a multiple of 8. A fraction (0.5) is read as an area: the square edge, snapped to 8. */
    if (mp == floor(mp)) return mp == 1 ? 1024 : (int)(mp * 1000) / 8 * 8;
    return (int)(sqrt(mp * 1e6) / 8.0 + 0.5) * 8;
}

/* A plain decimal (digits, optional fraction): no sign, exponent, hex or words. */
static int parse_plain(const char *s, const char **end, double *out) {
    const char *p = s;
    while (*p >= '0' && *p <= '9') p++;
    if (*p == '.') { p++; while (*p >= '0' && *p <= '9') p++; }
    if (p == s || (p == s + 1 && *s == '.') || p - s > 12) return -1;
    char buf[16];
    memcpy(buf, s, (size_t)(p - s)); buf[p - s] = 0;
    *out = strtod(buf, NULL);
    *end = p;
    return 0;
}

/* "WxH" (whole numbers), "N" (a square edge in pixels, whole, >= 128) or a megapixel count (< 128);
 * every side in [16, 16384]. Anything else (1024*768, 512x, 1e9x1e9, 0x10) is refused. */
static int parse_resolution(const char *s, int wh[2]) {
    const char *end;
    double a, b;
    if (parse_plain(s, &end, &a)) return -1;
    if (*end == 'x' || *end == 'X') {
        const char *end2;
        if (parse_plain(end + 1, &end2, &b) || *end2) return -1;
        if (a != floor(a) || b != floor(b) || a < 16 || b < 16 || a > 16384 || b > 16384) return -1;
        wh[0] = (int)a; wh[1] = (int)b;
        return 0;
    }
    if (*end || a <= 0) return -1;
    if (a >= 128 && (a != floor(a) || a > 16384)) return -1;
    wh[0] = wh[1] = a < 128 ? megapixel_edge(a) : (int)a;
    return wh[0] >= 16 && wh[0] <= 16384 ? 0 : -1;
}

int config_validation_resolutions(const Config *c, int (*wh)[2], int max, Err *e) {
    const char *s = config_str(c, "validation_resolution");
    if (!s) return 0;
    char *copy = xstrdup(s), *save = NULL;
    int n = 0;
    for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        int r[2];
        if (parse_resolution(tok, r)) {
            err_setc(e, EXIT_USAGE, "%s: validation_resolution '%s': '%s' is not WxH (whole numbers, 16..16384), a pixel edge "
                                    "(128..16384) or megapixels (below 128)",
                     config_source(c, "validation_resolution") ? config_source(c, "validation_resolution") : "default",
                     s, tok);
            free(copy);
            return -1;
        }
        if (n < max) { wh[n][0] = r[0]; wh[n][1] = r[1]; }
        n++;
    }
    free(copy);
    return n < max ? n : max;
}

const cJSON *config_extra(const Config *c, const char *key) {
    return c->extras ? cJSON_GetObjectItemCaseSensitive(c->extras, key) : NULL;
}
