#include "models/adapter/lora_file.h"
#include "tensor/safetensors.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lora_save(const LoraModule *mods, int n, const char *prefix, DType dt, const char *path, Err *e) {
    if (n == 0) return err_set(e, "%s: no LoRA modules to save", path);
    StWriter w; stw_init(&w);
    cJSON *meta = cJSON_CreateObject(), *targets = cJSON_CreateArray();
    int r0 = mods[0].r;
    for (int i = 0; i < n; i++) {
        const LoraModule *m = &mods[i];
        size_t na = (size_t)m->r * m->in, nb = (size_t)m->out * m->r;
        float *b = xmalloc(nb * sizeof(float));
        for (size_t k = 0; k < nb; k++) b[k] = m->B[k] * m->scale;   /* fold alpha/r */
        void *buf = xmalloc((na > nb ? na : nb) * dtype_size(dt));
        char key[512];
        int64_t sa[2] = {m->r, m->in}, sb[2] = {m->out, m->r};
        snprintf(key, sizeof key, "%s.%s.lora_A.weight", prefix, m->name);
        dtype_from_f32(dt, m->A, buf, na);
        stw_add(&w, key, dt, 2, sa, buf);
        snprintf(key, sizeof key, "%s.%s.lora_B.weight", prefix, m->name);
        dtype_from_f32(dt, b, buf, nb);
        stw_add(&w, key, dt, 2, sb, buf);
        free(buf); free(b);
        cJSON_AddItemToArray(targets, cJSON_CreateString(m->name));
        if (m->r != r0) r0 = -1;
    }
    /* PEFT config: with the scale folded in, alpha = r for every module */
    cJSON_AddNumberToObject(meta, "r", r0 > 0 ? r0 : mods[0].r);
    cJSON_AddNumberToObject(meta, "lora_alpha", r0 > 0 ? r0 : mods[0].r);
    cJSON_AddItemToObject(meta, "target_modules", targets);
    cJSON_AddNumberToObject(meta, "lora_dropout", 0.0);
    cJSON_AddStringToObject(meta, "bias", "none");
    if (r0 < 0) {
        cJSON *rp = cJSON_CreateObject(), *ap = cJSON_CreateObject();
        for (int i = 0; i < n; i++) { cJSON_AddNumberToObject(rp, mods[i].name, mods[i].r); cJSON_AddNumberToObject(ap, mods[i].name, mods[i].r); }
        cJSON_AddItemToObject(meta, "rank_pattern", rp);
        cJSON_AddItemToObject(meta, "alpha_pattern", ap);
    }
    char *mj = cJSON_PrintUnformatted(meta);
    cJSON_Delete(meta);
    stw_set_meta(&w, "format", "pt");
    stw_set_meta(&w, "lora_adapter_metadata", mj);
    free(mj);
    int rc = stw_write(&w, path, e);
    stw_free(&w);
    return rc;
}

void lora_entries_free(LoraEntry *v, int n) {
    for (int i = 0; i < n; i++) { free(v[i].module); free(v[i].A); free(v[i].B); }
    free(v);
}

/* Splits a key into (module part, role): role 'A' (down), 'B' (up), 'a' (alpha); 0 when not LoRA. */
static char *split_key(const char *key, char *role) {
    static const struct { const char *suffix; char role; } SUF[] = {
        {".lora_A.weight", 'A'}, {".lora_B.weight", 'B'}, {".lora_A.default.weight", 'A'}, {".lora_B.default.weight", 'B'},
        {".lora_down.weight", 'A'}, {".lora_up.weight", 'B'}, {".lora.down.weight", 'A'}, {".lora.up.weight", 'B'},
        {".alpha", 'a'},
    };
    size_t lk = strlen(key);
    for (size_t i = 0; i < sizeof SUF / sizeof *SUF; i++) {
        size_t ls = strlen(SUF[i].suffix);
        if (lk > ls && !strcmp(key + lk - ls, SUF[i].suffix)) {
            *role = SUF[i].role;
            char *m = xmalloc(lk - ls + 1);
            memcpy(m, key, lk - ls); m[lk - ls] = 0;
            return m;
        }
    }
    *role = 0;
    return NULL;
}

/* Resolves a module spelling to a known module name (NULL when none). */
static const char *resolve(const char *raw, const char *const *known, int n_known) {
    static const char *PREFIXES[] = {"transformer.", "diffusion_model.", "model.diffusion_model.", "base_model.model.", "lora_unet_", "lycoris_", ""};
    for (size_t p = 0; p < sizeof PREFIXES / sizeof *PREFIXES; p++) {
        size_t lp = strlen(PREFIXES[p]);
        if (strncmp(raw, PREFIXES[p], lp)) continue;
        const char *rest = raw + lp;
        int underscored = !strcmp(PREFIXES[p], "lora_unet_") || !strcmp(PREFIXES[p], "lycoris_");
        for (int i = 0; i < n_known; i++) {
            if (!underscored) { if (!strcmp(rest, known[i])) return known[i]; continue; }
            /* kohya names flatten dots to underscores: compare with the known name flattened */
            const char *a = rest, *b = known[i];
            while (*a && *b && (*a == *b || (*b == '.' && *a == '_'))) { a++; b++; }
            if (!*a && !*b) return known[i];
        }
    }
    return NULL;
}

/* The first non-finite value of a tensor converted to f32, as an error naming file and tensor. */
static int check_finite(const char *path, const char *name, const float *v, size_t n, Err *e) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return err_set(e, "%s: LoRA tensor '%s' holds %g at index %zu (a diverged or damaged LoRA; values must be finite)",
                           path, name, v[i], i);
    return 0;
}

int lora_read(const char *path, const char *const *known, int n_known, LoraEntry **out, int *n, Err *e) {
    *out = NULL; *n = 0;
    StFile f;
    if (st_open(&f, path, e)) return -1;
    double meta_alpha = 0;
    const char *mj = st_meta(&f, "lora_adapter_metadata");
    if (mj) {
        cJSON *j = cJSON_Parse(mj);
        const cJSON *a = j ? cJSON_GetObjectItemCaseSensitive(j, "lora_alpha") : NULL;
        if (cJSON_IsNumber(a) && isfinite(a->valuedouble)) meta_alpha = a->valuedouble;
        cJSON_Delete(j);
        if (!(meta_alpha >= 0 && meta_alpha <= 1e30)) {
            st_close(&f);
            return err_set(e, "%s: lora_adapter_metadata lora_alpha is %g, expected a finite value >= 0", path, meta_alpha);
        }
    }
    LoraEntry *v = NULL; int nv = 0, rc = 0;
    float *alphas = NULL;
    int *rank_b = NULL;   /* the rank lora_B gives, checked against lora_A's once both are read (in any order) */
    for (int i = 0; i < f.n && !rc; i++) {
        const StTensor *t = &f.t[i];
        char role;
        char *raw = split_key(t->name, &role);
        if (!raw) continue;
        const char *mod = resolve(raw, known, n_known);
        if (!mod) { rc = err_set(e, "%s: LoRA key '%s' names no module of this transformer", path, t->name); free(raw); break; }
        free(raw);
        int k = 0;
        while (k < nv && strcmp(v[k].module, mod)) k++;
        if (k == nv) {
            v = xrealloc(v, (size_t)(nv + 1) * sizeof *v);
            alphas = xrealloc(alphas, (size_t)(nv + 1) * sizeof *alphas);
            rank_b = xrealloc(rank_b, (size_t)(nv + 1) * sizeof *rank_b);
            memset(&v[nv], 0, sizeof *v);
            v[nv].module = xstrdup(mod);
            alphas[nv] = -1; rank_b[nv] = 0;
            nv++;
        }
        LoraEntry *en = &v[k];
        if ((role == 'A' && en->A) || (role == 'B' && en->B) || (role == 'a' && alphas[k] >= 0)) {
            rc = err_set(e, "%s: LoRA key '%s' gives module '%s' a second %s (two spellings of one tensor)", path, t->name, mod,
                         role == 'A' ? "lora_A (down) matrix" : role == 'B' ? "lora_B (up) matrix" : "alpha");
            break;
        }
        if (role == 'a') {
            if (t->numel != 1) { rc = err_set(e, "%s: LoRA alpha '%s' has %zu values, expected one", path, t->name, t->numel); break; }
            float *a = st_to_f32(t);
            rc = check_finite(path, t->name, a, 1, e);
            alphas[k] = a[0]; free(a);
            if (rc) break;
            if (!(alphas[k] >= 0) || alphas[k] > 1e30f) { rc = err_set(e, "%s: LoRA alpha '%s' is %g, expected a finite value >= 0", path, t->name, alphas[k]); break; }
            continue;
        }
        if (t->ndim != 2) { rc = err_set(e, "%s: LoRA tensor '%s' is not a matrix", path, t->name); break; }
        if (t->shape[0] < 1 || t->shape[1] < 1 || t->shape[0] > (1 << 24) || t->shape[1] > (1 << 24)) {
            rc = err_set(e, "%s: LoRA tensor '%s' has shape [%lld, %lld]; expected both sizes in 1..16777216", path, t->name,
                         (long long)t->shape[0], (long long)t->shape[1]);
            break;
        }
        float *vals = st_to_f32(t);
        if ((rc = check_finite(path, t->name, vals, t->numel, e))) { free(vals); break; }
        if (role == 'A') { en->r = (int)t->shape[0]; en->in = (int)t->shape[1]; en->A = vals; }
        else { en->out = (int)t->shape[0]; rank_b[k] = (int)t->shape[1]; en->B = vals; }
    }
    st_close(&f);
    for (int k = 0; k < nv && !rc; k++) {
        if (!v[k].A || !v[k].B) { rc = err_set(e, "%s: module '%s' has only one of its two LoRA matrices", path, v[k].module); break; }
        if (rank_b[k] != v[k].r) { rc = err_set(e, "%s: module '%s': lora_B rank %d differs from its lora_A rank %d", path, v[k].module, rank_b[k], v[k].r); break; }
        if (v[k].r < 1) { rc = err_set(e, "%s: module '%s' has rank 0 (empty LoRA matrices)", path, v[k].module); break; }
        /* an .alpha tensor wins; else the PEFT config's lora_alpha; else alpha = r (scale 1) */
        double alpha = alphas[k] >= 0 ? alphas[k] : meta_alpha > 0 ? meta_alpha : v[k].r;
        v[k].scale = (float)(alpha / v[k].r);
    }
    free(rank_b);
    free(alphas);
    if (!rc && nv == 0) rc = err_set(e, "%s: no LoRA weights found (expected keys ending in lora_A/lora_B or lora_down/lora_up)", path);
    if (rc) { lora_entries_free(v, nv); return -1; }
    *out = v; *n = nv;
    return 0;
}
