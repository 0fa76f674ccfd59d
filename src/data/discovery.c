#include "data/discovery.h"
#include "base/files.h"
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static const char *const IMAGE_EXTS[] = { ".jpg", ".jpeg", ".png", ".webp" };

const char *path_extension(const char *rel) {
    const char *slash = strrchr(rel, '/');
    const char *base = slash ? slash + 1 : rel;
    const char *dot = strrchr(base, '.');
    return dot && dot != base ? dot : rel + strlen(rel);
}

char *path_strip_extension(const char *rel) {
    const char *ext = path_extension(rel);
    char *s = xmalloc((size_t)(ext - rel) + 1);
    memcpy(s, rel, (size_t)(ext - rel));
    s[ext - rel] = 0;
    return s;
}

int is_image_name(const char *name) {
    const char *ext = path_extension(name);
    for (size_t i = 0; i < sizeof IMAGE_EXTS / sizeof *IMAGE_EXTS; i++)
        if (!strcasecmp(ext, IMAGE_EXTS[i])) return 1;
    return 0;
}

void filelist_add(FileList *l, const char *rel) {
    if (l->n == l->cap) { l->cap = l->cap ? 2 * l->cap : 64; l->rel = xrealloc(l->rel, sizeof(char *) * l->cap); }
    l->rel[l->n++] = xstrdup(rel);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
void filelist_sort(FileList *l) { if (l->n > 1) qsort(l->rel, l->n, sizeof(char *), cmp_str); }

int filelist_find(const FileList *l, const char *rel) {
    int lo = 0, hi = l->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(l->rel[mid], rel);
        if (!c) return mid;
        if (c < 0) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
}

void filelist_free(FileList *l) {
    for (int i = 0; i < l->n; i++) free(l->rel[i]);
    free(l->rel);
    memset(l, 0, sizeof *l);
}

/* depth bounds symlink loops: no real dataset nests 64 folders deep */
static int walk(const char *root, const char *sub, int depth, FileList *out, Err *e) {
    char *dir = sub[0] ? path_join(root, sub) : xstrdup(root);
    DIR *d = opendir(dir);
    if (!d) { err_set(e, "%s: cannot read directory: %s", dir, strerror(errno)); free(dir); return -1; }
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char *rel = sub[0] ? xasprintf("%s/%s", sub, de->d_name) : xstrdup(de->d_name);
        char *full = path_join(root, rel);
        struct stat st;
        if (stat(full, &st) == 0) {
            if (S_ISDIR(st.st_mode)) {
                if (depth >= 64) { rc = err_set(e, "%s: directories nested deeper than 64 levels (symlink loop?)", full); }
                else rc = walk(root, rel, depth + 1, out, e);
            } else if (S_ISREG(st.st_mode) && is_image_name(de->d_name)) {
                filelist_add(out, rel);
            }
        }
        free(rel); free(full);
        if (rc) break;
    }
    closedir(d);
    free(dir);
    return rc;
}

int discover_images(const char *root, FileList *out, Err *e) {
    memset(out, 0, sizeof *out);
    if (!root || !*root) return err_setc(e, EXIT_USAGE, "instance_data_dir is empty");
    if (!dir_exists(root)) return err_setc(e, EXIT_USAGE, "%s: directory not found", root);
    if (walk(root, "", 0, out, e)) { filelist_free(out); return -1; }
    filelist_sort(out);
    return 0;
}
