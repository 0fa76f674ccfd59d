/* examples: the packaged presets in examples/<name>/ (config.json + multidatabackend.json).
 *   examples list          names with model family/flavour and what they need
 *   examples copy NAME [DIR]  copies the preset to DIR (default config/<NAME>), rewriting the
 *                          preset's own "config/examples/<NAME>/" paths to DIR so the copy is
 *                          self-contained and editable. */
#include "cli/commands.h"
#include "config/config.h"
#include "base/files.h"
#include <cjson/cJSON.h>
#include <dirent.h>
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

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int list_names(const char *dir, char ***out) {
    DIR *d = opendir(dir);
    char **names = NULL; int n = 0;
    for (struct dirent *de; d && (de = readdir(d)) != NULL;) {
        if (de->d_name[0] == '.') continue;
        char *sub = path_join(dir, de->d_name), *cfg = path_join(sub, "config.json");
        if (file_exists(cfg)) { names = xrealloc(names, (size_t)(n + 1) * sizeof *names); names[n++] = xstrdup(de->d_name); }
        free(sub); free(cfg);
    }
    if (d) closedir(d);
    if (n) qsort(names, (size_t)n, sizeof *names, cmp_str);
    *out = names;
    return n;
}

static const char *json_str(const cJSON *j, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    if (!v) { char dk[128]; snprintf(dk, sizeof dk, "--%s", k); v = cJSON_GetObjectItemCaseSensitive(j, dk); }
    return cJSON_IsString(v) ? v->valuestring : "-";
}

static int do_list(const char *dir, Err *e) {
    char **names; int n = list_names(dir, &names);
    if (n == 0) return err_set(e, "%s: no presets found (expected folders with a config.json)", dir);
    printf("presets in %s:\n", dir);
    for (int i = 0; i < n; i++) {
        char *sub = path_join(dir, names[i]), *cfgp = path_join(sub, "config.json");
        char *txt = file_read_all(cfgp, NULL, NULL);
        cJSON *j = txt ? cJSON_Parse(txt) : NULL;
        printf("  %-34s %s / %s%s\n", names[i], json_str(j, "model_family"), json_str(j, "model_flavour"),
               strncmp(names[i], "tiny.", 5) ? "  (real weights: hub id or local folder)" : "  (bundled tiny model, no download)");
        cJSON_Delete(j); free(txt); free(sub); free(cfgp); free(names[i]);
    }
    free(names);
    return 0;
}

/* Replaces every occurrence of `from` in text by `to` (new string). */
static char *replace_all(const char *text, const char *from, const char *to) {
    size_t lf = strlen(from), lt = strlen(to), n = 0;
    for (const char *p = text; (p = strstr(p, from)); p += lf) n++;
    char *out = xmalloc(strlen(text) + n * (lt > lf ? lt - lf : 0) + 1), *w = out;
    for (const char *p = text;;) {
        const char *q = strstr(p, from);
        if (!q) { strcpy(w, p); break; }
        memcpy(w, p, (size_t)(q - p)); w += q - p;
        memcpy(w, to, lt); w += lt;
        p = q + lf;
    }
    return out;
}

static int do_copy(const char *dir, const char *name, const char *dest_in, Err *e) {
    char *src = path_join(dir, name);
    if (!dir_exists(src)) {
        free(src);
        return err_setc(e, EXIT_USAGE, "examples: no preset named '%s' in %s (see `simpletuner examples list`)", name, dir);
    }
    char *dest = dest_in ? xstrdup(dest_in) : xasprintf("config/%s", name);
    int rc = dir_make(dest, e);
    char *from = xasprintf("config/examples/%s/", name), *to = xasprintf("%s/", dest);
    DIR *d = rc ? NULL : opendir(src);
    for (struct dirent *de; d && !rc && (de = readdir(d)) != NULL;) {
        if (de->d_name[0] == '.') continue;
        char *sp = path_join(src, de->d_name), *dp = path_join(dest, de->d_name);
        if (file_exists(dp)) rc = err_set(e, "examples: %s already exists; not overwriting (remove it or give another DIR)", dp);
        char *txt = rc ? NULL : file_read_all(sp, NULL, e);
        if (!rc && !txt) rc = -1;
        if (!rc) {
            char *out = replace_all(txt, from, to);
            rc = file_write_atomic(dp, out, strlen(out), e);
            free(out);
        }
        free(txt); free(sp); free(dp);
    }
    if (d) closedir(d);
    if (!rc) printf("copied preset %s to %s/\nrun it with: simpletuner train --config %s/config.json\n", name, dest, dest);
    free(from); free(to); free(src); free(dest);
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
