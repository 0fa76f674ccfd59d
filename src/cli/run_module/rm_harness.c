#include "cli/run_module/run_module.h"
#include "base/files.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int io_index(const RunModule *rm, const StTensor *t) { return (int)(t - rm->io->t); }

const StTensor *rm_input_opt(RunModule *rm, const char *name) {
    const StTensor *t = st_find(rm->io, name);
    if (t) rm->is_input[io_index(rm, t)] = 1;
    return t;
}

const StTensor *rm_input(RunModule *rm, const char *name, Err *e) {
    const StTensor *t = rm_input_opt(rm, name);
    if (!t) err_set(e, "%s/io.safetensors: missing input tensor '%s'", rm->dir, name);
    return t;
}

float *rm_input_f32(RunModule *rm, const char *name, const StTensor **tp, Err *e) {
    const StTensor *t = rm_input(rm, name, e);
    if (tp) *tp = t;
    return t ? st_to_f32(t) : NULL;
}

static int cmp_cstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int rm_cases(const RunModule *rm, const char *suffix, char ***cases) {
    char **out = NULL; int n = 0;
    size_t ls = strlen(suffix);
    for (int i = 0; i < rm->io->n; i++) {
        const char *nm = rm->io->t[i].name;
        size_t l = strlen(nm);
        if (l <= ls + 1 || strcmp(nm + l - ls, suffix) != 0 || nm[l - ls - 1] != '.') continue;
        char *c = xmalloc(l - ls); memcpy(c, nm, l - ls - 1); c[l - ls - 1] = 0;
        int dup = 0;
        for (int j = 0; j < n && !dup; j++) dup = strcmp(out[j], c) == 0;
        if (dup) { free(c); continue; }
        out = xrealloc(out, (size_t)(n + 1) * sizeof *out);
        out[n++] = c;
    }
    if (n) qsort(out, (size_t)n, sizeof *out, cmp_cstr);
    *cases = out;
    return n;
}

void rm_free_cases(char **cases, int n) { for (int i = 0; i < n; i++) free(cases[i]); free(cases); }

void rm_output(RunModule *rm, const char *name, DType dt, int ndim, const int64_t *shape, const void *data) {
    stw_add(rm->out, name, dt, ndim, shape, data);
}

void rm_output_f32(RunModule *rm, const char *name, int ndim, const int64_t *shape, const float *data) {
    stw_add_f32(rm->out, name, ndim, shape, data);
}

void rm_capture(void *ctx, const char *scope, const char *name, DType dt, int ndim, const int64_t *shape, const void *data) {
    StWriter *w = ctx;
    char full[256];
    if (scope) snprintf(full, sizeof full, "%s.%s", scope, name);
    else snprintf(full, sizeof full, "%s", name);
    if (!stw_find(w, full)) stw_add(w, full, dt, ndim, shape, data);
}

const float *rm_captured(const StWriter *w, const char *name, Err *e) {
    const StTensor *t = stw_find(w, name);
    if (!t || t->dtype != DT_F32) { err_set(e, "the component reported no f32 tensor '%s'", name); return NULL; }
    return t->data;
}

static double *to_f64(const StTensor *t) {
    double *d = xmalloc((t->numel ? t->numel : 1) * sizeof(double));
    if (t->dtype == DT_F64) { memcpy(d, t->data, t->numel * 8); return d; }
    if (t->dtype == DT_I64) { for (size_t i = 0; i < t->numel; i++) { int64_t v; memcpy(&v, (const char *)t->data + 8 * i, 8); d[i] = (double)v; } return d; }
    float *f = st_to_f32(t);
    for (size_t i = 0; i < t->numel; i++) d[i] = f[i];
    free(f);
    return d;
}

/* Upstream's shape exactly: a component reports what the PyTorch code returns, singleton axes too. */
static int same_shape(const StTensor *a, const StTensor *b) {
    if (a->numel != b->numel || a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++) if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

/* Compares every expected io tensor with what was produced. Returns the number of failures. */
static int check_outputs(const RunModule *rm, double rtol) {
    int fails = 0, checked = 0;
    for (int i = 0; i < rm->io->n; i++) {
        if (rm->is_input[i]) continue;
        const StTensor *want = &rm->io->t[i];
        const StTensor *got = stw_find(rm->out, want->name);
        checked++;
        if (!got) { printf("FAIL %-48s not produced\n", want->name); fails++; continue; }
        if (!same_shape(got, want)) { printf("FAIL %-48s shape mismatch (numel %zu vs expected %zu)\n", want->name, got->numel, want->numel); fails++; continue; }
        double *a = to_f64(got), *b = to_f64(want);
        double maxabs = 0, maxref = 0;
        int nonfinite = 0;
        for (size_t k = 0; k < want->numel; k++) {
            if (!isfinite(a[k]) && !(isnan(a[k]) && isnan(b[k]))) nonfinite = 1;
            double d = fabs(a[k] - b[k]);
            if (d > maxabs) maxabs = d;
            if (fabs(b[k]) > maxref) maxref = fabs(b[k]);
        }
        double rel = maxref > 0 ? maxabs / maxref : maxabs;
        int ok = !nonfinite && rel <= rtol;
        printf("%s %-48s max_abs %.3e  max_rel %.3e\n", ok ? "PASS" : "FAIL", want->name, maxabs, rel);
        fails += !ok;
        free(a); free(b);
    }
    printf("%d tensors checked, %d failed (rtol %.1e)\n", checked, fails, rtol);
    return fails;
}

static const char *USAGE =
    "usage: simpletuner run-module DIR [--output OUT.safetensors] [--check] [--rtol R]\n"
    "\n"
    "Runs one component on the inputs in DIR/io.safetensors and writes every output it computes\n"
    "under the golden tensor names. DIR holds config.json (its _class_name, or architectures[0],\n"
    "chooses the component), weights.safetensors (absent for schedulers) and io.safetensors;\n"
    "a pipeline dir holds pipeline.json instead of config.json.\n"
    "\n"
    "  --output FILE   write the computed tensors to FILE (safetensors, atomic)\n"
    "  --check         compare every expected tensor of io.safetensors with ours; print max abs\n"
    "                  error, max relative error (max abs diff / max abs expected) and PASS/FAIL;\n"
    "                  exit 1 on any FAIL or any expected tensor not produced\n"
    "  --rtol R        relative tolerance for --check (default 1e-4)\n";

static char *config_class(const cJSON *cfg) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(cfg, "_class_name");
    if (cJSON_IsString(c)) return c->valuestring;
    c = cJSON_GetObjectItemCaseSensitive(cfg, "pipeline");
    if (cJSON_IsString(c)) return c->valuestring;
    c = cJSON_GetObjectItemCaseSensitive(cfg, "architectures");
    if (cJSON_IsArray(c) && cJSON_IsString(cJSON_GetArrayItem(c, 0))) return cJSON_GetArrayItem(c, 0)->valuestring;
    /* transformers configs saved from a bare config object carry only "model_type" */
    static const char *const MODEL_TYPES[][2] = { {"qwen2_5_vl", "Qwen2_5_VLForConditionalGeneration"} };
    c = cJSON_GetObjectItemCaseSensitive(cfg, "model_type");
    for (size_t i = 0; cJSON_IsString(c) && i < sizeof MODEL_TYPES / sizeof MODEL_TYPES[0]; i++)
        if (!strcmp(c->valuestring, MODEL_TYPES[i][0])) return (char *)MODEL_TYPES[i][1];
    return NULL;
}

int cmd_run_module(int argc, char **argv, Err *e) {
    const char *dir = NULL, *output = NULL;
    int check = 0;
    double rtol = 1e-4;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { fputs(USAGE, stdout); return 0; }
        else if (!strcmp(argv[i], "--check")) check = 1;
        else if (!strcmp(argv[i], "--output") && i + 1 < argc) output = argv[++i];
        else if (!strcmp(argv[i], "--rtol") && i + 1 < argc) {
            char *end; rtol = strtod(argv[++i], &end);
            if (*end || rtol <= 0) return err_setc(e, EXIT_USAGE, "run-module: --rtol expects a positive number, got '%s'", argv[i]);
        }
        else if (argv[i][0] == '-') return err_setc(e, EXIT_USAGE, "run-module: unknown option '%s'\n%s", argv[i], USAGE);
        else if (!dir) dir = argv[i];
        else return err_setc(e, EXIT_USAGE, "run-module: unexpected argument '%s'\n%s", argv[i], USAGE);
    }
    if (!dir) return err_setc(e, EXIT_USAGE, "run-module: missing DIR\n%s", USAGE);
    if (!output && !check) return err_setc(e, EXIT_USAGE, "run-module: give --output FILE and/or --check\n%s", USAGE);

    int rc = -1;
    char *cfg_path = path_join(dir, "config.json");
    if (!file_exists(cfg_path)) { free(cfg_path); cfg_path = path_join(dir, "pipeline.json"); }
    char *wpath = path_join(dir, "weights.safetensors"), *iopath = path_join(dir, "io.safetensors");
    char *txt = NULL;
    cJSON *cfg = NULL;
    StFile weights = {0}, io = {0};
    StWriter out; stw_init(&out);
    RunModule rm = {0};
    int have_w = 0, have_io = 0;

    if (!(txt = file_read_all(cfg_path, NULL, e))) { err_prefix(e, "run-module: %s has no config.json or pipeline.json", dir); goto done; }
    if (!(cfg = cJSON_Parse(txt))) { err_set(e, "%s: not valid JSON", cfg_path); goto done; }
    const char *cls = config_class(cfg);
    if (!cls) { err_set(e, "%s: no \"_class_name\", \"pipeline\" or \"architectures\" to choose the component", cfg_path); goto done; }
    const RunModuleComponent *comp = NULL;
    for (const RunModuleComponent *c = RUN_MODULE_COMPONENTS; c->class_name; c++)
        if (!strcmp(c->class_name, cls)) comp = c;
    if (!comp) {
        char known[1024] = ""; size_t k = 0;
        for (const RunModuleComponent *c = RUN_MODULE_COMPONENTS; c->class_name && k < sizeof known; c++)
            k += (size_t)snprintf(known + k, sizeof known - k, "%s%s", k ? ", " : "", c->class_name);
        err_set(e, "%s: unknown component '%s' (known: %s)", cfg_path, cls, known);
        goto done;
    }
    if (file_exists(wpath)) { if (st_open(&weights, wpath, e)) goto done; have_w = 1; }
    if (st_open(&io, iopath, e)) goto done;
    have_io = 1;
    rm.dir = dir; rm.class_name = cls; rm.config = cfg; rm.weights = have_w ? &weights : NULL;
    rm.io = &io; rm.is_input = xcalloc((size_t)io.n + 1, 1); rm.out = &out;
    if (comp->run(&rm, e)) { err_prefix(e, "run-module %s (%s)", dir, cls); goto done; }
    if (output && stw_write(&out, output, e)) goto done;
    if (check) {
        int fails = check_outputs(&rm, rtol);
        if (fails) { err_set(e, "run-module %s: %d tensor(s) failed the check", dir, fails); goto done; }
    }
    rc = 0;
done:
    free(rm.is_input);
    stw_free(&out);
    if (have_io) st_close(&io);
    if (have_w) st_close(&weights);
    cJSON_Delete(cfg);
    free(txt); free(cfg_path); free(wpath); free(iopath);
    return rc;
}
