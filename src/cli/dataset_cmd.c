/* dataset_cmd.c — `simpletuner dataset inspect`: what the datasets of a configuration hold, before
 * any model is loaded: images found and skipped (with reasons), pairing with the reference sets,
 * and the bucket table. Problems (missing captions or pairs) are printed as the error `train` gives. */
#include <stdio.h>
#include <string.h>
#include "config/config.h"
#include "cli/commands.h"
#include "data/dataset_config.h"

static void dataset_help(FILE *f) {
    fputs("usage: simpletuner dataset inspect [--config FILE] [--data FILE] [--env NAME] [--strict] [key=value ...]\n"
          "\n"
          "Loads the image datasets of multidatabackend.json as training would and prints, per dataset,\n"
          "the images found, the ones skipped and why, how edit images pair with each reference set,\n"
          "and the aspect buckets (WxH: count); a reference set whose captions replace the edit captions\n"
          "(conditioning_multidataset_sampling=random, two or more reference sets) says so, and\n"
          "max_num_samples shows as fewer images used than found.\n"
          "  --strict   an unreadable image is an error instead of being skipped\n"
          "\n"
          "exit codes: 0 ok, 1 unreadable data (with --strict), 2 configuration or pairing error\n", f);
}

int cmd_dataset(int argc, char **argv, Err *e) {
    if (argc < 1) return err_setc(e, EXIT_USAGE, "dataset: expected a subcommand: inspect (see simpletuner dataset --help)");
    if (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) { dataset_help(stdout); return 0; }
    if (strcmp(argv[0], "inspect")) return err_setc(e, EXIT_USAGE, "dataset: unknown subcommand '%s' (expected inspect)", argv[0]);
    int strict = 0;
    for (int i = 1; i < argc; i++) if (!strcmp(argv[i], "--strict")) strict = 1;
    static const char *const switches[] = { "--strict", NULL };
    ConfigLoadOptions lo = { 0 };
    lo.command_switches = switches;
    lo.allow_missing_required = 1;
    Config *c = NULL;
    if (config_load_with(&c, argc - 1, argv + 1, &lo, e)) return e->code ? e->code : EXIT_USAGE;
    DataSpecs ds;
    int rc = data_specs_from_config(c, strict, &ds, e);
    DataGroup g;
    ds.opt.report_only = 1;
    if (!rc) rc = data_load(ds.specs, ds.n, &ds.opt, &g, e);
    if (!rc) {
        data_summary_print(&g, stdout);
        if (g.sampler.src) printf("batches per epoch: %d\n", sampler_batches_per_epoch(&g.sampler));
        if (g.problems) rc = err_setc(e, EXIT_USAGE, "%s", g.problems);
        data_free(&g);
    }
    data_specs_free(&ds);
    config_free(c);
    return rc ? (e->code ? e->code : EXIT_RUNTIME) : 0;
}
