/* config_value.c — turning what the user wrote into a value of the option's type.
 *
 * SimpleTuner turns every config.json entry into an argparse argument, so the same text is accepted
 * from a file or the command line: numbers may be written as strings ("1e-4"), booleans as
 * true/false/1/0/yes/no on the command line, and text options take numbers ("validation_resolution":
 * 1024). What argparse would reject (a word where a number is expected, a value outside a closed list
 * of choices) is an error naming the option, the value and what was expected. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "config/config_internal.h"

char *config_value_text(const cJSON *v) {
    if (!v || cJSON_IsNull(v)) return xstrdup("null");
    if (cJSON_IsString(v)) return xstrdup(v->valuestring);
    if (cJSON_IsBool(v)) return xstrdup(cJSON_IsTrue(v) ? "true" : "false");
    if (cJSON_IsNumber(v)) {
        double x = v->valuedouble;
        if (x == floor(x) && fabs(x) < 1e15) return xasprintf("%.0f", x);
        return xasprintf("%.10g", x);
    }
    return cJSON_PrintUnformatted(v);
}

static int parse_bool_word(const char *s, int *out) {
    static const char *const T[] = {"true", "1", "yes", "on"}, *const F[] = {"false", "0", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(s, T[i])) { *out = 1; return 0; }
        if (!strcasecmp(s, F[i])) { *out = 0; return 0; }
    }
    return -1;
}

/* A finite decimal number as JSON writes one (optional sign, digits, fraction, exponent): strtod
 * alone would also take "inf", "nan", "0x10" and overflow 1e999 to infinity. */
static int parse_number(const char *s, double *out) {
    char *end;
    while (*s == ' ') s++;
    const char *p = s + (*s == '-' || *s == '+');
    int digits = 0;
    while (*p >= '0' && *p <= '9') p++, digits++;
    if (*p == '.') for (p++; *p >= '0' && *p <= '9'; p++) digits++;
    if (!digits) return -1;
    if (*p == 'e' || *p == 'E') {
        p += 1 + (p[1] == '-' || p[1] == '+');
        if (*p < '0' || *p > '9') return -1;
        while (*p >= '0' && *p <= '9') p++;
    }
    double x = strtod(s, &end);
    if (end != p || !isfinite(x)) return -1;
    while (*end == ' ') end++;
    if (*end) return -1;
    *out = x;
    return 0;
}

static cJSON *type_error(const OptionDef *d, const cJSON *raw, const char *where, Err *e) {
    char *got = cJSON_PrintUnformatted(raw);
    err_setc(e, EXIT_USAGE, "%s: option '%s' expects %s, got %s", where, d->name, option_type_name(d->type), got);
    free(got);
    return NULL;
}

/* A closed list of choices: the value must equal one of them (strings compare as text, so a number
 * written as a string still matches a numeric choice). */
static cJSON *check_choices(const OptionDef *d, cJSON *v, const char *where, Err *e) {
    if (!d->choices_json) return v;
    cJSON *choices = cJSON_Parse(d->choices_json);
    char *want = config_value_text(v);
    cJSON *match = NULL, *ch;
    cJSON_ArrayForEach(ch, choices) {
        char *t = config_value_text(ch);
        if (!strcmp(t, want)) match = ch;
        free(t);
        if (match) break;
    }
    if (match) {
        cJSON *typed = cJSON_Duplicate(match, 1);
        cJSON_Delete(choices); free(want); cJSON_Delete(v);
        return typed;
    }
    char list[1024] = "";
    cJSON_ArrayForEach(ch, choices) {
        char *t = config_value_text(ch);
        if (strlen(list) + strlen(t) + 3 < sizeof list) { if (list[0]) strcat(list, ", "); strcat(list, t); }
        free(t);
    }
    err_setc(e, EXIT_USAGE, "%s: option '%s' has value '%s'; expected one of: %s", where, d->name, want, list);
    cJSON_Delete(choices); free(want); cJSON_Delete(v);
    return NULL;
}

static cJSON *coerce_bool(const OptionDef *d, const cJSON *raw, const char *where, Err *e) {
    int b;
    if (cJSON_IsBool(raw)) return cJSON_CreateBool(cJSON_IsTrue(raw));
    if (cJSON_IsNumber(raw) && (raw->valuedouble == 0 || raw->valuedouble == 1)) return cJSON_CreateBool(raw->valuedouble != 0);
    if (cJSON_IsString(raw) && parse_bool_word(raw->valuestring, &b) == 0) return cJSON_CreateBool(b);
    return type_error(d, raw, where, e);
}

static cJSON *coerce_number(const OptionDef *d, const cJSON *raw, const char *where, Err *e) {
    double x = 0;
    if (cJSON_IsNumber(raw)) x = raw->valuedouble;
    else if (cJSON_IsString(raw) && parse_number(raw->valuestring, &x)) {
        char *end;
        strtod(raw->valuestring, &end);   /* inf, nan, 0x10, 1e999: numbers to C, not to a config */
        if (end == raw->valuestring || *end) return type_error(d, raw, where, e);
        err_setc(e, EXIT_USAGE, "%s: option '%s' expects a finite decimal number, got \"%s\"", where, d->name, raw->valuestring);
        return NULL;
    } else if (!cJSON_IsString(raw)) return type_error(d, raw, where, e);
    if (!isfinite(x)) {   /* 1e999 in a JSON file parses to infinity */
        err_setc(e, EXIT_USAGE, "%s: option '%s' expects a finite number, got %s", where, d->name,
                 cJSON_IsString(raw) ? raw->valuestring : "a number too large for a double");
        return NULL;
    }
    /* the range before any integer conversion: 2^31 must not wrap into a negative rank */
    const OptionRange *r = option_range(d->name);
    int below = r && (x < r->min || (r->min_exclusive && x == r->min)), above = r && (x > r->max || (r->max_exclusive && x == r->max));
    if (r && (below || above || (r->integer && x != floor(x)))) {
        char *got = cJSON_IsString(raw) ? xstrdup(raw->valuestring) : cJSON_PrintUnformatted(raw);
        err_setc(e, EXIT_USAGE, "%s: option '%s' expects %s in %c%.17g, %.17g%c, got %s", where, d->name,
                 r->integer ? "a whole number" : "a number", r->min_exclusive ? '(' : '[', r->min, r->max, r->max_exclusive ? ')' : ']', got);
        free(got);
        return NULL;
    }
    return cJSON_CreateNumber(x);
}

static cJSON *coerce_text(const OptionDef *d, const cJSON *raw, const char *where, Err *e) {
    if (cJSON_IsString(raw)) return cJSON_CreateString(raw->valuestring);
    if (cJSON_IsNumber(raw)) {
        char *t = config_value_text(raw);
        cJSON *v = cJSON_CreateString(t);
        free(t);
        return v;
    }
    if (cJSON_IsBool(raw)) /* false becomes --key=false upstream: the text "false" */
        return cJSON_CreateString(cJSON_IsTrue(raw) ? "true" : "false");
    if (cJSON_IsArray(raw)) { /* argparse repeats the flag; lists are kept for the consumer */
        const cJSON *it;
        cJSON_ArrayForEach(it, raw)
            if (!cJSON_IsString(it) && !cJSON_IsNumber(it)) return type_error(d, raw, where, e);
        return cJSON_Duplicate(raw, 1);
    }
    return type_error(d, raw, where, e);
}

static cJSON *coerce_json(const cJSON *raw, int from_cli) {
    if (from_cli && cJSON_IsString(raw)) {
        const char *s = raw->valuestring;
        while (*s == ' ') s++;
        if (*s == '[' || *s == '{') {
            cJSON *parsed = cJSON_Parse(s);
            if (parsed) return parsed;
        }
    }
    return cJSON_Duplicate(raw, 1);
}

cJSON *config_coerce(const OptionDef *d, const cJSON *raw, int from_cli, const char *where, Err *e) {
    switch (d->type) {
    case OPT_BOOL: return coerce_bool(d, raw, where, e);
    case OPT_NUMBER: {
        cJSON *v = coerce_number(d, raw, where, e);
        return v ? check_choices(d, v, where, e) : NULL;
    }
    case OPT_TEXT: return coerce_text(d, raw, where, e);
    case OPT_SELECT: {
        cJSON *v;
        if (cJSON_IsBool(raw)) v = cJSON_CreateString(cJSON_IsTrue(raw) ? "true" : "false"); /* --key=false upstream */
        else if (cJSON_IsString(raw) || cJSON_IsNumber(raw)) v = cJSON_Duplicate(raw, 1);
        else return type_error(d, raw, where, e);
        return check_choices(d, v, where, e);
    }
    case OPT_JSON: return coerce_json(raw, from_cli);
    }
    return type_error(d, raw, where, e);
}
