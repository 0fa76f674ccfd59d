/* eval: renders the edits of a paired folder and measures them against their targets (PSNR, SSIM);
 * the work is pipeline_eval (pipeline/eval_pairs.c), this file parses flags and prints. */
#include "cli/commands.h"
#include "cli/cli_pipeline.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
    "usage: simpletuner eval [--config FILE | key=value ... | --model_family F --model_flavour V ...]\n"
    "                        --dataset DIR [--lora PATH] [--lora_scale S] [--out DIR] [--limit N] [--json]\n"
    "\n"
    "Renders every (references, instruction) pair of a paired folder with the validation settings and\n"
    "measures each result against the pair's target image:\n"
    "  DIR        images/<name>.png (the target) + images/<name>.txt (the instruction), and\n"
    "             reference/<name>.png, or reference_a/, reference_b/, reference_c/ for several\n"
    "             references: the layout `simpletuner make-dataset --kind edit-pairs` writes\n"
    "  model      as validate: pretrained_model_name_or_path, else the flavour's hub id in the HF cache\n"
    "  LoRA       --lora PATH (--lora_scale multiplies it), else the newest LoRA of output_dir, else\n"
    "             none (the base model); --lora none: the base model even when output_dir has a LoRA\n"
    "  settings   validation_resolution (its first size; unset: the pipeline's own size for the\n"
    "             references), validation_num_inference_steps, the guidance validate uses, seed\n"
    "             validation_seed for every pair\n"
    "  metrics    PSNR = 10 log10(255^2 / MSE) over every pixel and channel (dB; identical images: inf)\n"
    "             and SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, mean over R, G, B), on\n"
    "             the 8-bit images; a target of another size is resized (Lanczos) to the render size;\n"
    "             'unedited' scores the first reference itself as the result: an edit has to beat it\n"
    "  --limit N  only the first N pairs (in name order)\n"
    "  --out DIR  where results go (default <output_dir>/eval):\n"
    "             results/<name>.png   each render\n"
    "             sheet.png            references | result | target per row, with the name, PSNR,\n"
    "                                  SSIM and instruction underneath (sheet-01.png, ... of 16 rows\n"
    "                                  each for more than 16 pairs)\n"
    "             report.json          the report below\n"
    "  --json     print the report as JSON instead of the table:\n"
    "             dataset, out_dir, model, model_family, model_flavour, lora (null: base model),\n"
    "             lora_scale, steps, guidance (0: no CFG), seed, pairs_found, pairs_evaluated,\n"
    "             mean_psnr, mean_ssim, mean_unedited_psnr, pairs[] {name, instruction, references[],\n"
    "             target, result, width, height, target_resized, psnr, ssim, unedited_psnr}, worst[]\n"
    "             (names of the five lowest\n"
    "             PSNRs, lowest first), sheets[]; an infinite PSNR (and a mean that includes one) is\n"
    "             null\n"
    "\n"
    "exit codes: 0 ok, 1 runtime error, 2 usage error (bad flag, missing folder, incomplete pair)\n";

static const char *const EVAL_FLAGS[] = {"--dataset", "--lora", "--lora_scale", "--out", "--limit", NULL};
static const char *const EVAL_SWITCHES[] = {"--json", NULL};

static void fmt_psnr(char *buf, size_t n, double x) {
    if (isinf(x)) snprintf(buf, n, "inf"); else snprintf(buf, n, "%.2f", x);
}
static void fmt_ssim(char *buf, size_t n, double x) {
    if (isnan(x)) snprintf(buf, n, "-"); else snprintf(buf, n, "%.4f", x);
}

static void print_report(const EvalReport *r, FILE *f) {
    char a[32], b[32];
    fprintf(f, "eval of %s: %d of %d pairs, %s %s, LoRA %s", r->dataset, r->n, r->n_found, r->family, r->flavour,
            r->lora ? r->lora : "none (base model)");
    if (r->lora) fprintf(f, " x %.3g", r->lora_scale);
    fprintf(f, ", %d steps, guidance %.3g, seed %llu\n\n", r->steps, r->guidance, (unsigned long long)r->seed);
    int w = 4;
    for (int i = 0; i < r->n; i++) { int l = (int)strlen(r->pairs[i].name); if (l > w) w = l; }
    fprintf(f, "%-*s  %8s  %6s  %-9s  %s\n", w, "pair", "PSNR dB", "SSIM", "size", "instruction");
    for (int i = 0; i < r->n; i++) {
        const EvalPairResult *q = &r->pairs[i];
        char size[24];
        snprintf(size, sizeof size, "%dx%d", q->width, q->height);
        fmt_psnr(a, sizeof a, q->psnr); fmt_ssim(b, sizeof b, q->ssim);
        fprintf(f, "%-*s  %8s  %6s  %-9s  %s\n", w, q->name, a, b, size, q->instruction);
    }
    fmt_psnr(a, sizeof a, r->mean_psnr); fmt_ssim(b, sizeof b, r->mean_ssim);
    fprintf(f, "%-*s  %8s  %6s\n", w, "mean", a, b);
    fmt_psnr(a, sizeof a, r->mean_unedited_psnr);
    fprintf(f, "unedited: %s dB (the first reference itself as the result: what an edit has to beat)\n\n", a);
    fprintf(f, "worst %d (lowest PSNR):", r->n_worst);
    for (int i = 0; i < r->n_worst; i++) {
        fmt_psnr(a, sizeof a, r->pairs[r->worst[i]].psnr);
        fprintf(f, "%s %s (%s dB)", i ? "," : "", r->pairs[r->worst[i]].name, a);
    }
    fputc('\n', f);
    for (int i = 0; i < r->n_sheets; i++) fprintf(f, "sheet: %s\n", r->sheets[i]);
    fprintf(f, "results: %s/results/  report: %s\n", r->out_dir, r->report_path);
}

int cmd_eval(int argc, char **argv, Err *e) {
    EvalOptions o = {.lora_scale = 1.0f};
    int json = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(USAGE, stdout); return 0; }
        if (!strcmp(a, "--json")) { json = 1; continue; }
        /* "--flag value" or "--flag=value" */
        char name[32];
        const char *eq = strchr(a, '='), *v = NULL;
        snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
        int flag = 0;
        for (int k = 0; EVAL_FLAGS[k]; k++) flag |= !strcmp(name, EVAL_FLAGS[k]);
        if (!flag) continue;
        if (eq) v = eq + 1;
        else if (i + 1 < argc) v = argv[++i];
        else return err_setc(e, EXIT_USAGE, "eval: %s needs a value", a);
        a = name;
        char *end;
        if (!strcmp(a, "--dataset")) o.dataset = v;
        else if (!strcmp(a, "--lora")) o.lora = v;
        else if (!strcmp(a, "--out")) o.out_dir = v;
        else if (!strcmp(a, "--lora_scale")) {
            double s = strtod(v, &end);
            if (*end || end == v || !isfinite(s)) return err_setc(e, EXIT_USAGE, "eval: --lora_scale expects a number, got '%s'", v);
            o.lora_scale = (float)s;
        } else if (!strcmp(a, "--limit")) {
            long n = strtol(v, &end, 10);
            if (*end || end == v || n < 1 || n > 1000000) return err_setc(e, EXIT_USAGE, "eval: --limit expects a whole number >= 1, got '%s'", v);
            o.limit = (int)n;
        }
    }
    if (!o.dataset) return err_setc(e, EXIT_USAGE, "eval: --dataset DIR is required (a paired folder: images/ + .txt, reference/)\n%s", USAGE);
    ConfigLoadOptions lo = {.command_flags = EVAL_FLAGS, .command_switches = EVAL_SWITCHES, .allow_missing_required = 1,
                            .skip_datasets = 1};
    Pipeline *p;
    if (cli_open_pipeline_with(argc, argv, PIPELINE_INFER, &lo, PIPELINE_DATA_NONE, &p, e)) return -1;
    EvalReport r;
    int rc = pipeline_eval(p, &o, &r, e);
    if (!rc && json) {
        char *text = eval_report_json(&r);
        printf("%s\n", text);
        free(text);
    } else if (!rc) print_report(&r, stdout);
    eval_report_free(&r);
    pipeline_close(p);
    return rc;
}
