/* cache: fills every cache a training run needs (VAE latents of edit images and references,
 * prompt embeddings of each caption with its references, the caption-dropout embedding) and exits. */
#include "cli/commands.h"
#include "cli/cli_pipeline.h"
#include "train/parallel.h"
#include <stdio.h>
#include <string.h>

static const char *USAGE =
    "usage: simpletuner cache [--config FILE] [--data FILE] [example=NAME] [key=value ...]\n"
    "\n"
    "Loads the model and datasets of a training configuration and computes every missing or stale\n"
    "cache entry (progress with rate and ETA), exactly as `train` does before its first step, then\n"
    "exits. Entries are keyed by the source files' content and every setting that shapes them, so a\n"
    "later `train` reuses them.\n";

static void quiet_event(void *ctx, const PipelineEvent *ev) { (void)ctx; (void)ev; }

int cmd_cache(int argc, char **argv, Err *e) {
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { fputs(USAGE, stdout); return 0; }
    /* under mpirun the misses are split across the ranks */
    Parallel par;
    if (parallel_init(&par, &argc, &argv, e)) return -1;
    Pipeline *p = NULL;
    int rc = cli_open_pipeline(argc, argv, PIPELINE_CACHE, NULL, 1, &p, e);
    if (!rc) {
        pipeline_set_parallel(p, &par);
        if (par.rank > 0) pipeline_on_event(p, quiet_event, NULL);
        rc = pipeline_cache(p, NULL, e);
    }
    if (rc && par.size > 1) {
        fprintf(stderr, "error (rank %d of %d): %s\n", par.rank, par.size, e->msg[0] ? e->msg : "failed");
        fflush(stderr);
        parallel_abort(&par, e->code ? e->code : EXIT_RUNTIME);
    }
    pipeline_close(p);
    parallel_finish(&par);
    return rc;
}
