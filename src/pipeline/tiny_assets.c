#include "pipeline/tiny_assets.h"
#include "models/family.h"
#include "config/config.h"
#include "base/files.h"
#include "data/synth.h"
#include "data/synth_write.h"
#include "models/model_init.h"
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

/* Bump when model_init's tiny output changes: folders made by another version are rewritten. */
static const char TINY_MODEL_STAMP[] = "simpletuner init-model tiny v1\n";

static void remove_tree(const char *path) {
    char *cmd = xasprintf("rm -rf '%s'", path);
    if (system(cmd) != 0) log_warn("could not remove %s", path);
    free(cmd);
}

/* models/<name>: the tiny model folder, written by init-model's code when missing or stale, atomically
 * (a temp folder renamed into place). Links left by older versions are replaced. */
static int ensure_model(const char *models, const char *name, const char *family, const char *flavour, Err *e) {
    char *dst = path_join(models, name), *stamp = path_join(dst, ".simpletuner-tiny");
    size_t n = 0;
    Err ignore = {0};
    char *have = file_exists(stamp) ? file_read_all(stamp, &n, &ignore) : NULL;
    int rc = 0;
    if (!have || strcmp(have, TINY_MODEL_STAMP)) {
        char *tmp = xasprintf("%s.tmp.%ld", dst, (long)getpid());
        fprintf(stderr, "creating the tiny %s %s model in %s\n", family, flavour, dst);
        ModelInitSpec spec = {.family = family, .flavour = flavour, .size = SIZE_TINY, .out = tmp};
        char *tstamp = path_join(tmp, ".simpletuner-tiny");
        rc = model_init_write(&spec, e);
        if (!rc) rc = file_write_atomic(tstamp, TINY_MODEL_STAMP, strlen(TINY_MODEL_STAMP), e);
        if (!rc) {
            char buf[8];
            if (readlink(dst, buf, sizeof buf) >= 0) unlink(dst);   /* a link from an older version */
            else if (dir_exists(dst)) remove_tree(dst);
            if (rename(tmp, dst) != 0) rc = err_set(e, "%s: cannot rename to %s", tmp, dst);
        }
        if (rc) remove_tree(tmp);
        free(tmp); free(tstamp);
    }
    free(have); free(dst); free(stamp);
    return rc;
}

char *tiny_assets_root(void) {
    const char *env = getenv("SIMPLETUNER_TINY_DIR");
    char *root;
    if (env && *env) root = xstrdup(env);
    else {
        const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
        root = xdg && *xdg ? xasprintf("%s/simpletuner/tiny", xdg) : xasprintf("%s/.cache/simpletuner/tiny", home ? home : ".");
    }
    if (root[0] != '/') { char cwd[4096]; if (getcwd(cwd, sizeof cwd)) { char *a = path_join(cwd, root); free(root); root = a; } }
    return root;
}

int tiny_assets_ensure(const char *example, Err *e) {
    if (!example || strncmp(example, "tiny.", 5)) return 0;
    char *root = tiny_assets_root();
    setenv("SIMPLETUNER_TINY_DIR", root, 1);
    int rc = 0;
    char *models = path_join(root, "models"), *data = path_join(root, "data");
    if (dir_make(models, e) || dir_make(data, e)) rc = -1;
    /* the presets name each family's folder (models/qwenimage_edit: the family's main edit flavour); an
     * edit flavour sampled by another pipeline class gets its own folder <folder>.<flavour>
     * (models/qwenimage_edit.edit-v1), since a folder's model_index.json decides the flavour it serves */
    for (int i = 0; !rc && MODEL_FAMILIES[i]; i++) {
        const ModelFamily *f = MODEL_FAMILIES[i];
        const FamilyFlavour *main_fl = family_flavour(f, f->edit_flavour);
        rc = ensure_model(models, f->tiny_folder, f->name, f->edit_flavour, e);
        for (const FamilyFlavour *v = f->flavours; !rc && v->name; v++) {
            if (v->max_refs == 0 || !strcmp(v->pipeline_class, main_fl->pipeline_class)) continue;
            int seen = 0;   /* one folder per pipeline class */
            for (const FamilyFlavour *u = f->flavours; u != v; u++) seen |= !strcmp(u->pipeline_class, v->pipeline_class);
            if (seen) continue;
            char *name = xasprintf("%s.%s", f->tiny_folder, v->name);
            rc = ensure_model(models, name, f->name, v->name, e);
            free(name);
        }
    }
    char *set = path_join(data, example);
    if (!rc && !dir_exists(set)) {
        char *tmp = xasprintf("%s.tmp.%ld", set, (long)getpid());
        fprintf(stderr, "creating the synthetic dataset of %s in %s\n", example, set);
        rc = synth_dataset_write(tmp, 8, preset_refs(example), SYNTH_EDITS_DEFAULT, 128, 128, 42, e);
        if (!rc && rename(tmp, set) != 0) rc = err_set(e, "%s: cannot rename to %s", tmp, set);
        if (rc) { char *cmd = xasprintf("rm -rf '%s'", tmp); if (system(cmd) != 0) {} free(cmd); }
        free(tmp);
    }
    free(set); free(models); free(data); free(root);
    return rc;
}
