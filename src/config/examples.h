/* examples.h — the packaged presets (examples/<NAME>/config.json + multidatabackend.json): listing
 * them and copying one to an editable folder. `simpletuner examples` and the WebUI's "new
 * configuration" both use these. */
#ifndef ST_CONFIG_EXAMPLES_H
#define ST_CONFIG_EXAMPLES_H
#include "base/error.h"

typedef struct ExampleInfo {
    char *name, *family, *flavour;   /* family/flavour "-" when the preset does not say */
    int tiny;                        /* "tiny.*": the bundled tiny model, no download */
} ExampleInfo;

/* The presets in dir (folders holding a config.json), sorted by name; returns the count (0: none). */
int examples_list(const char *dir, ExampleInfo **out);
void examples_free(ExampleInfo *list, int n);
/* Copies preset `name` of dir to dest (made when missing), rewriting the preset's own
 * "config/examples/<NAME>/" paths to "<dest>/" so the copy is self-contained. Existing files are
 * never overwritten (error naming the file). An unknown name is EXIT_USAGE. */
int examples_copy(const char *dir, const char *name, const char *dest, Err *e);

#endif
