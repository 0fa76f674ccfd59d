/* bench train-step: times LoRA training steps (forward, backward, optimizer) of a Qwen-Image or
 * LongCat transformer, loaded the way `train` loads one: config.json + a memory-mapped safetensors
 * checkpoint, the frozen base quantised tensor by tensor (its bf16 pages released as they are
 * packed), LoRA adapters, the family's Denoiser. The model comes from --model DIR or is written
 * first, tensor by tensor, as seeded random bf16 weights of the requested size into a temporary
 * folder (removed once mapped). Next to its own GFLOP/s it measures a plain sgemm of the step's
 * dominant shape in the same process, so the ratio says how close the step runs to the machine's
 * GEMM speed under the same load. A benchmark, never a test. */
#include "cli/commands.h"
#include "base/files.h"
#include "base/meminfo.h"
#include "models/family.h"
#include "models/model_init.h"
#include "models/transformer.h"
#include "train/optim.h"
#include <cblas.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *USAGE =
    "usage: simpletuner bench train-step [--family qwen_image|longcat_image] [--model DIR | --save-model DIR]\n"
    "                                    [--dim D] [--heads H] [--layers L] [--single S]\n"
    "                                    [--img N] [--ref R] [--txt T] [--rank R] [--steps K] [--threads T]\n"
    "                                    [--precision bf16|int8|fp8|nf4] [--checkpointing]\n"
    "\n"
    "Times K LoRA training steps of a transformer loaded as `train` loads it (mapped checkpoint, frozen\n"
    "base quantised tensor by tensor, LoRA rank R on the default targets, AdamW): forward over N target\n"
    "+ R reference image tokens and T text tokens, backward into the adapters. Prints the median\n"
    "ms/step, GFLOP/s of the GEMM work the step does (linears forward and input-backward, attention\n"
    "forward and backward, the recomputed forward with --checkpointing), a plain sgemm of the step's\n"
    "dominant shape measured in the same process and the ratio, the resident memory after loading\n"
    "and the peak.\n"
    "  --model DIR   a model folder (its transformer/) or a transformer folder; the sizes are its own\n"
    "  otherwise     seeded random bf16 weights of --dim/--heads/--layers (LongCat: --layers double\n"
    "                and --single single blocks, default 2 x layers) written to a temporary folder,\n"
    "                or kept in --save-model DIR (a new folder) for later --model runs\n"
    "  --steps 0     time the first step itself (no warm-up step): one step in all\n"
    "Defaults: --family qwen_image --dim 256 --heads 4 --layers 4 --img 256 --ref 0 --txt 32 --rank 16\n"
    "--steps 5 --precision bf16.\n";

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
static int cmp_d(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

static void grid_of(int n, int *h, int *w) {
    int s = (int)sqrt((double)n);
    while (s > 1 && n % s) s--;
    *h = s; *w = n / s;
}

typedef struct BenchArgs {
    const char *family, *model, *save, *prec;
    int dim, heads, layers, single, img, ref, txt, rank, steps, ckpt;
    int sized;               /* a size flag was given (they conflict with --model) */
} BenchArgs;

/* The transformer under test and the sizes the FLOP count needs. */
typedef struct BenchModel {
    Transformer t;
    int dim, heads, blocks;
} BenchModel;

/* axes_dims_rope for a head width: the published 16/56/56 split scaled (each part even). */
static void rope_axes(int hd, int ax[3]) {
    ax[0] = hd / 8 * 2; ax[1] = ax[2] = (hd - ax[0]) / 2;
    if (ax[1] % 2) { ax[0] += 2; ax[1] = ax[2] = (hd - ax[0]) / 2; }
}

static void set_number(cJSON *j, const char *key, double v) {
    if (cJSON_GetObjectItemCaseSensitive(j, key)) cJSON_ReplaceItemInObjectCaseSensitive(j, key, cJSON_CreateNumber(v));
    else cJSON_AddNumberToObject(j, key, v);
}

/* Writes <dir>/config.json (the family's published config with the requested widths and depths)
 * and the streamed random checkpoint. */
static int write_random_model(const BenchArgs *a, const ModelFamily *fam, const char *dir, Err *e) {
    int hd = a->dim / a->heads, ax[3];
    rope_axes(hd, ax);
    ModelInitSpec spec = {.family = a->family, .size = SIZE_FULL, .out = dir, .seed = 1, .weights = 1, .layers = a->layers,
                          .single_layers = a->single > 0 ? a->single : 0};
    cJSON *j = fam->init_transformer_config(&spec, 0, a->dim);
    set_number(j, "attention_head_dim", hd);
    set_number(j, "num_attention_heads", a->heads);
    cJSON_ReplaceItemInObjectCaseSensitive(j, "axes_dims_rope", cJSON_CreateIntArray(ax, 3));
    if (a->single == 0) set_number(j, "num_single_layers", 0);
    char *cfg = path_join(dir, "config.json"), *txt = cJSON_Print(j);
    char *wf = path_join(dir, "diffusion_pytorch_model.safetensors");
    int rc = file_write_atomic(cfg, txt, strlen(txt), e);
    if (!rc) rc = fam->transformer->write_random(j, 1, DT_BF16, DT_BF16, wf, e);   /* bf16, as published */
    cJSON_Delete(j); free(cfg); free(txt); free(wf);
    return rc;
}

/* Loads, quantises (releasing the mapped pages) and adapts the transformer in dir, as train does. */
static int load_model(BenchModel *b, const BenchArgs *a, const ModelFamily *fam, const char *dir, QuantKind qk, Err *e) {
    memset(b, 0, sizeof *b);
    Transformer *t = &b->t;
    if (transformer_load(t, fam->transformer, dir, e)) return -1;
    if (linear_set_quantize(t->linears, qk, e)) return -1;
    t->checkpointing = a->ckpt;
    /* the training default of longcat_reference_timestep (zero): references at t = 0, as SimpleTuner trains */
    t->refs_t0_in_training = fam->reference_timestep_key && a->ref > 0;
    LoraSpec ls = {a->rank, (float)a->rank, 0.0f, NULL, 0, 2};
    if (linear_set_attach_lora(t->linears, &ls, e)) return -1;
    transformer_bind_denoiser(t);
    /* the sizes, from the config the family just read */
    char *cp = path_join(dir, "config.json");
    char *txt = file_read_all(cp, NULL, e);
    free(cp);
    cJSON *j = txt ? cJSON_Parse(txt) : NULL;
    free(txt);
    if (!j) return err_set(e, "%s/config.json: unreadable", dir);
    const cJSON *hd = cJSON_GetObjectItemCaseSensitive(j, "attention_head_dim"), *h = cJSON_GetObjectItemCaseSensitive(j, "num_attention_heads");
    const cJSON *nl = cJSON_GetObjectItemCaseSensitive(j, "num_layers"), *ns = cJSON_GetObjectItemCaseSensitive(j, "num_single_layers");
    b->heads = cJSON_IsNumber(h) ? h->valueint : 24;
    b->dim = b->heads * (cJSON_IsNumber(hd) ? hd->valueint : 128);
    b->blocks = (cJSON_IsNumber(nl) ? nl->valueint : 60) + (cJSON_IsNumber(ns) ? ns->valueint : 0);
    cJSON_Delete(j);
    return 0;
}

/* GEMM FLOPs one training step executes. Per block (both families): linears 12·S·D² multiply-adds
 * (Qwen: q/k/v/out + 4D MLP per stream; LongCat single blocks: q/k/v, the 4D MLP and the 5D→D
 * output), attention 2·S²·D forward (QKᵀ, PV) and 5·S²·D backward (the scores recomputed, dV, dP,
 * dQ, dK). The frozen base needs input gradients only (the linears' forward work again); gradient
 * checkpointing recomputes each block's forward once more. Embedders, heads, modulation and the
 * rank-r LoRA branches (~1 %) are left out. */
static double step_flops(const BenchModel *b, int S, int ckpt) {
    double D = b->dim, lin = 2.0 * 12 * S * D * D, att_f = 2.0 * 2 * (double)S * S * D, att_b = 2.0 * 5 * (double)S * S * D;
    return b->blocks * ((lin + att_f) * (ckpt ? 2 : 1) + lin + att_b);
}

/* GFLOP/s of one C[m,n] = A[m,k]·B[n,k]ᵀ (the linears' layout) on the current thread count. The
 * buffers live only for the call (they are not part of a training step's memory). */
static double sgemm_gflops(int m, int n, int k) {
    float *A = xmalloc((size_t)m * k * sizeof(float)), *B = xmalloc((size_t)n * k * sizeof(float)), *C = xmalloc((size_t)m * n * sizeof(float));
    Rng r; rng_seed(&r, 5);
    rng_fill_uniform(&r, A, (size_t)m * k, -1, 1); rng_fill_uniform(&r, B, (size_t)n * k, -1, 1);
    int reps = 0;
    double t0 = now(), t;
    do {   /* small shapes: repeat for a measurable time */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, A, k, B, k, 0.0f, C, n);
        reps++;
    } while ((t = now() - t0) < 0.3);
    free(A); free(B); free(C);
    return 2.0 * m * n * k * reps / t / 1e9;
}

static int parse_args(int argc, char **argv, BenchArgs *a, int *help, Err *e) {
    *a = (BenchArgs){MODEL_FAMILIES[0]->name, NULL, NULL, "bf16", 256, 4, 4, -1, 256, 0, 32, 16, 5, 0, 0};
    /* (the default family: the first of the family table) */
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { *help = 1; return 0; }
        if (!strcmp(o, "--checkpointing")) { a->ckpt = 1; continue; }
        if (!v) return err_setc(e, EXIT_USAGE, "bench: %s needs a value", o);
        i++;
        struct { const char *name; int *dst; int size; } ints[] = {
            {"--dim", &a->dim, 1}, {"--heads", &a->heads, 1}, {"--layers", &a->layers, 1}, {"--single", &a->single, 1},
            {"--img", &a->img, 0}, {"--ref", &a->ref, 0}, {"--txt", &a->txt, 0}, {"--rank", &a->rank, 0}, {"--steps", &a->steps, 0},
        };
        int hit = 0;
        for (size_t k = 0; k < sizeof ints / sizeof *ints && !hit; k++) {
            if (strcmp(o, ints[k].name)) continue;
            char *end; long n = strtol(v, &end, 10);
            if (*end || n < 0 || n > 1000000) return err_setc(e, EXIT_USAGE, "bench: %s expects a non-negative integer, got '%s'", o, v);
            *ints[k].dst = (int)n; a->sized |= ints[k].size; hit = 1;
        }
        if (hit) continue;
        if (!strcmp(o, "--threads")) {
            int n = atoi(v);
            if (n < 1) return err_setc(e, EXIT_USAGE, "bench: --threads expects a positive integer, got '%s'", v);
            omp_set_num_threads(n);   /* OpenBLAS' OpenMP build follows it too */
        } else if (!strcmp(o, "--precision")) a->prec = v;
        else if (!strcmp(o, "--family")) a->family = v;
        else if (!strcmp(o, "--model")) a->model = v;
        else if (!strcmp(o, "--save-model")) a->save = v;
        else return err_setc(e, EXIT_USAGE, "bench: unknown option '%s'\n%s", o, USAGE);
    }
    if (!family_find(a->family)) return err_setc(e, EXIT_USAGE, "bench: --family '%s' is not one of qwen_image, longcat_image", a->family);
    if (a->model && a->save) return err_setc(e, EXIT_USAGE, "bench: --model reads a folder, --save-model writes a new one: give one of them");
    if (a->save && !model_init_dir_is_empty(a->save)) return err_setc(e, EXIT_USAGE, "bench: --save-model %s exists and is not empty", a->save);
    if (a->model && a->sized) return err_setc(e, EXIT_USAGE, "bench: --dim/--heads/--layers/--single describe a random model; with --model DIR the sizes are the folder's");
    if (a->single >= 0 && !family_find(a->family)->single_blocks) return err_setc(e, EXIT_USAGE, "bench: --single applies to --family longcat_image");
    if (!a->model && (a->heads < 1 || a->dim % a->heads || (a->dim / a->heads) % 8 || a->layers < 1))
        return err_setc(e, EXIT_USAGE, "bench: dim must split into heads of a multiple of 8 values; layers positive");
    if (a->img < 1 || a->txt < 1 || a->rank < 1) return err_setc(e, EXIT_USAGE, "bench: img, txt and rank must be positive");
    return 0;
}

/* The transformer folder of --model (a model folder's transformer/, or the folder itself). */
static char *transformer_dir(const char *model) {
    char *t = path_join(model, "transformer");
    if (dir_exists(t)) return t;
    free(t);
    return xstrdup(model);
}

/* Removes the temporary folder's files and itself (the mapping keeps the checkpoint readable). */
static void remove_tmp(const char *dir) {
    char *a = path_join(dir, "config.json"), *b = path_join(dir, "diffusion_pytorch_model.safetensors");
    unlink(a); unlink(b); rmdir(dir);
    free(a); free(b);
}

int cmd_bench(int argc, char **argv, Err *e) {
    if (argc < 1 || strcmp(argv[0], "train-step")) {
        if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) { fputs(USAGE, stdout); return 0; }
        return err_setc(e, EXIT_USAGE, "bench: only `bench train-step` exists\n%s", USAGE);
    }
    BenchArgs a; int help = 0;
    if (parse_args(argc, argv, &a, &help, e)) return -1;
    if (help) { fputs(USAGE, stdout); return 0; }
    const ModelFamily *fam = family_find(a.family);
    QuantKind qk = QUANT_NONE;
    if (strcmp(a.prec, "bf16")) {
        char name[32]; snprintf(name, sizeof name, !strcmp(a.prec, "nf4") ? "nf4-bnb" : "%s-quanto", a.prec);
        if (quant_parse(name, &qk, e)) return -1;
    }
    char *dir = NULL, tmpl[4096];
    if (a.model) dir = transformer_dir(a.model);
    else if (a.save) {
        if (dir_make(a.save, e)) return -1;
        dir = xstrdup(a.save);
        if (write_random_model(&a, fam, dir, e)) { remove_tmp(dir); free(dir); return -1; }
    } else {
        const char *td = getenv("TMPDIR");
        snprintf(tmpl, sizeof tmpl, "%s/st_bench_XXXXXX", td && *td ? td : "/tmp");
        if (!mkdtemp(tmpl)) return err_set(e, "bench: cannot create a temporary folder from %s", tmpl);
        dir = xstrdup(tmpl);
        if (write_random_model(&a, fam, dir, e)) { remove_tmp(dir); free(dir); return -1; }
    }
    mem_peak_reset();   /* writing the random model is not part of what train holds */
    BenchModel b;
    int rc = load_model(&b, &a, fam, dir, qk, e);
    if (!a.model && !a.save) remove_tmp(dir);
    free(dir);
    if (rc) { transformer_free(&b.t); return -1; }
    const double load_rss = mem_rss_kib() / 1024.0;
    OptimUserKeys ok; optim_user_keys_init(&ok); ok.optimizer = "torch-adamw"; ok.learning_rate = 1e-4;
    OptimConfig oc; Optimizer opt;
    if (optim_config_resolve(&ok, &oc, e) || optim_init(&opt, &oc, b.t.den.params, b.t.den.n_params, 1, e)) { transformer_free(&b.t); return -1; }
    const int N = a.img + a.ref, C = b.t.in_channels;
    float *x = xmalloc((size_t)N * C * 4), *t = xmalloc((size_t)a.txt * b.t.txt_dim * 4), *pred = xmalloc((size_t)a.img * C * 4), *g = xmalloc((size_t)a.img * C * 4);
    Rng rng; rng_seed(&rng, 2);
    rng_fill_normal(&rng, x, (size_t)N * C, 0, 1); rng_fill_normal(&rng, t, (size_t)a.txt * b.t.txt_dim, 0, 1); rng_fill_normal(&rng, g, (size_t)a.img * C, 0, 1);
    DenoiseInput in = {0};
    in.n_img = a.ref ? 2 : 1;
    grid_of(a.img, &in.grid_h[0], &in.grid_w[0]);
    if (a.ref) grid_of(a.ref, &in.grid_h[1], &in.grid_w[1]);
    in.channels = C; in.tokens = x; in.txt_len = a.txt; in.txt_dim = b.t.txt_dim; in.txt = t;
    in.sigma = 0.5f; in.training = 1; in.rng = &rng;
    /* one sgemm of the step's dominant shape (every token row through a 4D-wide MLP projection)
     * after every step: the machine's GEMM speed sampled under the same load as the steps */
    const int S = N + a.txt;
    const int warm = a.steps > 0, steps = warm ? a.steps : 1;   /* --steps 0: the first step is the timed one */
    double *ms = xmalloc((size_t)steps * sizeof(double)), *sg = xmalloc(((size_t)steps + 1) * sizeof(double)), peak = 0;
    for (int s = 0; s < steps + warm && !rc; s++) {   /* step 0 warms up (allocations) */
        double t0 = now();
        for (int i = 0; i < b.t.den.n_params; i++) memset(b.t.den.params[i].grad, 0, b.t.den.params[i].numel * 4);
        rc = b.t.den.forward(b.t.den.self, &in, pred, e);
        if (!rc) rc = b.t.den.backward(b.t.den.self, g, e);
        if (!rc) optim_step(&opt, 1e-4);
        if (s >= warm) ms[s - warm] = 1e3 * (now() - t0);
        double p = mem_peak_kib() / 1024.0;   /* the training peak, before the sgemm's own buffers */
        if (p > peak) peak = p;
        if (!rc) sg[s] = sgemm_gflops(S, 4 * b.dim, b.dim);
        mem_peak_reset();
    }
    if (!rc) {
        const int ns = steps + warm;
        qsort(ms, (size_t)steps, sizeof *ms, cmp_d);
        qsort(sg, (size_t)ns, sizeof *sg, cmp_d);
        double med = ms[steps / 2], ref = sg[ns / 2];
        double gf = step_flops(&b, S, a.ckpt) / (med * 1e-3) / 1e9;
        printf("train-step %s dim %d heads %d blocks %d img %d ref %d txt %d rank %d precision %s%s: %.1f ms/step, %.1f GFLOP/s, "
               "sgemm %dx%dx%d %.1f GFLOP/s, ratio %.2f, RSS after loading %.1f MiB, peak RSS %.1f MiB\n",
               a.family, b.dim, b.heads, b.blocks, a.img, a.ref, a.txt, a.rank, a.prec, a.ckpt ? " checkpointing" : "", med, gf,
               S, 4 * b.dim, b.dim, ref, gf / ref, load_rss, peak);
    }
    free(sg);
    free(ms); free(x); free(t); free(pred); free(g);
    optim_free(&opt);
    transformer_free(&b.t);
    return rc;
}
