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

int option_count_all(void) { return OPTION_COUNT + OWN_OPTION_COUNT; }

const OptionDef *option_at(int i) { return i < OPTION_COUNT ? &OPTION_TABLE[i] : &OWN_OPTIONS[i - OPTION_COUNT].def; }

const OwnOption *option_own(const char *name) {
    for (int i = 0; i < OWN_OPTION_COUNT; i++)
        if (!strcmp(OWN_OPTIONS[i].def.name, name)) return &OWN_OPTIONS[i];
    return NULL;
}

int option_index(const char *name) {
    const OptionDef *d = bsearch(name, OPTION_TABLE, (size_t)OPTION_COUNT, sizeof *OPTION_TABLE, cmp_name);
    if (d) return (int)(d - OPTION_TABLE);
    const OwnOption *o = option_own(name);
    return o ? OPTION_COUNT + (int)(o - OWN_OPTIONS) : -1;
}

const OptionDef *option_find(const char *name) {
    name = strip_dashes(name);
    const OptionDef *d = bsearch(name, OPTION_TABLE, (size_t)OPTION_COUNT, sizeof *OPTION_TABLE, cmp_name);
    if (d) return d;
    const OwnOption *own = option_own(name);
    if (own) return &own->def;
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

/* Levenshtein distance with one rolling row (names are short, < 64 chars), capped at `limit`: it gives
 * up as soon as every entry of a row reaches the limit (row minima never decrease), because
 * option_nearest measures a typo against ~600 names. */
int name_distance_below(const char *a, const char *b, int limit) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 1000 < limit ? 1000 : limit;
    int row[64];
    for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0], low;
        row[0] = low = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
            if (best < low) low = best;
        }
        if (low >= limit) return limit;
    }
    return row[lb] < limit ? row[lb] : limit;
}

/* Candidates are canonical names and aliases (an alias is a valid spelling too). A name farther
 * than a typo (typo_distance) from every candidate has no nearest option. The bound also stops
 * each distance early, so a long or random key costs a few rows per candidate, not the table. */
const char *option_nearest(const char *name) {
    name = strip_dashes(name);
    const char *best = NULL;
    size_t ln = strlen(name);
    int best_d = typo_distance(ln) + 1;
    /* the distance is at least the difference of the lengths: most candidates are skipped unmeasured */
    for (int i = 0; i < option_count_all(); i++) {
        const char *cand = option_at(i)->name;
        size_t lc = strlen(cand);
        if ((int)(ln > lc ? ln - lc : lc - ln) >= best_d) continue;
        int d = name_distance_below(name, cand, best_d);
        if (d < best_d) { best_d = d; best = cand; }
    }
    for (int i = 0; i < OPTION_ALIAS_COUNT; i++) {
        size_t lc = strlen(OPTION_ALIASES[i].alias);
        if ((int)(ln > lc ? ln - lc : lc - ln) >= best_d) continue;
        int d = name_distance_below(name, OPTION_ALIASES[i].alias, best_d);
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
    /* SimpleTuner's validation generator: manual_seed(validation_seed or seed or 0); our unset seed is 42 */
    if (config_has(c, "validation_seed") && config_int(c, "validation_seed") != 0) return (uint64_t)config_int(c, "validation_seed");
    return config_run_seed(c);
}
