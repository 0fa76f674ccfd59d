/* hub.h — where a model lives: a local folder in the diffusers layout, or a Hugging Face hub id
 * (Org/Name) resolved in the local Hugging Face cache. Nothing is downloaded.
 *
 * Cache roots, in order: $HF_HUB_CACHE, $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub,
 * ~/.cache/huggingface/hub. In a root, models--Org--Name/refs/<revision> (default "main") holds the
 * commit whose files are in snapshots/<commit>/; without refs, a single snapshot is taken as is. */
#ifndef ST_HUB_H
#define ST_HUB_H
#include "base/error.h"

/* *dir_out (malloc'd) = the model folder. revision: NULL/"" = main, a branch/tag name in refs/, or a
 * commit hash under snapshots/. Not found: an error listing every place it looked (EXIT_USAGE). */
int model_locate(const char *name_or_path, char **dir_out, Err *e);
int model_locate_revision(const char *name_or_path, const char *revision, char **dir_out, Err *e);

#endif
