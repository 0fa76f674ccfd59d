/* cli_pipeline.c — see cli_pipeline.h. */
#include "cli/cli_pipeline.h"
#include "pipeline/tiny_assets.h"

int cli_open_pipeline_with(int argc, char **argv, PipelineMode mode, const ConfigLoadOptions *lo, int uses_datasets,
                           Pipeline **out, Err *e) {
    *out = NULL;
    Config *cfg = NULL;
    if (tiny_assets_ensure(tiny_example_in_args(argc, argv), e)) return -1;
    if (config_load_with(&cfg, argc, argv, lo, e)) return -1;
    PipelineOptions po = {.mode = mode, .uses_datasets = uses_datasets};
    return pipeline_open(out, cfg, &po, e);
}

int cli_open_pipeline(int argc, char **argv, PipelineMode mode, const char *const *command_flags, int flags_only, int uses_datasets,
                      Pipeline **out, Err *e) {
    ConfigLoadOptions opt = {0};
    opt.command_flags = command_flags;
    opt.allow_missing_required = flags_only;
    return cli_open_pipeline_with(argc, argv, mode, &opt, uses_datasets, out, e);
}
