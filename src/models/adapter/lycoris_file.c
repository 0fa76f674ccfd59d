/* lycoris_file.c — see lycoris_file.h. */
#include "models/adapter/lycoris_file.h"
#include "tensor/safetensors.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The tensors a LyCORIS module may hold that we apply, and those we recognise but cannot. */
static const char *const SUFFIXES[] = {"lokr_w1", "lokr_w1_a", "lokr_w1_b", "lokr_w2", "lokr_w2_a", "lokr_w2_b", "hada_w1_a", "hada_w1_b",
                                       "hada_w2_a", "hada_w2_b", "lora_down.weight", "lora_up.weight", "alpha", NULL};
static const struct { const char *suffix, *why; } REFUSED[] = {
    {"lokr_t1", "Tucker-decomposed LoKr (convolutions)"}, {"lokr_t2", "Tucker-decomposed LoKr (convolutions)"},
    {"hada_t1", "Tucker-decomposed LoHa (convolutions)"}, {"hada_t2", "Tucker-decomposed LoHa (convolutions)"},
    {"lora_mid.weight", "Tucker-decomposed LoCon (convolutions)"}, {"dora_scale", "DoRA weight decomposition (dora_scale)"},
};

static char *flatten(const char *s) {
    char *f = xstrdup(s);
    for (char *p = f; *p; p++) if (*p == '.') *p = '_';
    return f;
}

/* ---- writing ---- */

int lycoris_save(const char *const *modules, const Adapter *const *ads, int n, const char *prefix, const char *config_json,
                 DType dt, const char *path, Err *e) {
    if (n == 0) return err_set(e, "%s: no LyCORIS modules to save", path);
    StWriter w; stw_init(&w);
    char algos[64] = "";
    for (int i = 0; i < n; i++) {
        const char *algo = lycoris_algo_name(lycoris_adapter_algo(ads[i]));
        if (!strstr(algos, algo)) snprintf(algos + strlen(algos), sizeof algos - strlen(algos), "%s%s", algos[0] ? "," : "", algo);
        LycorisTensors t;
        lycoris_adapter_export(ads[i], &t);
        char *flat = flatten(modules[i]);
        char key[600];
        for (int k = 0; k < t.n; k++) {
            size_t numel = (size_t)t.rows[k] * t.cols[k];
            void *buf = xmalloc(numel * dtype_size(dt));
            dtype_from_f32(dt, t.data[k], buf, numel);
            int64_t shape[2] = {t.rows[k], t.cols[k]};
            snprintf(key, sizeof key, "%s_%s.%s", prefix, flat, t.suffix[k]);
            stw_add(&w, key, dt, 2, shape, buf);
            free(buf);
        }
        if (t.has_alpha) {
            char abuf[8];
            dtype_from_f32(dt, &t.alpha, abuf, 1);
            snprintf(key, sizeof key, "%s_%s.alpha", prefix, flat);
            stw_add(&w, key, dt, 0, NULL, abuf);
        }
        free(flat);
        lycoris_tensors_free(&t);
    }
    cJSON *args = cJSON_CreateObject();
    cJSON_AddStringToObject(args, "algo", algos);
    char *aj = cJSON_PrintUnformatted(args);
    cJSON_Delete(args);
    stw_set_meta(&w, "format", "pt");
    stw_set_meta(&w, "ss_network_module", "lycoris.kohya");
    stw_set_meta(&w, "ss_network_args", aj);
    if (config_json) stw_set_meta(&w, "lycoris_config", config_json);
    free(aj);
    int rc = stw_write(&w, path, e);
    stw_free(&w);
    return rc;
}

/* ---- reading ---- */

/* The suffix of a key (one of SUFFIXES) and the length of its module part; 0 when none. */
static const char *split_key(const char *key, size_t *mod_len) {
    size_t lk = strlen(key);
    for (int i = 0; SUFFIXES[i]; i++) {
        size_t ls = strlen(SUFFIXES[i]);
        if (lk > ls + 1 && key[lk - ls - 1] == '.' && !strcmp(key + lk - ls, SUFFIXES[i])) { *mod_len = lk - ls - 1; return SUFFIXES[i]; }
    }
    return NULL;
}

static const char *refused(const char *key) {
    size_t lk = strlen(key);
    for (size_t i = 0; i < sizeof REFUSED / sizeof *REFUSED; i++) {
        size_t ls = strlen(REFUSED[i].suffix);
        if (lk > ls + 1 && key[lk - ls - 1] == '.' && !strcmp(key + lk - ls, REFUSED[i].suffix)) return REFUSED[i].why;
    }
    return NULL;
}

/* The module a key's module part names: the longest known path whose flattened form ends it after
 * "<prefix>_", or a dotted spelling (transformer.<path>, diffusion_model.<path>, <path>). */
static int resolve(const char *raw, char *const *flat, const char *const *known, int n, const char **prefix_out, size_t *prefix_len) {
    static const char *const DOTTED[] = {"transformer.", "diffusion_model.", "model.diffusion_model.", ""};
    for (size_t p = 0; p < sizeof DOTTED / sizeof *DOTTED; p++) {
        size_t lp = strlen(DOTTED[p]);
        if (strncmp(raw, DOTTED[p], lp)) continue;
        for (int i = 0; i < n; i++) if (!strcmp(raw + lp, known[i])) { *prefix_out = DOTTED[p]; *prefix_len = lp; return i; }
    }
    size_t lr = strlen(raw);
    int best = -1;
    size_t best_len = 0;
    for (int i = 0; i < n; i++) {
        size_t lf = strlen(flat[i]);
        if (lf + 1 < lr && lf > best_len && raw[lr - lf - 1] == '_' && !strcmp(raw + lr - lf, flat[i])) { best = i; best_len = lf; }
    }
    if (best >= 0) { *prefix_out = raw; *prefix_len = lr - best_len - 1; }
    return best;
}

int lycoris_file_detect(const char *path, Err *e) {
    StFile f;
    if (st_open(&f, path, e)) return -1;
    int yes = st_meta(&f, "lycoris_config") != NULL;
    for (int i = 0; i < f.n && !yes; i++) {
        size_t ml;
        const char *s = split_key(f.t[i].name, &ml);
        yes = s && (!strncmp(s, "lokr_", 5) || !strncmp(s, "hada_", 5));
        if (!s && refused(f.t[i].name) && (strstr(f.t[i].name, ".lokr_") || strstr(f.t[i].name, ".hada_"))) yes = 1;
    }
    st_close(&f);
    return yes;
}

void lycoris_file_free(LycorisFileModule *v, int n) {
    for (int i = 0; i < n; i++) lycoris_tensors_free(&v[i].t);
    free(v);
}

static int has_tensor(const LycorisTensors *t, const char *suffix) {
    for (int i = 0; i < t->n; i++) if (!strcmp(t->suffix[i], suffix)) return 1;
    return 0;
}

static int check_values(const char *path, const char *name, const float *v, size_t n, Err *e) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return err_set(e, "%s: LyCORIS tensor '%s' holds %g at index %zu (a diverged or damaged file; values must be finite)", path, name, v[i], i);
    return 0;
}

int lycoris_file_read(const char *path, const char *const *known, int n_known, LycorisFileModule **out, int *n, Err *e) {
    *out = NULL; *n = 0;
    StFile f;
    if (st_open(&f, path, e)) return -1;
    char **flat = xcalloc((size_t)(n_known ? n_known : 1), sizeof *flat);
    for (int i = 0; i < n_known; i++) flat[i] = flatten(known[i]);
    LycorisFileModule *v = xcalloc((size_t)(n_known ? n_known : 1), sizeof *v);
    int *slot = xmalloc((size_t)(n_known ? n_known : 1) * sizeof *slot);
    for (int i = 0; i < n_known; i++) slot[i] = -1;
    int nv = 0, rc = 0;
    char *prefix = NULL;
    for (int i = 0; i < f.n && !rc; i++) {
        const StTensor *t = &f.t[i];
        size_t ml;
        const char *suffix = split_key(t->name, &ml);
        if (!suffix) {
            const char *why = refused(t->name);
            rc = why ? err_setc(e, EXIT_RUNTIME, "%s: key '%s': not supported yet: %s", path, t->name, why)
                     : err_set(e, "%s: key '%s' is not a LyCORIS tensor (expected <module>.lokr_w1 / lokr_w2 / hada_w1_a / lora_up.weight / alpha ...)",
                               path, t->name);
            break;
        }
        char *raw = xmalloc(ml + 1);
        memcpy(raw, t->name, ml); raw[ml] = 0;
        const char *pstart; size_t plen;
        int k = resolve(raw, flat, known, n_known, &pstart, &plen);
        if (k < 0) { rc = err_set(e, "%s: LyCORIS key '%s' names no module of this transformer", path, t->name); free(raw); break; }
        if (!prefix) { prefix = xmalloc(plen + 1); memcpy(prefix, pstart, plen); prefix[plen] = 0; }
        else if (strlen(prefix) != plen || strncmp(prefix, pstart, plen)) {
            rc = err_set(e, "%s: LyCORIS key '%s' names no module of this transformer (its prefix differs from the file's '%s')", path, t->name, prefix);
            free(raw);
            break;
        }
        free(raw);
        if (t->dtype != DT_F32 && t->dtype != DT_F16 && t->dtype != DT_BF16) {
            rc = err_set(e, "%s: LyCORIS tensor '%s' is %s; expected F32, F16 or BF16", path, t->name, dtype_name(t->dtype));
            break;
        }
        if (slot[k] < 0) { slot[k] = nv; v[nv].module = known[k]; nv++; }
        LycorisTensors *lt = &v[slot[k]].t;
        if (!strcmp(suffix, "alpha")) {
            if (t->numel != 1) { rc = err_set(e, "%s: LyCORIS alpha '%s' has %zu values, expected one", path, t->name, t->numel); break; }
            if (lt->has_alpha) { rc = err_set(e, "%s: module '%s' has two alpha tensors", path, known[k]); break; }
            float *a = st_to_f32(t);
            lt->alpha = a[0];
            free(a);
            lt->has_alpha = 1;
            if ((rc = check_values(path, t->name, &lt->alpha, 1, e))) break;
            if (lt->alpha < 0) { rc = err_set(e, "%s: LyCORIS alpha '%s' is %g, expected a value >= 0", path, t->name, lt->alpha); break; }
            continue;
        }
        if (has_tensor(lt, suffix)) { rc = err_set(e, "%s: module '%s' has two '%s' tensors (two spellings of one module?)", path, known[k], suffix); break; }
        if (t->ndim != 2 || t->shape[0] < 1 || t->shape[1] < 1 || t->shape[0] > (1 << 24) || t->shape[1] > (1 << 24)) {
            rc = err_set(e, "%s: LyCORIS tensor '%s' must be a matrix with sizes in 1..16777216", path, t->name);
            break;
        }
        if (lt->n == LYCO_MAX_TENSORS) { rc = err_set(e, "%s: module '%s' has too many tensors", path, known[k]); break; }
        float *vals = st_to_f32(t);
        if ((rc = check_values(path, t->name, vals, t->numel, e))) { free(vals); break; }
        lt->suffix[lt->n] = suffix; lt->rows[lt->n] = (int)t->shape[0]; lt->cols[lt->n] = (int)t->shape[1]; lt->data[lt->n] = vals;
        lt->n++;
    }
    st_close(&f);
    for (int i = 0; i < nv && !rc; i++)
        if (!v[i].t.n) rc = err_set(e, "%s: module '%s' has an alpha but no weights", path, v[i].module);
    if (!rc && !nv) rc = err_set(e, "%s: no LyCORIS weights found", path);
    for (int i = 0; i < n_known; i++) free(flat[i]);
    free(flat); free(slot); free(prefix);
    if (rc) { lycoris_file_free(v, nv); return -1; }
    *out = v; *n = nv;
    return 0;
}
