/* lycoris_select.c — see lycoris_select.h. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "models/adapter/lycoris_select.h"
#include <fnmatch.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* LyCORIS' default target_module: every Linear (and convolutions / norms, which these models do not
 * adapt: convolutions do not exist, norms only with train_norm) */
static const char *const DEFAULT_TARGETS[] = {"Linear", "Conv1d", "Conv2d", "Conv3d", "GroupNorm", "LayerNorm"};

/* A pattern of target_name / name_algo_map / exclude_name, compiled once. */
typedef struct Pattern { const char *text; pcre2_code *re; } Pattern;

typedef struct Ctx {
    const LycorisConfig *c;
    const LycorisModel *m;
    Pattern *names;    /* target_name ∪ name_algo_map keys */
    int n_names;
    Pattern *excl;
    int n_excl;
    Pattern *name_map; /* name_algo_map keys, in file order */
} Ctx;

static int compile(const Ctx *x, Pattern *p, const char *text, const char *key, Err *e) {
    p->text = text;
    p->re = NULL;
    if (x->c->use_fnmatch) return 0;
    int code;
    PCRE2_SIZE off;
    p->re = pcre2_compile((PCRE2_SPTR)text, PCRE2_ZERO_TERMINATED, 0, &code, &off, NULL);
    if (p->re) return 0;
    char msg[256];
    pcre2_get_error_message(code, (PCRE2_UCHAR *)msg, sizeof msg);
    return err_setc(e, EXIT_USAGE, "lycoris_config %s: apply_preset.%s entry '%s' is not a regular expression (%s at offset %zu; "
                    "set use_fnmatch true for shell-style patterns)", x->c->path, key, text, msg, (size_t)off);
}

/* LyCORIS' match_fn: fnmatch, or re.match (anchored at the start only) */
static int matches(const Pattern *p, const char *name) {
    if (!p->re) return fnmatch(p->text, name, FNM_NOESCAPE) == 0;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(p->re, NULL);
    int rc = pcre2_match(p->re, (PCRE2_SPTR)name, strlen(name), 0, PCRE2_ANCHORED, md, NULL);
    pcre2_match_data_free(md);
    return rc >= 0;
}

/* exact: an equal string counts too (LyCORIS' `name in list or any(match)`; its class-trigger test
 * only matches) */
static int matches_any(const Pattern *ps, int n, const char *name, int exact) {
    for (int i = 0; i < n; i++) if ((exact && !strcmp(ps[i].text, name)) || matches(&ps[i], name)) return 1;
    return 0;
}

/* "*" matches one dot-separated segment */
static int path_matches(const char *pat, const char *path) {
    while (*pat && *path) {
        if (*pat == '*') {
            while (*path && *path != '.') path++;
            pat++;
            continue;
        }
        if (*pat != *path) return 0;
        pat++; path++;
    }
    return !*pat && !*path;
}

const char *lycoris_module_class(const LycorisModel *m, const char *path, int is_linear, int alias) {
    if (is_linear) return alias ? NULL : "Linear";
    if (!path[0]) return alias ? NULL : m->root_class;
    for (const ModuleClass *k = m->classes; k && k->path; k++)
        if (path_matches(k->path, path)) return alias ? k->alias : k->cls;
    return NULL;
}

static int has(const char *const *list, int n, const char *s) {
    for (int i = 0; s && i < n; i++) if (!strcmp(list[i], s)) return 1;
    return 0;
}

static const LycorisEntry *module_entry(const LycorisConfig *c, const char *cls) {
    for (int i = 0; cls && i < c->n_module_map; i++) if (!strcmp(c->module_map[i].key, cls)) return &c->module_map[i].entry;
    return NULL;
}

/* The entry of the first of a module's class names found in module_algo_map. */
static const LycorisEntry *class_entry(const Ctx *x, const char *path, int is_linear) {
    const LycorisEntry *en = module_entry(x->c, lycoris_module_class(x->m, path, is_linear, 0));
    return en ? en : module_entry(x->c, lycoris_module_class(x->m, path, is_linear, 1));
}

static int is_class_target(const Ctx *x, const char *path, int is_linear) {
    const LycorisConfig *c = x->c;
    for (int alias = 0; alias < 2; alias++) {
        const char *cls = lycoris_module_class(x->m, path, is_linear, alias);
        if (!cls) continue;
        if (c->target_module ? has((const char *const *)c->target_module, c->n_target_module, cls)
                             : has(DEFAULT_TARGETS, (int)(sizeof DEFAULT_TARGETS / sizeof *DEFAULT_TARGETS), cls))
            return 1;
        if (module_entry(c, cls)) return 1;
    }
    return 0;
}

/* find_conf_for_name: an exact key, else the first key (file order) that matches */
static const LycorisEntry *name_entry(const Ctx *x, const char *path) {
    const LycorisConfig *c = x->c;
    for (int i = 0; i < c->n_name_map; i++) if (!strcmp(c->name_map[i].key, path)) return &c->name_map[i].entry;
    for (int i = 0; i < c->n_name_map; i++) if (matches(&x->name_map[i], path)) return &c->name_map[i].entry;
    return NULL;
}

static void spec_from(const LycorisConfig *c, const LycorisEntry *en, const char *algo, int force_bypass, LycorisModuleSpec *s) {
    const LycorisEntry *r = &c->root;
    memset(s, 0, sizeof *s);
    s->algo = !strcmp(algo, "lokr") ? LYCO_LOKR : !strcmp(algo, "loha") ? LYCO_LOHA : LYCO_LORA;
    s->dim = en && (en->set & LYK_DIM) && en->dim ? en->dim : c->linear_dim;
    s->alpha = (float)(en && (en->set & LYK_ALPHA) && en->alpha != 0 ? en->alpha : c->linear_alpha);
    s->multiplier = (float)c->multiplier;
#define PICK(bit, field) (en && (en->set & (bit)) ? en->field : r->field)
    s->factor = PICK(LYK_FACTOR, factor);
    s->full_matrix = PICK(LYK_FULL_MATRIX, full_matrix);
    s->decompose_both = PICK(LYK_DECOMPOSE_BOTH, decompose_both);
    s->use_scalar = PICK(LYK_USE_SCALAR, use_scalar);
    s->bypass_mode = PICK(LYK_BYPASS, bypass_mode) || force_bypass;
    s->unbalanced_factorization = PICK(LYK_UNBALANCED, unbalanced_factorization);
#undef PICK
    s->rs_lora = en && (en->set & LYK_RS_LORA) ? en->rs_lora : 0;
    s->rank_dropout_scale = en && (en->set & LYK_RANK_DROPOUT_SCALE) ? en->rank_dropout_scale : 0;
    s->dropout = (float)c->dropout;
    s->rank_dropout = (float)c->rank_dropout;
    s->module_dropout = (float)c->module_dropout;
}

/* The walk from the root down to one linear layer: its spec, or 0 when no trigger adapts it. */
static int select_one(const Ctx *x, const char *linear, LycorisModuleSpec *spec) {
    const LycorisConfig *c = x->c;
    const size_t len = strlen(linear);
    /* the modules on the way: "" (the transformer), each dotted prefix, the linear itself */
    size_t *ends = xmalloc((len + 2) * sizeof *ends);
    int n = 0;
    ends[n++] = 0;
    for (size_t k = 1; k < len; k++) if (linear[k] == '.') ends[n++] = k;
    ends[n++] = len;
    char *path = xmalloc(len + 1);
#define PATH(i) (memcpy(path, linear, ends[i]), path[ends[i]] = 0, path)
    int found = 0;
    for (int i = 0; i < n && !found; i++) {
        const char *p = PATH(i);
        const int is_linear = i == n - 1;
        if (matches_any(x->excl, x->n_excl, p, 1)) continue;
        if (is_class_target(x, p, is_linear) && !matches_any(x->names, x->n_names, p, 0)) {
            /* a class trigger: its entry, then each module_algo_map class further down takes over */
            const LycorisEntry *en = class_entry(x, p, is_linear);
            const char *algo = en && (en->set & LYK_ALGO) ? en->algo : c->algo;
            for (int j = i + 1; j < n; j++) {
                const LycorisEntry *d = class_entry(x, PATH(j), j == n - 1);
                if (d) { en = d; if (d->set & LYK_ALGO) algo = d->algo; }
            }
            spec_from(c, en, algo, x->m->force_bypass, spec);
            found = 1;
        } else if (is_linear && matches_any(x->names, x->n_names, p, 1)) {
            /* a name trigger adapts the module itself (a name trigger above a Linear adapts nothing) */
            const LycorisEntry *en = name_entry(x, p);
            if (!en) en = class_entry(x, p, 1);
            spec_from(c, en, en && (en->set & LYK_ALGO) ? en->algo : c->algo, x->m->force_bypass, spec);
            found = 1;
        }
    }
#undef PATH
    free(path); free(ends);
    return found;
}

static void list_text(char *buf, size_t cap, char *const *v, int n, const char *none) {
    size_t k = 0;
    buf[0] = 0;
    if (!v) { snprintf(buf, cap, "%s", none); return; }
    for (int i = 0; i < n && k < cap; i++) k += (size_t)snprintf(buf + k, cap - k, "%s%s", i ? ", " : "", v[i]);
}

static int nothing_selected(const Ctx *x, Err *e) {
    const LycorisConfig *c = x->c;
    char tm[512], tn[512], classes[1024];
    list_text(tm, sizeof tm, c->target_module, c->n_target_module, "Linear, ... (LyCORIS' default)");
    list_text(tn, sizeof tn, c->target_name, c->n_target_name, "");
    size_t k = (size_t)snprintf(classes, sizeof classes, "%s, Linear", x->m->root_class);
    for (const ModuleClass *mc = x->m->classes; mc && mc->path && k < sizeof classes; mc++) {
        int seen = 0;
        for (const ModuleClass *p = x->m->classes; p < mc; p++) seen |= !strcmp(p->cls, mc->cls);
        if (!seen) k += (size_t)snprintf(classes + k, sizeof classes - k, ", %s", mc->cls);
    }
    return err_setc(e, EXIT_USAGE, "lycoris_config %s: apply_preset selects no linear layer of the transformer (target_module [%s], "
                    "target_name [%s], %d module_algo_map / %d name_algo_map entries); this model's module classes are %s, and "
                    "its modules are named like %s", c->path, tm, tn, c->n_module_map, c->n_name_map, classes,
                    x->m->n ? x->m->names[x->m->n / 2] : "(none)");
}

int lycoris_select(const LycorisConfig *c, const LycorisModel *m, LycorisModuleSpec *specs, int *selected, Err *e) {
    Ctx x = {c, m, NULL, 0, NULL, 0, NULL};
    x.names = xcalloc((size_t)(c->n_target_name + c->n_name_map + 1), sizeof *x.names);
    x.excl = xcalloc((size_t)(c->n_exclude_name + 1), sizeof *x.excl);
    x.name_map = xcalloc((size_t)(c->n_name_map + 1), sizeof *x.name_map);
    int rc = 0, count = 0;
    for (int i = 0; i < c->n_target_name && !rc; i++) rc = compile(&x, &x.names[x.n_names++], c->target_name[i], "target_name", e);
    for (int i = 0; i < c->n_name_map && !rc; i++) {
        rc = compile(&x, &x.name_map[i], c->name_map[i].key, "name_algo_map", e);
        if (!rc) rc = compile(&x, &x.names[x.n_names++], c->name_map[i].key, "name_algo_map", e);
    }
    for (int i = 0; i < c->n_exclude_name && !rc; i++) rc = compile(&x, &x.excl[x.n_excl++], c->exclude_name[i], "exclude_name", e);
    for (int i = 0; i < m->n && !rc; i++) {
        selected[i] = select_one(&x, m->names[i], &specs[i]);
        count += selected[i];
    }
    /* LyCORIS saves modules under "<prefix>_<path with '.' → '_'>": two paths must not collide */
    for (int i = 0; i < m->n && !rc; i++)
        for (int j = i + 1; selected[i] && j < m->n && !rc; j++) {
            if (!selected[j] || strlen(m->names[i]) != strlen(m->names[j])) continue;
            const char *a = m->names[i], *b = m->names[j];
            while (*a && (*a == *b || ((*a == '.' || *a == '_') && (*b == '.' || *b == '_')))) { a++; b++; }
            if (!*a) rc = err_setc(e, EXIT_USAGE, "lycoris_config %s: modules '%s' and '%s' would be saved under the same LyCORIS key", c->path,
                                   m->names[i], m->names[j]);
        }
    if (!rc && !count) rc = nothing_selected(&x, e);
    for (int i = 0; i < x.n_names; i++) pcre2_code_free(x.names[i].re);
    for (int i = 0; i < x.n_excl; i++) pcre2_code_free(x.excl[i].re);
    for (int i = 0; i < c->n_name_map; i++) pcre2_code_free(x.name_map[i].re);
    free(x.names); free(x.excl); free(x.name_map);
    return rc;
}
