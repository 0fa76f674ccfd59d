/* config_options.c — lookups in the generated option table: by name or alias, nearest name for
 * "did you mean" messages. */
#include <stdlib.h>
#include <string.h>
#include "config/config_internal.h"
#include <stdio.h>
#include <math.h>

static const char *strip_dashes(const char *name) {
    while (*name == '-') name++;
    return name;
}

static int cmp_name(const void *key, const void *elem) {
    return strcmp((const char *)key, ((const OptionDef *)elem)->name);
}

const OptionDef *option_find(const char *name) {
    name = strip_dashes(name);
    const OptionDef *d = bsearch(name, OPTION_TABLE, (size_t)OPTION_COUNT, sizeof *OPTION_TABLE, cmp_name);
    if (d) return d;
    for (int i = 0; i < OPTION_ALIAS_COUNT; i++)
        if (!strcmp(OPTION_ALIASES[i].alias, name))
            return bsearch(OPTION_ALIASES[i].name, OPTION_TABLE, (size_t)OPTION_COUNT, sizeof *OPTION_TABLE, cmp_name);
    return NULL;
}

int csv_has(const char *list, const char *value) {
    size_t n = strlen(value);
    for (const char *p = list; p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && !strncmp(p, value, n)) return 1;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

void text_append(char **buf, const char *sep, const char *text) {
    char *old = *buf;
    *buf = old ? xasprintf("%s%s%s", old, sep, text) : xstrdup(text);
    free(old);
}

int names_have(const char *const *names, const char *name) {
    for (int i = 0; names && names[i]; i++)
        if (!strcmp(names[i], name)) return 1;
    return 0;
}

/* Levenshtein distance with one rolling row; names are short (< 64 chars). */
int name_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 1000;
    int row[64];
    for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Candidates are canonical names and aliases (an alias is a valid spelling too). */
const char *option_nearest(const char *name) {
    name = strip_dashes(name);
    const char *best = NULL;
    int best_d = 1 << 30;
    /* the distance is at least the difference of the lengths: most candidates are skipped unmeasured */
    size_t ln = strlen(name);
    for (int i = 0; i < OPTION_COUNT; i++) {
        size_t lc = strlen(OPTION_TABLE[i].name);
        if ((int)(ln > lc ? ln - lc : lc - ln) >= best_d) continue;
        int d = name_distance(name, OPTION_TABLE[i].name);
        if (d < best_d) { best_d = d; best = OPTION_TABLE[i].name; }
    }
    for (int i = 0; i < OPTION_ALIAS_COUNT; i++) {
        size_t lc = strlen(OPTION_ALIASES[i].alias);
        if ((int)(ln > lc ? ln - lc : lc - ln) >= best_d) continue;
        int d = name_distance(name, OPTION_ALIASES[i].alias);
        if (d < best_d) { best_d = d; best = OPTION_ALIASES[i].alias; }
    }
    return best;
}

const char *option_type_name(OptionType t) {
    switch (t) {
    case OPT_BOOL: return "a boolean (true or false)";
    case OPT_NUMBER: return "a number";
    case OPT_TEXT: return "a string";
    case OPT_SELECT: return "a string (one of its choices)";
    case OPT_JSON: return "JSON (a string, list or object)";
    }
    return "?";
}

static const OptionDef *option_must(const char *name) {
    const OptionDef *d = option_find(name);
    if (!d) { fprintf(stderr, "internal error: option '%s' is not in the options table\n", name); abort(); }
    return d;
}

double option_default_num(const char *name) {
    const char *j = option_must(name)->default_json;
    char *end;
    double v = strtod(j, &end);
    return end != j && !*end ? v : NAN;
}

const char *option_default_str(const char *name, char *buf, size_t cap) {
    /* defaults are JSON text: a string default is quoted */
    const char *j = option_must(name)->default_json;
    size_t n = strlen(j);
    if (n < 2 || j[0] != '"' || j[n - 1] != '"' || cap == 0) return NULL;
    snprintf(buf, cap, "%.*s", (int)(n - 2), j + 1);
    return buf;
}

uint64_t config_run_seed(const Config *c) { return config_has(c, "seed") ? (uint64_t)config_int(c, "seed") : 42; }
uint64_t config_validation_seed(const Config *c) {
    return config_has(c, "validation_seed") ? (uint64_t)config_int(c, "validation_seed") : 42;
}
