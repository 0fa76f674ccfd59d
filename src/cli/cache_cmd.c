/* cache: fills every cache a training run needs (VAE latents of edit images and references,
 * prompt embeddings of each caption with its references, the caption-dropout embedding) and exits. */
#include "cli/commands.h"
#include "pipeline/run_context.h"
#include <stdio.h>
#include <string.h>

static const char *USAGE =
    "usage: simpletuner cache [--config FILE] [--data FILE] [example=NAME] [key=value ...]\n"
    "\n"
    "Loads the model and datasets of a training configuration and computes every missing or stale\n"
    "cache entry (progress with rate and ETA), exactly as `train` does before its first step, then\n"
    "exits. Entries are keyed by the source files' content and every setting that shapes them, so a\n"
    "later `train` reuses them.\n";

int cmd_cache(int argc, char **argv, Err *e) {
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { fputs(USAGE, stdout); return 0; }
    RunContext r;
    int rc = run_context_open(&r, argc, argv, RUN_VALIDATE, e);
    if (!rc) rc = run_context_cache(&r, e);
    run_context_close(&r);
    return rc;
}
