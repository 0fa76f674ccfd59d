/* discovery.h — finding the images of a local dataset: *.jpg, *.jpeg, *.png, *.webp (any letter
 * case), recursively, as paths relative to the dataset root, sorted bytewise so every run and every
 * machine sees the same order. Hidden entries (names starting with '.') are skipped: they are
 * editor/OS droppings (._a.jpg from macOS, .thumbnails), never training data. */
#ifndef ST_DISCOVERY_H
#define ST_DISCOVERY_H
#include "base/error.h"

typedef struct FileList {
    int n, cap;
    char **rel;      /* relative paths ("sub/a.png"), sorted with strcmp */
} FileList;

/* 1 when the name ends in an image extension we decode (case-insensitive). */
int is_image_name(const char *name);
/* Lists every image under root, following symlinks but visiting each real directory once (by device
 * and inode): a symlinked folder whose target was already visited (a loop such as `a -> .`, or a
 * second link to one folder) is skipped and its relative path added to *skipped_links (sorted; may
 * be NULL). An absent or unreadable root is an error naming it. */
int discover_images(const char *root, FileList *out, FileList *skipped_links, Err *e);
/* Index of rel in a sorted list, or -1. */
int filelist_find(const FileList *l, const char *rel);
void filelist_add(FileList *l, const char *rel);
void filelist_sort(FileList *l);
void filelist_free(FileList *l);

/* Path helpers on relative names: the extension starts at the last '.' after the last '/'. */
const char *path_extension(const char *rel);   /* points at '.', or at the terminating NUL */
/* Newly allocated rel without its extension ("sub/a.png" -> "sub/a"). */
char *path_strip_extension(const char *rel);

#endif
