/* linear_set.c — see linear_set.h. */
#include "models/adapter/linear_set.h"
#include "models/adapter/lora_file.h"
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
    for (int i = 0; i < s->n; i++) if (s->l[i]->ad && s->l[i]->ad->dropout > 0) return 1;
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

int linear_set_save_adapters(const LinearSet *s, const char *path, DType dt, Err *e) {
    int n = linear_set_n_adapters(s), k = 0;
    if (!n) return err_set(e, "%s: the transformer has no adapters to save", path);
    LoraModule *mods = xcalloc((size_t)n, sizeof *mods);
    int rc = 0;
    for (int i = 0; i < s->n && !rc; i++) {
        const Linear *l = s->l[i];
        if (!l->ad) continue;
        int r; float *A, *B;
        if (lora_adapter_factors(l->ad, &r, &A, &B)) rc = err_set(e, "%s: adapter kind '%s' has no LoRA file format", l->name, l->ad->ops->kind);
        else mods[k++] = (LoraModule){l->name, l->in, l->out, r, l->ad->scale, A, B};
    }
    if (!rc) rc = lora_save(mods, k, "transformer", dt, path, e);
    free(mods);
    return rc;
}

/* Reads a LoRA file against this model's module names. */
static int read_file(const LinearSet *s, const char *path, LoraEntry **v, int *nv, Err *e) {
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

int linear_set_load_adapters(LinearSet *s, const char *path, float strength, Err *e) {
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
