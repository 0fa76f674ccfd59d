/* examples.c — see examples.h. */
#include "config/examples.h"
#include "base/files.h"
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_info(const void *a, const void *b) { return strcmp(((const ExampleInfo *)a)->name, ((const ExampleInfo *)b)->name); }

static char *json_str(const cJSON *j, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    if (!v) { char dk[128]; snprintf(dk, sizeof dk, "--%s", k); v = cJSON_GetObjectItemCaseSensitive(j, dk); }
    return xstrdup(cJSON_IsString(v) ? v->valuestring : "-");
}

int examples_list(const char *dir, ExampleInfo **out) {
    DIR *d = opendir(dir);
    ExampleInfo *list = NULL;
    int n = 0;
    for (struct dirent *de; d && (de = readdir(d)) != NULL;) {
        if (de->d_name[0] == '.') continue;
        char *sub = path_join(dir, de->d_name), *cfg = path_join(sub, "config.json");
        if (file_exists(cfg)) {
            Err ignore = {0};
            char *txt = file_read_all(cfg, NULL, &ignore);
            cJSON *j = txt ? cJSON_Parse(txt) : NULL;
            list = xrealloc(list, (size_t)(n + 1) * sizeof *list);
            list[n] = (ExampleInfo){xstrdup(de->d_name), json_str(j, "model_family"), json_str(j, "model_flavour"),
                                    !strncmp(de->d_name, "tiny.", 5)};
            n++;
            cJSON_Delete(j);
            free(txt);
        }
        free(sub); free(cfg);
    }
    if (d) closedir(d);
    if (n) qsort(list, (size_t)n, sizeof *list, cmp_info);
    *out = list;
    return n;
}

void examples_free(ExampleInfo *list, int n) {
    for (int i = 0; i < n; i++) { free(list[i].name); free(list[i].family); free(list[i].flavour); }
    free(list);
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

int examples_copy(const char *dir, const char *name, const char *dest, Err *e) {
    if (!*name || strchr(name, '/') || name[0] == '.')
        return err_setc(e, EXIT_USAGE, "examples: '%s' is not a preset name (see `simpletuner examples list`)", name);
    char *src = path_join(dir, name), *srccfg = path_join(src, "config.json");
    if (!file_exists(srccfg)) {
        free(src); free(srccfg);
        return err_setc(e, EXIT_USAGE, "examples: no preset named '%s' in %s (see `simpletuner examples list`)", name, dir);
    }
    free(srccfg);
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
    free(from); free(to); free(src);
    return rc;
}
