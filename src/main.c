/* main.c — command dispatch only. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/error.h"
#include "base/interrupt.h"
#include "cli/commands.h"

static const Command COMMANDS[] = {
    {"train", "train a LoRA (or the full transformer) from a SimpleTuner config", cmd_train, 1},
    {"cache", "fill the latent and prompt-embedding caches of a training config, then exit", cmd_cache, 1},
    {"validate", "render edits with a trained LoRA (references + instruction -> image)", cmd_validate, 0},
    {"examples", "list the packaged presets or copy one to edit (examples list | copy NAME)", cmd_examples, 0},
    {"config", "show the resolved SimpleTuner configuration (every default filled in)", cmd_config, 0},
    {"dataset", "inspect the datasets: images found and skipped, pairing, aspect buckets", cmd_dataset, 0},
    {"server", "the WebUI: configurations, datasets, training runs with live progress, edits (in a browser)", cmd_server, 1},
    {"make-dataset", "write a synthetic image-edit dataset (edit images, instructions, references)", cmd_make_dataset, 0},
    {"init-model", "write a model folder (diffusers layout) with random weights: tiny, small or full size", cmd_init_model, 0},
    {"tokenize", "Qwen2 tokenizer: print the token ids of a text, or decode ids (--decode)", cmd_tokenize, 0},
    {"bench", "benchmarks: bench train-step (ms/step, GFLOP/s, peak RSS of LoRA training steps)", cmd_bench, 0},
    {"run-module", "run one component on golden tensors (numerical test harness)", cmd_run_module, 0},
    {NULL, NULL, NULL, 0},
};

static void usage(FILE *f) {
    fputs("usage: simpletuner COMMAND [options]   (simpletuner COMMAND --help for details)\n\n"
          "Fine-tunes image-edit diffusion transformers (Qwen-Image-Edit, LongCat-Image-Edit) with LoRA,\n"
          "from SimpleTuner's config.json and multidatabackend.json.\n\ncommands:\n", f);
    for (const Command *c = COMMANDS; c->name; c++) fprintf(f, "  %-12s %s\n", c->name, c->summary);
    fputs("\nexit codes: 0 ok, 1 runtime error, 2 usage or configuration error\n", f);
}

int main(int argc, char **argv) {
    /* OpenMP threads that spin between the many short parallel regions burn the other core on a
     * small or shared machine (3x slower steps measured). libgomp reads its settings when it is
     * loaded, so choose passive waiting by re-executing once unless the user chose a policy. */
    if (!getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
        execv("/proc/self/exe", argv);
    }
    /* Activations and tiles of many megabytes are allocated and freed at every step; served by mmap
     * (glibc's default above 128 KiB) each comes back as fresh pages to fault in and zero — 10% of
     * a long sampling run. Keep them in the heap and keep the heap. */
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    if (argc < 2) { usage(stderr); return EXIT_USAGE; }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) { usage(stdout); return 0; }
    for (const Command *c = COMMANDS; c->name; c++) {
        if (strcmp(c->name, argv[1])) continue;
        Err e = {0};
        /* before any thread exists, so every thread inherits the mask */
        if (c->graceful_stop) interrupt_hold();
        if (c->run(argc - 2, argv + 2, &e) == 0) return 0;
        fprintf(stderr, "error: %s\n", e.msg[0] ? e.msg : "failed");
        return e.code ? e.code : EXIT_RUNTIME;
    }
    fprintf(stderr, "error: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
