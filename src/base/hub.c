/* hub.c — locating a model folder (see hub.h). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/files.h"
#include "base/hub.h"

/* "Org/Name": one slash, no path-like prefix. */
static int is_hub_id(const char *s) {
    const char *slash = strchr(s, '/');
    return slash && slash != s && slash[1] && !strchr(slash + 1, '/') && s[0] != '.' && s[0] != '~';
}

typedef struct Looked { char text[3072]; } Looked;

static void looked_add(Looked *l, const char *fmt, const char *a, const char *b) {
    size_t n = strlen(l->text);
    snprintf(l->text + n, sizeof l->text - n, "%s", n ? "; " : "");
    n = strlen(l->text);
    snprintf(l->text + n, sizeof l->text - n, fmt, a, b);
}

/* The one snapshot directory in `snapshots`, or NULL (none, or several: the count goes to *count). */
static char *single_snapshot(const char *snapshots, int *count) {
    DIR *d = opendir(snapshots);
    char *found = NULL;
    *count = 0;
    if (!d) return NULL;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.') continue;
        char *p = path_join(snapshots, de->d_name);
        if (dir_exists(p) && ++*count == 1) found = p;
        else free(p);
    }
    closedir(d);
    if (*count != 1) { free(found); return NULL; }
    return found;
}

/* Looks for the repo in one cache root; returns the snapshot folder or NULL (noting what it saw). */
static char *find_in_root(const char *root, const char *label, const char *id, const char *rev, Looked *l) {
    const char *slash = strchr(id, '/');
    char *repo_dir_name = xasprintf("models--%.*s--%s", (int)(slash - id), id, slash + 1);
    char *repo = path_join(root, repo_dir_name), *snapshots = path_join(repo, "snapshots"), *out = NULL;
    free(repo_dir_name);
    char *ref_name = xasprintf("refs/%s", rev), *ref = path_join(repo, ref_name);
    free(ref_name);
    if (!dir_exists(repo)) {
        looked_add(l, "%s (%s): not there", repo, label);
    } else if (file_exists(ref)) {
        char *hash = file_read_all(ref, NULL, NULL);
        if (hash) hash[strcspn(hash, " \r\n")] = 0;
        char *snap = hash ? path_join(snapshots, hash) : NULL;
        if (snap && dir_exists(snap)) out = snap;
        else { looked_add(l, "%s (%s): refs names a snapshot that is missing", repo, label); free(snap); }
        free(hash);
    } else {
        char *by_hash = path_join(snapshots, rev);
        int count = 0;
        if (dir_exists(by_hash)) out = by_hash;
        else {
            free(by_hash);
            if (!strcmp(rev, "main")) out = single_snapshot(snapshots, &count);
            if (!out) looked_add(l, count > 1 ? "%s (%s): no refs/main and several snapshots" : "%s (%s): no usable snapshot",
                                 repo, label);
        }
    }
    free(ref); free(repo); free(snapshots);
    return out;
}

int model_locate_revision(const char *name, const char *revision, char **dir_out, Err *e) {
    *dir_out = NULL;
    if (!name || !name[0]) return err_setc(e, EXIT_USAGE, "no model given (set pretrained_model_name_or_path or model_family/model_flavour)");
    if (dir_exists(name)) { *dir_out = xstrdup(name); return 0; }
    if (!is_hub_id(name)) return err_setc(e, EXIT_USAGE, "model folder %s not found", name);
    const char *rev = revision && revision[0] ? revision : "main";
    Looked l = {{0}};
    looked_add(&l, "%s%s", "./", name);
    const char *home = getenv("HOME"), *hf_home = getenv("HF_HOME"), *hub = getenv("HF_HUB_CACHE"), *xdg = getenv("XDG_CACHE_HOME");
    char *roots[4] = {0};
    const char *labels[4] = {"HF_HUB_CACHE", "HF_HOME/hub", "XDG_CACHE_HOME/huggingface/hub", "~/.cache/huggingface/hub"};
    if (hub && *hub) roots[0] = xstrdup(hub);
    if (hf_home && *hf_home) roots[1] = path_join(hf_home, "hub");
    if (xdg && *xdg) roots[2] = path_join(xdg, "huggingface/hub");
    if (home && *home) roots[3] = path_join(home, ".cache/huggingface/hub");
    for (int i = 0; i < 4 && !*dir_out; i++)
        if (roots[i]) *dir_out = find_in_root(roots[i], labels[i], name, rev, &l);
    for (int i = 0; i < 4; i++) free(roots[i]);
    if (*dir_out) return 0;
    return err_setc(e, EXIT_USAGE, "model %s%s%s not found; looked in: %s. Download it (huggingface-cli download %s) "
                    "or give a local folder", name, revision && revision[0] ? " revision " : "",
                    revision && revision[0] ? revision : "", l.text, name);
}

int model_locate(const char *name_or_path, char **dir_out, Err *e) {
    return model_locate_revision(name_or_path, NULL, dir_out, e);
}
