#include "cli/tiny_assets.h"
#include "base/config.h"
#include "base/files.h"
#include "data/synth_write.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *tiny_example_in_args(int argc, char **argv) {
    for (int i = 0; i < argc; i++) {
        if (!strncmp(argv[i], "example=", 8)) return argv[i] + 8;
        if (!strncmp(argv[i], "--example=", 10)) return argv[i] + 10;
        if ((!strcmp(argv[i], "--example") || !strcmp(argv[i], "-e")) && i + 1 < argc) return argv[i + 1];
    }
    return NULL;
}

/* The dataset each preset trains on: references per pair. */
static int preset_refs(const char *example) {
    if (strstr(example, "edit-v2")) return 3;
    return 1;
}

static int ensure_link(const char *target, const char *link, Err *e) {
    char buf[4096];
    ssize_t n = readlink(link, buf, sizeof buf - 1);
    if (n > 0) { buf[n] = 0; if (!strcmp(buf, target)) return 0; unlink(link); }
    if (symlink(target, link) != 0) return err_set(e, "%s: cannot link to %s", link, target);
    return 0;
}

int tiny_assets_ensure(const char *example, Err *e) {
    if (!example || strncmp(example, "tiny.", 5)) return 0;
    const char *env = getenv("SIMPLETUNER_TINY_DIR");
    char *root;
    if (env && *env) root = xstrdup(env);
    else {
        const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
        root = xdg && *xdg ? xasprintf("%s/simpletuner/tiny", xdg) : xasprintf("%s/.cache/simpletuner/tiny", home ? home : ".");
    }
    if (root[0] != '/') { char cwd[4096]; if (getcwd(cwd, sizeof cwd)) { char *a = path_join(cwd, root); free(root); root = a; } }
    setenv("SIMPLETUNER_TINY_DIR", root, 1);
    int rc = 0;
    char *models = path_join(root, "models"), *data = path_join(root, "data");
    if (dir_make(models, e) || dir_make(data, e)) rc = -1;
    /* the bundled tiny model folders live beside the presets, in the project's tests/data/models */
    char *ex = config_examples_dir(NULL);
    char abs_ex[4096];
    if (!rc && !realpath(ex, abs_ex)) rc = err_set(e, "%s: presets folder not found", ex);
    static const char *MODELS[] = {"qwenimage_edit", "longcat_edit"};
    for (int i = 0; i < 2 && !rc; i++) {
        char *src = xasprintf("%s/../tests/data/models/%s", abs_ex, MODELS[i]), *dst = path_join(models, MODELS[i]);
        if (!dir_exists(src)) rc = err_set(e, "%s: the bundled tiny model is missing (the project's tests/data/models)", src);
        else rc = ensure_link(src, dst, e);
        free(src); free(dst);
    }
    char *set = path_join(data, example);
    if (!rc && !dir_exists(set)) {
        char *tmp = xasprintf("%s.tmp.%ld", set, (long)getpid());
        fprintf(stderr, "creating the synthetic dataset of %s in %s\n", example, set);
        rc = synth_dataset_write(tmp, 8, preset_refs(example), 128, 128, 42, e);
        if (!rc && rename(tmp, set) != 0) rc = err_set(e, "%s: cannot rename to %s", tmp, set);
        if (rc) { char *cmd = xasprintf("rm -rf '%s'", tmp); if (system(cmd) != 0) {} free(cmd); }
        free(tmp);
    }
    free(set); free(ex); free(models); free(data); free(root);
    return rc;
}
