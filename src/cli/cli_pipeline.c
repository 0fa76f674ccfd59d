/* cli_pipeline.c — see cli_pipeline.h. */
#include "cli/cli_pipeline.h"
#include "pipeline/tiny_assets.h"

int cli_open_pipeline(int argc, char **argv, PipelineMode mode, const char *const *command_flags, int flags_only, Pipeline **out,
                      Err *e) {
    *out = NULL;
    ConfigLoadOptions opt = {0};
    opt.command_flags = command_flags;
    opt.allow_missing_required = flags_only;
    Config *cfg = NULL;
    if (tiny_assets_ensure(tiny_example_in_args(argc, argv), e)) return -1;
    if (config_load_with(&cfg, argc, argv, &opt, e)) return -1;
    PipelineOptions po = {.mode = mode};
    return pipeline_open(out, cfg, &po, e);
}
