/* tiny_assets.h — what the tiny.* presets need, created on first use: $SIMPLETUNER_TINY_DIR
 * (default ${XDG_CACHE_HOME:-~/.cache}/simpletuner/tiny) gets models/ (tiny model folders written
 * by init-model's code, models/model_init.h) and data/<preset>/ (a synthetic edit dataset). The presets name
 * these paths through {env:SIMPLETUNER_TINY_DIR}. */
#ifndef ST_TINY_ASSETS_H
#define ST_TINY_ASSETS_H
#include "base/error.h"

/* Finds an example name in a command's arguments (example=NAME, --example NAME, -e NAME); NULL. */
const char *tiny_example_in_args(int argc, char **argv);
/* $SIMPLETUNER_TINY_DIR, else its default (absolute, malloc'd); nothing is created. */
char *tiny_assets_root(void);
/* For a tiny.* preset: sets SIMPLETUNER_TINY_DIR and creates its assets when missing (atomically). */
int tiny_assets_ensure(const char *example, Err *e);

#endif
