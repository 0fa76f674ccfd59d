/* cli_pipeline.h — what the commands that run the pipeline share: the tiny presets' assets,
 * the configuration from the command line, the pipeline opened on it. */
#ifndef ST_CLI_PIPELINE_H
#define ST_CLI_PIPELINE_H
#include "pipeline/pipeline.h"

/* command_flags: the command's own flags that take a value (NULL-terminated, may be NULL);
 * flags_only: validate's configuration may come from flags alone (no required keys). */
int cli_open_pipeline(int argc, char **argv, PipelineMode mode, const char *const *command_flags, int flags_only, Pipeline **out,
                      Err *e);

#endif
