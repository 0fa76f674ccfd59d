/* linear_set.c — see linear_set.h. */
#include "models/adapter/linear_set.h"
#include "base/interrupt.h"
#include "models/adapter/lora_file.h"
#include "models/adapter/lycoris_file.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const DEFAULT_TARGETS[] = {"to_k", "to_q", "to_v", "to_out.0", "to_qkv"};

void linear_set_add(LinearSet *s, Linear *l) {
    if (s->n == s->cap) { s->cap = s->cap ? 2 * s->cap : 64; s->l = xrealloc(s->l, (size_t)s->cap * sizeof *s->l); }
    l->id = (uint32_t)s->n;
    s->l[s->n++] = l;
}

static void free_params(LinearSet *s) { free(s->params); s->params = NULL; s->n_params = 0; }

void linear_set_clear_adapters(LinearSet *s) {
    for (int i = 0; i < s->n; i++) { adapter_free(s->l[i]->ad); s->l[i]->ad = NULL; }
    free_params(s);
}

void linear_set_free(LinearSet *s) {
    linear_set_clear_adapters(s);
    free(s->lycoris_meta);
    if (s->qs) for (int i = 0; i < s->n; i++) quant_storage_free(&s->qs[i]);
    free(s->qs); free(s->l);
    memset(s, 0, sizeof *s);
}

Linear *linear_set_find(const LinearSet *s, const char *module) {
    for (int i = 0; i < s->n; i++) if (!strcmp(s->l[i]->name, module)) return s->l[i];
    return NULL;
}

int linear_set_n_adapters(const LinearSet *s) {
    int k = 0;
    for (int i = 0; i < s->n; i++) k += s->l[i]->ad != NULL;
    return k;
}

int linear_set_has_dropout(const LinearSet *s) {
    for (int i = 0; i < s->n; i++) if (s->l[i]->ad && (s->l[i]->ad->dropout > 0 || s->l[i]->ad->stochastic)) return 1;
    return 0;
}

int linear_matches_target(const char *module, const char *target) {
    size_t ln = strlen(module), lt = strlen(target);
    if (ln == lt) return strcmp(module, target) == 0;
    return ln > lt && module[ln - lt - 1] == '.' && strcmp(module + ln - lt, target) == 0;
}

int linear_set_attach_lora(LinearSet *s, const LoraSpec *spec, Err *e) {
    if (spec->rank < 1) return err_setc(e, EXIT_USAGE, "lora_rank must be at least 1 (got %d)", spec->rank);
    const char *const *targets = spec->n_targets ? spec->targets : DEFAULT_TARGETS;
    int nt = spec->n_targets ? spec->n_targets : (int)(sizeof DEFAULT_TARGETS / sizeof *DEFAULT_TARGETS);
    linear_set_clear_adapters(s);
    int found = 0;
    for (int i = 0; i < s->n; i++) {
        Linear *l = s->l[i];
        int hit = 0;
        for (int t = 0; t < nt && !hit; t++) hit = linear_matches_target(l->name, targets[t]);
        if (!hit) continue;
        l->ad = lora_adapter_new(l->name, l->in, l->out, spec->rank, spec->alpha, spec->dropout, spec->seed);
        found++;
    }
    if (found) return 0;
    char list[512] = "", examples[512] = "";
    size_t k = 0;
    for (int t = 0; t < nt && k < sizeof list; t++) k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", t ? ", " : "", targets[t]);
    k = 0;
    for (int i = 0; i < s->n && i < 40 && k < sizeof examples; i += 13)
        k += (size_t)snprintf(examples + k, sizeof examples - k, "%s%s", i ? ", " : "", s->l[i]->name);
    return err_setc(e, EXIT_USAGE, "peft_lora_target_modules [%s]: no module of the transformer matches (modules are e.g. %s)",
                    list, examples);
}

int linear_set_quantize(LinearSet *s, QuantKind k, Err *e) {
    if (k == QUANT_NONE) return 0;
    if (!s->qs) s->qs = xcalloc((size_t)(s->n ? s->n : 1), sizeof *s->qs);
    for (int i = 0; i < s->n; i++) {
        Linear *l = s->l[i];
        if (l->gw) return err_setc(e, EXIT_USAGE, "base_model_precision=%s quantises the frozen base; it cannot be combined with model_type=full",
                                   quant_name(k));
        if (weight_quantize_mapped(l->w, k, &s->qs[i], s->mapped, e)) return err_prefix(e, "%s", l->name);
        if (interrupt_check(e, "while quantising the transformer")) return -1;   /* minutes for a 20B model */
    }
    /* nothing reads the mapped weights any more: drop what later reads mapped back around them */
    stset_release_all(s->mapped);
    return 0;
}

const TrainParam *linear_set_params(LinearSet *s, int *n) {
    free_params(s);
    for (int i = 0; i < s->n; i++) {
        const Adapter *a = s->l[i]->ad;
        if (!a) continue;
        s->params = xrealloc(s->params, (size_t)(s->n_params + a->n_params) * sizeof *s->params);
        memcpy(s->params + s->n_params, a->params, (size_t)a->n_params * sizeof *a->params);
        s->n_params += a->n_params;
    }
    *n = s->n_params;
    return s->params;
}

static int save_lycoris(const LinearSet *s, const char *path, DType dt, int n, Err *e) {
    const char **names = xmalloc((size_t)n * sizeof *names);
    const Adapter **ads = xmalloc((size_t)n * sizeof *ads);
    int k = 0, rc = 0;
    for (int i = 0; i < s->n && !rc; i++) {
        const Linear *l = s->l[i];
        if (!l->ad) continue;
        if (!adapter_is_lycoris(l->ad)) rc = err_set(e, "%s: '%s' has a %s adapter among LyCORIS ones; one file holds one kind", path, l->name, l->ad->ops->kind);
        names[k] = l->name; ads[k] = l->ad; k++;
    }
    if (!rc) rc = lycoris_save(names, (const Adapter *const *)ads, k, s->lycoris_prefix[0] ? s->lycoris_prefix : "lycoris", s->lycoris_meta, dt, path, e);
    free(names); free(ads);
    return rc;
}

int linear_set_save_adapters(const LinearSet *s, const char *path, DType dt, Err *e) {
    int n = linear_set_n_adapters(s), k = 0;
    if (!n) return err_set(e, "%s: the transformer has no adapters to save", path);
    for (int i = 0; i < s->n; i++) if (s->l[i]->ad && adapter_is_lycoris(s->l[i]->ad)) return save_lycoris(s, path, dt, n, e);
    LoraModule *mods = xcalloc((size_t)n, sizeof *mods);
    int rc = 0;
    for (int i = 0; i < s->n && !rc; i++) {
        const Linear *l = s->l[i];
        if (!l->ad) continue;
        int r; float *A, *B;
        if (lora_adapter_factors(l->ad, &r, &A, &B)) rc = err_set(e, "%s: adapter kind '%s' has no LoRA file format", l->name, l->ad->ops->kind);
        else mods[k++] = (LoraModule){l->name, l->in, l->out, r, l->ad->scale, A, B};
    }
    if (!rc) rc = lora_save(mods, k, "transformer", s->model_class, dt, path, e);
    free(mods);
    return rc;
}

/* Reads a LoRA file against this model's module names; a file that records another transformer class
 * is refused before its keys are matched (Qwen-Image and LongCat share module names). */
static int read_file(const LinearSet *s, const char *path, LoraEntry **v, int *nv, Err *e) {
    char cls[128];
    if (lora_model_class(path, cls, sizeof cls, e)) return -1;
    if (cls[0] && s->model_class && strcmp(cls, s->model_class))
        return err_set(e, "%s: a LoRA trained for %s; this model's transformer is %s (a LoRA of another model family)",
                        path, cls, s->model_class);
    const char **names = xmalloc((size_t)(s->n ? s->n : 1) * sizeof *names);
    for (int i = 0; i < s->n; i++) names[i] = s->l[i]->name;
    int rc = lora_read(path, names, s->n, v, nv, e);
    free(names);
    return rc;
}

static int check_shape(const char *path, const LoraEntry *en, const Linear *l, Err *e) {
    if (en->in == l->in && en->out == l->out) return 0;
    return err_set(e, "%s: LoRA for '%s' is %dx%d, the layer is %dx%d (a LoRA for another model size?)", path, en->module,
                   en->out, en->in, l->out, l->in);
}

/* Adapters from a LyCORIS file (inference strength, or the training multiplier for init_lora). */
static int load_lycoris(LinearSet *s, const char *path, float strength, Err *e) {
    const char **names = xmalloc((size_t)(s->n ? s->n : 1) * sizeof *names);
    for (int i = 0; i < s->n; i++) names[i] = s->l[i]->name;
    LycorisFileModule *v; int nv;
    int rc = lycoris_file_read(path, names, s->n, &v, &nv, e);
    free(names);
    if (rc) return -1;
    linear_set_clear_adapters(s);
    for (int k = 0; k < nv && !rc; k++) {
        Linear *l = linear_set_find(s, v[k].module);
        l->ad = lycoris_adapter_import(l->name, l->in, l->out, &v[k].t, strength, path, e);
        if (!l->ad) rc = -1;
    }
    if (rc) linear_set_clear_adapters(s);
    lycoris_file_free(v, nv);
    return rc;
}

int linear_set_load_adapters(LinearSet *s, const char *path, float strength, Err *e) {
    int lyco = lycoris_file_detect(path, e);
    if (lyco < 0) return -1;
    if (lyco) return load_lycoris(s, path, strength, e);
    LoraEntry *v; int nv;
    if (read_file(s, path, &v, &nv, e)) return -1;
    linear_set_clear_adapters(s);
    int rc = 0;
    for (int k = 0; k < nv && !rc; k++) {
        Linear *l = linear_set_find(s, v[k].module);
        if (!(rc = check_shape(path, &v[k], l, e)))
            l->ad = lora_adapter_from(l->name, l->in, l->out, v[k].r, v[k].scale * strength, v[k].A, v[k].B);
    }
    if (rc) linear_set_clear_adapters(s);
    lora_entries_free(v, nv);
    return rc;
}

int linear_set_init_adapters(LinearSet *s, const char *path, Err *e) {
    int lyco = lycoris_file_detect(path, e);
    if (lyco < 0) return err_prefix(e, "init_lora");
    if (lyco) return err_setc(e, EXIT_USAGE, "init_lora %s is a LyCORIS file (LoKr/LoHa keys): set lora_type=lycoris (with a lycoris_config) "
                              "to continue training it", path);
    LoraEntry *v; int nv;
    if (read_file(s, path, &v, &nv, e)) return err_prefix(e, "init_lora");
    int rc = 0;
    for (int k = 0; k < nv && !rc; k++) {
        Linear *l = linear_set_find(s, v[k].module);
        int r; float *A, *B;
        if (!l->ad || lora_adapter_factors(l->ad, &r, &A, &B))
            rc = err_setc(e, EXIT_USAGE, "init_lora %s: it adapts '%s', which the LoRA targets do not include (peft_lora_target_modules)",
                          path, v[k].module);
        else if (v[k].r != r || check_shape(path, &v[k], l, e))
            rc = err_setc(e, EXIT_USAGE, "init_lora %s: '%s' has rank %d (%dx%d), the new adapter rank %d (%dx%d): set lora_rank to match",
                          path, v[k].module, v[k].r, v[k].out, v[k].in, r, l->out, l->in);
        if (rc) break;
        /* the same delta under this run's alpha/r: B carries the ratio of the scales */
        float ratio = v[k].scale / l->ad->scale;
        memcpy(A, v[k].A, (size_t)r * l->in * sizeof(float));
        for (size_t j = 0; j < (size_t)l->out * r; j++) B[j] = v[k].B[j] * ratio;
    }
    lora_entries_free(v, nv);
    return rc;
}

/* ---- LyCORIS ---- */

static void keep_meta(LinearSet *s, const LycorisConfig *c);

int linear_set_attach_lycoris(LinearSet *s, const LycorisConfig *c, LycorisModel m, uint64_t seed, int counts[3], Err *e) {
    const char **names = xmalloc((size_t)(s->n ? s->n : 1) * sizeof *names);
    for (int i = 0; i < s->n; i++) names[i] = s->l[i]->name;
    m.names = names; m.n = s->n;
    LycorisModuleSpec *specs = xcalloc((size_t)(s->n ? s->n : 1), sizeof *specs);
    int *sel = xcalloc((size_t)(s->n ? s->n : 1), sizeof *sel);
    int rc = lycoris_select(c, &m, specs, sel, e);
    if (!rc) {
        linear_set_clear_adapters(s);
        if (counts) counts[0] = counts[1] = counts[2] = 0;
        for (int i = 0; i < s->n; i++) {
            if (!sel[i]) continue;
            Linear *l = s->l[i];
            l->ad = lycoris_adapter_new(l->name, l->in, l->out, &specs[i], seed);
            if (counts) counts[specs[i].algo]++;
        }
        keep_meta(s, c);
    }
    free(names); free(specs); free(sel);
    return rc;
}

static void keep_meta(LinearSet *s, const LycorisConfig *c) {
    free(s->lycoris_meta);
    s->lycoris_meta = c ? xstrdup(c->text) : NULL;
    snprintf(s->lycoris_prefix, sizeof s->lycoris_prefix, "%s", c ? c->lora_prefix : "lycoris");
}

int linear_set_init_lycoris(LinearSet *s, const char *path, float multiplier, const LycorisConfig *c, Err *e) {
    keep_meta(s, c);
    int lyco = lycoris_file_detect(path, e);
    if (lyco < 0) return err_prefix(e, "init_lora");
    if (!lyco) {
        /* a file of LyCORIS LoRA modules only looks like a kohya LoRA: accept lycoris_-prefixed keys */
        Err e2 = {0};
        if (load_lycoris(s, path, multiplier, &e2))
            return err_setc(e, EXIT_USAGE, "init_lora %s: not a LyCORIS file usable with lora_type=lycoris (%s)", path, e2.msg);
        return 0;
    }
    return load_lycoris(s, path, multiplier, e) ? err_prefix(e, "init_lora") : 0;
}

int linear_set_init_lokr_norm(LinearSet *s, float scale, uint64_t seed, Err *e) {
    int done = 0;
    for (int i = 0; i < s->n; i++) {
        Linear *l = s->l[i];
        if (!l->ad) continue;
        float *W = xmalloc((size_t)l->out * l->in * sizeof(float));
        weight_rows_f32(l->w, 0, l->out, W);
        int rc = lycoris_adapter_init_lokr_norm(l->ad, W, scale, seed, l->name, e);
        free(W);
        if (rc) return -1;
        done++;
    }
    return done ? 0 : err_setc(e, EXIT_USAGE, "init_lokr_norm: there are no LoKr adapters to initialise");
}

void linear_set_lycoris_multiplier(LinearSet *s, float multiplier) {
    for (int i = 0; i < s->n; i++)
        if (s->l[i]->ad && adapter_is_lycoris(s->l[i]->ad)) lycoris_adapter_set_multiplier(s->l[i]->ad, multiplier);
}
