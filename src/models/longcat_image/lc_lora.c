/* lora.c — LoRA adapters on the LongCat linears: targeting by module name (spec §6), creation,
 * diffusers-format save and load. */
#include "models/longcat_image/longcat.h"
#include "base/rng.h"
#include "models/adapter/lora_file.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const DEFAULT_TARGETS[] = { "to_k", "to_q", "to_v", "to_out.0", "to_qkv" };

/* Every linear of the model (pointers into m), in table order. */
static int all_linears(LcModel *m, LcLinear **out) {
    int n = 0;
    LcLinear *top[] = { &m->x_emb, &m->ctx_emb, &m->t1, &m->t2, &m->norm_out, &m->proj_out };
    for (size_t i = 0; i < sizeof top / sizeof *top; i++) out[n++] = top[i];
    for (int i = 0; i < m->cfg.layers; i++) {
        LcDouble *b = &m->dbl[i];
        LcLinear *l[] = { &b->norm1, &b->norm1_ctx, &b->q, &b->k, &b->v, &b->out, &b->add_q, &b->add_k, &b->add_v,
                          &b->add_out, &b->ff0, &b->ff2, &b->ffc0, &b->ffc2 };
        for (size_t j = 0; j < sizeof l / sizeof *l; j++) out[n++] = l[j];
    }
    for (int i = 0; i < m->cfg.single_layers; i++) {
        LcSingle *b = &m->sgl[i];
        LcLinear *l[] = { &b->norm, &b->q, &b->k, &b->v, &b->mlp, &b->out };
        for (size_t j = 0; j < sizeof l / sizeof *l; j++) out[n++] = l[j];
    }
    return n;
}
static int n_linears(const LcModel *m) { return 6 + 14 * m->cfg.layers + 6 * m->cfg.single_layers; }

/* "a.b.weight" -> "a.b" */
static void module_of(const char *wname, char *out, size_t cap) {
    snprintf(out, cap, "%s", wname);
    size_t n = strlen(out);
    if (n > 7 && !strcmp(out + n - 7, ".weight")) out[n - 7] = 0;
}

static int matches(const char *module, const char *target) {
    size_t n = strlen(module), t = strlen(target);
    if (!strcmp(module, target)) return 1;
    return n > t && module[n - t - 1] == '.' && !strcmp(module + n - t, target);
}

void lc_lora_free(LcModel *m) {
    for (int i = 0; i < m->n_lora; i++) {
        LcLora *a = &m->lora[i];
        free(a->A); free(a->B); free(a->dA); free(a->dB); free(a->module); free(a->key_A); free(a->key_B);
    }
    free(m->lora); m->lora = NULL; m->n_lora = 0;
    LcLinear **ls = xmalloc((size_t)n_linears(m) * sizeof *ls + 1);
    int n = m->p ? all_linears(m, ls) : 0;
    for (int i = 0; i < n; i++) ls[i]->lora = -1;
    free(ls);
}

static LcLora *adapter_new(LcModel *m, LcLinear *l, int rank, float alpha) {
    m->lora = xrealloc(m->lora, (size_t)(m->n_lora + 1) * sizeof *m->lora);
    LcLora *a = &m->lora[m->n_lora];
    memset(a, 0, sizeof *a);
    char mod[256];
    module_of(m->p[l->w].name, mod, sizeof mod);
    a->module = xstrdup(mod);
    a->key_A = xasprintf("%s.lora_A.weight", mod);
    a->key_B = xasprintf("%s.lora_B.weight", mod);
    a->rank = rank; a->in = l->in; a->out = l->out; a->alpha = alpha; a->scale = alpha / (float)rank;
    a->A = xcalloc((size_t)rank * l->in, sizeof(float)); a->B = xcalloc((size_t)l->out * rank, sizeof(float));
    a->dA = xcalloc((size_t)rank * l->in, sizeof(float)); a->dB = xcalloc((size_t)l->out * rank, sizeof(float));
    l->lora = m->n_lora++;
    return a;
}

int lc_lora_add(LcModel *m, const char *const *targets, int n_targets, int rank, float alpha, uint64_t seed, Err *e) {
    if (rank <= 0) return err_setc(e, EXIT_USAGE, "lora_rank %d: expected a positive integer", rank);
    if (!targets) { targets = DEFAULT_TARGETS; n_targets = (int)(sizeof DEFAULT_TARGETS / sizeof *DEFAULT_TARGETS); }
    lc_lora_free(m);
    lc_run_free(m);
    LcLinear **ls = xmalloc((size_t)n_linears(m) * sizeof *ls);
    int n = all_linears(m, ls);
    for (int i = 0; i < n; i++) {
        char mod[256];
        module_of(m->p[ls[i]->w].name, mod, sizeof mod);
        int hit = 0;
        for (int t = 0; t < n_targets && !hit; t++) hit = matches(mod, targets[t]);
        if (!hit) continue;
        LcLora *a = adapter_new(m, ls[i], rank, alpha);
        Rng r; rng_seed_stream(&r, seed, hash64(mod, strlen(mod), 0));
        float bound = 1.0f / sqrtf((float)a->in);
        rng_fill_uniform(&r, a->A, (size_t)rank * a->in, -bound, bound);
    }
    free(ls);
    if (!m->n_lora) {
        char list[512] = "";
        for (int t = 0; t < n_targets; t++) { strncat(list, t ? ", " : "", sizeof list - strlen(list) - 1); strncat(list, targets[t], sizeof list - strlen(list) - 1); }
        return err_setc(e, EXIT_USAGE, "peft_lora_target_modules [%s]: no LongCat transformer module matches "
                        "(modules are e.g. transformer_blocks.0.attn.to_q, single_transformer_blocks.0.proj_mlp)", list);
    }
    return 0;
}

int lc_lora_save(const LcModel *m, const char *path, DType dt, Err *e) {
    if (!m->n_lora) return err_set(e, "%s: the LongCat transformer has no LoRA adapters to save", path);
    LoraModule *mods = xcalloc((size_t)m->n_lora, sizeof *mods);
    for (int i = 0; i < m->n_lora; i++) {
        const LcLora *a = &m->lora[i];
        mods[i] = (LoraModule){ a->module, a->in, a->out, a->rank, a->scale, a->A, a->B };
    }
    int rc = lora_save(mods, m->n_lora, "transformer", dt, path, e);
    free(mods);
    return rc;
}

int lc_lora_load(LcModel *m, const char *path, float strength, Err *e) {
    LcLinear **ls = xmalloc((size_t)n_linears(m) * sizeof *ls);
    int n = all_linears(m, ls);
    char **names = xmalloc((size_t)n * sizeof *names);
    for (int i = 0; i < n; i++) { char mod[256]; module_of(m->p[ls[i]->w].name, mod, sizeof mod); names[i] = xstrdup(mod); }
    LoraEntry *v = NULL; int nv = 0;
    int rc = lora_read(path, (const char *const *)names, n, &v, &nv, e);
    if (!rc) { lc_lora_free(m); lc_run_free(m); }
    for (int k = 0; k < nv && !rc; k++) {
        int i = 0;
        while (i < n && strcmp(names[i], v[k].module)) i++;
        if (i == n) { rc = err_set(e, "%s: LoRA module '%s' is not a LongCat transformer linear", path, v[k].module); break; }
        if (v[k].in != ls[i]->in || v[k].out != ls[i]->out) {
            rc = err_set(e, "%s: LoRA for '%s' is %dx%d, the layer is %dx%d (a LoRA for another model size?)", path, v[k].module,
                         v[k].out, v[k].in, ls[i]->out, ls[i]->in);
            break;
        }
        LcLora *a = adapter_new(m, ls[i], v[k].r, v[k].scale * v[k].r * strength);
        memcpy(a->A, v[k].A, (size_t)a->rank * a->in * sizeof(float));
        memcpy(a->B, v[k].B, (size_t)a->out * a->rank * sizeof(float));
    }
    if (rc) lc_lora_free(m);
    lora_entries_free(v, nv);
    for (int i = 0; i < n; i++) free(names[i]);
    free(names); free(ls);
    return rc;
}

int lc_lora_init_from(LcModel *m, const char *path, Err *e) {
    const char **names = xmalloc((size_t)(m->n_lora ? m->n_lora : 1) * sizeof *names);
    for (int i = 0; i < m->n_lora; i++) names[i] = m->lora[i].module;
    LoraEntry *v = NULL; int nv = 0;
    int rc = lora_read(path, names, m->n_lora, &v, &nv, e);
    free(names);
    if (rc) return err_prefix(e, "init_lora (it must adapt only the modules of peft_lora_target_modules)");
    for (int k = 0; k < nv && !rc; k++) {
        LcLora *a = NULL;
        for (int i = 0; i < m->n_lora && !a; i++) if (!strcmp(m->lora[i].module, v[k].module)) a = &m->lora[i];
        if (v[k].r != a->rank || v[k].in != a->in || v[k].out != a->out) {
            rc = err_setc(e, EXIT_USAGE, "init_lora %s: '%s' has rank %d (%dx%d), the new adapter rank %d (%dx%d): set lora_rank to match",
                          path, v[k].module, v[k].r, v[k].out, v[k].in, a->rank, a->out, a->in);
            break;
        }
        float ratio = v[k].scale / a->scale;   /* the same delta under this run's alpha/r */
        memcpy(a->A, v[k].A, (size_t)a->rank * a->in * sizeof(float));
        for (size_t j = 0; j < (size_t)a->out * a->rank; j++) a->B[j] = v[k].B[j] * ratio;
    }
    lora_entries_free(v, nv);
    return rc;
}
