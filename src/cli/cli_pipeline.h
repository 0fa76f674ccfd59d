/* cli_pipeline.h — what the commands that run the pipeline share: the tiny presets' assets,
 * the configuration from the command line, the pipeline opened on it. */
#ifndef ST_CLI_PIPELINE_H
#define ST_CLI_PIPELINE_H
#include "pipeline/pipeline.h"

/* command_flags: the command's own flags that take a value (NULL-terminated, may be NULL);
 * flags_only: validate's configuration may come from flags alone (no required keys);
 * uses_datasets: the command reads the datasets (their folders are checked before the model loads). */
int cli_open_pipeline(int argc, char **argv, PipelineMode mode, const char *const *command_flags, int flags_only, int uses_datasets,
                      Pipeline **out, Err *e);
/* The same with every loading option (command switches, skip_datasets, ...). */
int cli_open_pipeline_with(int argc, char **argv, PipelineMode mode, const ConfigLoadOptions *lo, int uses_datasets,
                           Pipeline **out, Err *e);

#endif
