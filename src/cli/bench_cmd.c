/* bench train-step: times LoRA training steps (forward, backward, optimizer) of a seeded random
 * Qwen-Image-architecture transformer of a given size. A benchmark, never a test. */
#include "cli/commands.h"
#include "models/qwen_image/qwen_image.h"
#include "train/optim.h"
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static const char *USAGE =
    "usage: simpletuner bench train-step [--dim D] [--heads H] [--layers L] [--img N] [--ref R] [--txt T]\n"
    "                                    [--rank R] [--steps K] [--threads T] [--precision bf16|int8|fp8|nf4]\n"
    "                                    [--checkpointing]\n"
    "\n"
    "Builds a Qwen-Image transformer of that size with seeded random bf16 weights and times K LoRA\n"
    "training steps (forward over N target + R reference image tokens and T text tokens, backward\n"
    "into the LoRA adapters, AdamW). Prints the median ms/step, achieved GFLOP/s (forward plus input\n"
    "backward of every linear and attention, i.e. 2x forward FLOPs) and peak RSS.\n"
    "Defaults: --dim 256 --heads 4 --layers 4 --img 256 --ref 0 --txt 32 --rank 16 --steps 5.\n";

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
static int cmp_d(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

static void grid_of(int n, int *h, int *w) {
    int s = (int)sqrt((double)n);
    while (s > 1 && n % s) s--;
    *h = s; *w = n / s;
}

int cmd_bench(int argc, char **argv, Err *e) {
    if (argc < 1 || strcmp(argv[0], "train-step")) {
        if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) { fputs(USAGE, stdout); return 0; }
        return err_setc(e, EXIT_USAGE, "bench: only `bench train-step` exists\n%s", USAGE);
    }
    int dim = 256, heads = 4, layers = 4, img = 256, ref = 0, txt = 32, rank = 16, steps = 5, ckpt = 0;
    const char *prec = "bf16";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(USAGE, stdout); return 0; }
        if (!strcmp(a, "--checkpointing")) { ckpt = 1; continue; }
        if (!v) return err_setc(e, EXIT_USAGE, "bench: %s needs a value", a);
        i++;
        if (!strcmp(a, "--dim")) dim = atoi(v);
        else if (!strcmp(a, "--heads")) heads = atoi(v);
        else if (!strcmp(a, "--layers")) layers = atoi(v);
        else if (!strcmp(a, "--img")) img = atoi(v);
        else if (!strcmp(a, "--ref")) ref = atoi(v);
        else if (!strcmp(a, "--txt")) txt = atoi(v);
        else if (!strcmp(a, "--rank")) rank = atoi(v);
        else if (!strcmp(a, "--steps")) steps = atoi(v);
        else if (!strcmp(a, "--threads")) omp_set_num_threads(atoi(v)); /* OpenBLAS' OpenMP build follows it too */
        else if (!strcmp(a, "--precision")) prec = v;
        else return err_setc(e, EXIT_USAGE, "bench: unknown option '%s'\n%s", a, USAGE);
    }
    if (dim % heads || (dim / heads) % 8 || img < 1 || txt < 1 || steps < 1 || rank < 1)
        return err_setc(e, EXIT_USAGE, "bench: dim must split into heads of a multiple of 8; img, txt, steps, rank positive");
    QiConfig c = {0};
    c.in_channels = 64; c.out_channels = 16; c.patch_size = 2; c.num_layers = layers; c.heads = heads;
    c.head_dim = dim / heads; c.dim = dim; c.joint_attention_dim = dim;
    c.axes[0] = c.head_dim / 8 * 2; c.axes[1] = c.axes[2] = (c.head_dim - c.axes[0]) / 2;
    if (c.axes[1] % 2) { c.axes[0] += 2; c.axes[1] = c.axes[2] = (c.head_dim - c.axes[0]) / 2; }
    QiModel m;
    if (qi_init_random(&m, &c, 1, DT_BF16, e)) return -1;
    QuantKind qk = QUANT_NONE;
    if (strcmp(prec, "bf16")) {
        char name[32]; snprintf(name, sizeof name, !strcmp(prec, "nf4") ? "nf4-bnb" : "%s-quanto", prec);
        if (quant_parse(name, &qk, e) || linear_set_quantize(&m.linears, qk, e)) { qi_free(&m); return -1; }
    }
    m.checkpointing = ckpt;
    Rng rng; rng_seed(&rng, 2);
    LoraSpec ls = {rank, (float)rank, 0.0f, NULL, 0, 2};
    if (linear_set_attach_lora(&m.linears, &ls, e)) { qi_free(&m); return -1; }
    int n_params;
    TrainParam *params = (TrainParam *)linear_set_params(&m.linears, &n_params);
    OptimUserKeys ok; optim_user_keys_init(&ok); ok.optimizer = "torch-adamw"; ok.learning_rate = 1e-4;
    OptimConfig oc; Optimizer opt;
    if (optim_config_resolve(&ok, &oc, e) || optim_init(&opt, &oc, params, n_params, 1, e)) { qi_free(&m); return -1; }
    int N = img + ref;
    float *x = xmalloc((size_t)N * 64 * 4), *t = xmalloc((size_t)txt * dim * 4), *out = xmalloc((size_t)N * 64 * 4), *g = xmalloc((size_t)N * 64 * 4);
    rng_fill_normal(&rng, x, (size_t)N * 64, 0, 1); rng_fill_normal(&rng, t, (size_t)txt * dim, 0, 1); rng_fill_normal(&rng, g, (size_t)N * 64, 0, 1);
    QiInput in = {0};
    in.n_img = ref ? 2 : 1;
    grid_of(img, &in.img_h[0], &in.img_w[0]);
    if (ref) grid_of(ref, &in.img_h[1], &in.img_w[1]);
    in.img = x; in.txt = t; in.txt_len = txt; in.timestep = 0.5f; in.training = 1;
    double *ms = xmalloc((size_t)steps * sizeof(double));
    int rc = 0;
    for (int s = 0; s <= steps && !rc; s++) {   /* step 0 warms up (allocations) */
        double t0 = now();
        for (int i = 0; i < n_params; i++) memset(params[i].grad, 0, params[i].numel * 4);
        rc = qi_forward(&m, &in, out, NULL, e);
        if (!rc) rc = qi_backward(&m, g, NULL, NULL, e);
        if (!rc) optim_step(&opt, 1e-4);
        if (s > 0) ms[s - 1] = 1e3 * (now() - t0);
    }
    if (!rc) {
        qsort(ms, (size_t)steps, sizeof *ms, cmp_d);
        double med = ms[steps / 2];
        /* forward FLOPs: per block 2·tokens·(in·out) for every linear, attention 4·S²·dim */
        double D = dim, S = N + txt, blk = 2.0 * (N + txt) * (4 * D * D + 2 * D * 4 * D * 2) + 2.0 * 2 * 6 * D * D + 4.0 * S * S * D;
        double fwd = layers * blk + 2.0 * N * 64 * D * 2 + 2.0 * txt * D * D;
        struct rusage ru; getrusage(RUSAGE_SELF, &ru);
        printf("train-step dim %d heads %d layers %d img %d ref %d txt %d rank %d precision %s%s: %.1f ms/step, %.1f GFLOP/s, peak RSS %.1f MiB\n",
               dim, heads, layers, img, ref, txt, rank, prec, ckpt ? " checkpointing" : "", med, 2.0 * fwd / (med * 1e-3) / 1e9, ru.ru_maxrss / 1024.0);
    }
    free(ms); free(x); free(t); free(out); free(g);
    optim_free(&opt);
    qi_free(&m);
    return rc;
}
