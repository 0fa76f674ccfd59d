/* examples: the packaged presets in examples/<name>/ (config.json + multidatabackend.json).
 *   examples list          names with model family/flavour and what they need
 *   examples copy NAME [DIR]  copies the preset to DIR (default config/<NAME>), rewriting the
 *                          preset's own "config/examples/<NAME>/" paths to DIR so the copy is
 *                          self-contained and editable. */
#include "cli/commands.h"
#include "config/config.h"
#include "config/examples.h"
#include "base/files.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
    "usage: simpletuner examples list\n"
    "       simpletuner examples copy NAME [DIR]\n"
    "\n"
    "Packaged presets live in examples/<NAME>/ (config.json + multidatabackend.json); run one with\n"
    "`simpletuner train example=NAME`. `copy` writes the preset to DIR (default config/NAME) with its\n"
    "own paths rewritten to DIR, ready to edit and run with `simpletuner train --config DIR/config.json`.\n"
    "Presets whose name starts with \"tiny.\" use the bundled tiny model and a synthetic dataset\n"
    "(created on first use) and need no download.\n";

static int do_list(const char *dir, Err *e) {
    ExampleInfo *list;
    int n = examples_list(dir, &list);
    if (n == 0) return err_set(e, "%s: no presets found (expected folders with a config.json)", dir);
    printf("presets in %s:\n", dir);
    for (int i = 0; i < n; i++)
        printf("  %-34s %s / %s%s\n", list[i].name, list[i].family, list[i].flavour,
               list[i].tiny ? "  (bundled tiny model, no download)" : "  (real weights: hub id or local folder)");
    examples_free(list, n);
    return 0;
}

static int do_copy(const char *dir, const char *name, const char *dest_in, Err *e) {
    char *dest = dest_in ? xstrdup(dest_in) : xasprintf("config/%s", name);
    int rc = examples_copy(dir, name, dest, e);
    if (!rc) printf("copied preset %s to %s/\nrun it with: simpletuner train --config %s/config.json\n", name, dest, dest);
    free(dest);
    return rc;
}

int cmd_examples(int argc, char **argv, Err *e) {
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        fputs(USAGE, argc < 1 ? stderr : stdout);
        return argc < 1 ? err_setc(e, EXIT_USAGE, "examples: give 'list' or 'copy NAME'") : 0;
    }
    char *dir = config_examples_dir(NULL);
    int rc;
    if (!strcmp(argv[0], "list") && argc == 1) rc = do_list(dir, e);
    else if (!strcmp(argv[0], "copy") && (argc == 2 || argc == 3)) rc = do_copy(dir, argv[1], argc == 3 ? argv[2] : NULL, e);
    else rc = err_setc(e, EXIT_USAGE, "examples: unknown arguments (usage: examples list | examples copy NAME [DIR])");
    free(dir);
    return rc;
}
