#include "data/discovery.h"
#include "base/files.h"
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
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

/* The walk visits each real directory once, by (device, inode): symlinked folders are followed only
 * after every real folder has been seen, and a link whose target was already visited (a loop such as
 * `a -> .`, or a second link to one folder) is skipped and reported, so loops neither run forever nor
 * multiply files, and a folder reached both directly and through a link keeps its real path.
 * Entries are taken in sorted order so the result does not depend on the filesystem's readdir order. */
typedef struct DirId { dev_t dev; ino_t ino; int used; } DirId;
typedef struct Walk {
    const char *root;
    FileList *out, *skipped_links;
    FileList pending;            /* symlinked folders to follow once the real tree is done (FIFO) */
    DirId *seen; size_t cap_seen, n_seen;   /* open-addressing set of visited directories */
} Walk;

static size_t dir_slot(const DirId *set, size_t cap, dev_t dev, ino_t ino) {
    uint64_t h = ((uint64_t)dev * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)ino * 0xc2b2ae3d27d4eb4full);
    size_t i = (size_t)(h ^ (h >> 29)) & (cap - 1);
    while (set[i].used && !(set[i].dev == dev && set[i].ino == ino)) i = (i + 1) & (cap - 1);
    return i;
}

/* 1 when the directory was visited before; else marks it visited. */
static int seen_before(Walk *w, const struct stat *st) {
    if (2 * (w->n_seen + 1) > w->cap_seen) {   /* grow: at most half full */
        size_t cap = w->cap_seen ? 2 * w->cap_seen : 64;
        DirId *set = xcalloc(cap, sizeof *set);
        for (size_t i = 0; i < w->cap_seen; i++)
            if (w->seen[i].used) set[dir_slot(set, cap, w->seen[i].dev, w->seen[i].ino)] = w->seen[i];
        free(w->seen);
        w->seen = set; w->cap_seen = cap;
    }
    size_t i = dir_slot(w->seen, w->cap_seen, st->st_dev, st->st_ino);
    if (w->seen[i].used) return 1;
    w->seen[i] = (DirId){ st->st_dev, st->st_ino, 1 };
    w->n_seen++;
    return 0;
}

static int depth_of(const char *rel) { int d = rel[0] != 0; for (; *rel; rel++) d += *rel == '/'; return d; }

/* depth bounds pathological nesting: no real dataset nests 64 folders deep */
static int walk_dir(Walk *w, const char *sub, Err *e) {
    char *dir = sub[0] ? path_join(w->root, sub) : xstrdup(w->root);
    DIR *d = opendir(dir);
    if (!d) { err_set(e, "%s: cannot read directory: %s", dir, strerror(errno)); free(dir); return -1; }
    FileList names = {0};
    for (struct dirent *de; (de = readdir(d));)
        if (de->d_name[0] != '.') filelist_add(&names, de->d_name);
    closedir(d);
    filelist_sort(&names);
    int rc = 0;
    for (int i = 0; i < names.n && !rc; i++) {
        char *rel = sub[0] ? xasprintf("%s/%s", sub, names.rel[i]) : xstrdup(names.rel[i]);
        char *full = path_join(w->root, rel);
        struct stat lst, st;
        if (lstat(full, &lst) == 0 && stat(full, &st) == 0) {   /* dangling links are not images */
            if (S_ISDIR(st.st_mode)) {
                if (S_ISLNK(lst.st_mode)) filelist_add(&w->pending, rel);
                else if (seen_before(w, &st)) filelist_add(w->skipped_links, rel);   /* a bind mount of a visited folder */
                else if (depth_of(rel) >= 64) rc = err_set(e, "%s: directories nested deeper than 64 levels", full);
                else rc = walk_dir(w, rel, e);
            } else if (S_ISREG(st.st_mode) && is_image_name(names.rel[i])) {
                filelist_add(w->out, rel);
            }
        }
        free(rel); free(full);
    }
    filelist_free(&names);
    free(dir);
    return rc;
}

static int walk(Walk *w, Err *e) {
    struct stat st;
    if (stat(w->root, &st) != 0) return err_set(e, "%s: cannot read directory: %s", w->root, strerror(errno));
    seen_before(w, &st);
    int rc = walk_dir(w, "", e);
    for (int i = 0; i < w->pending.n && !rc; i++) {   /* grows while links inside linked folders are found */
        const char *rel = w->pending.rel[i];
        char *full = path_join(w->root, rel);
        if (stat(full, &st) != 0 || !S_ISDIR(st.st_mode)) { free(full); continue; }
        if (seen_before(w, &st)) filelist_add(w->skipped_links, rel);
        else if (depth_of(rel) >= 64) rc = err_set(e, "%s: directories nested deeper than 64 levels", full);
        else rc = walk_dir(w, rel, e);
        free(full);
    }
    return rc;
}

int discover_images(const char *root, FileList *out, FileList *skipped_links, Err *e) {
    memset(out, 0, sizeof *out);
    FileList ignored = {0};
    if (!skipped_links) skipped_links = &ignored;
    memset(skipped_links, 0, sizeof *skipped_links);
    if (!root || !*root) return err_setc(e, EXIT_USAGE, "instance_data_dir is empty");
    if (!dir_exists(root)) return err_setc(e, EXIT_USAGE, "%s: directory not found", root);
    Walk w = { .root = root, .out = out, .skipped_links = skipped_links };
    int rc = walk(&w, e);
    filelist_free(&w.pending); free(w.seen); filelist_free(&ignored);
    if (rc) { filelist_free(out); filelist_free(skipped_links); return -1; }
    filelist_sort(out);
    filelist_sort(skipped_links);
    return 0;
}
