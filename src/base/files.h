/* files.h — reading whole files, atomic writes (temp file + fsync + rename), paths. */
#ifndef ST_FILES_H
#define ST_FILES_H
#include <stddef.h>
#include "base/error.h"

/* Reads a whole file, NUL-terminated (len excludes the NUL). Returns NULL and sets e on failure. */
char *file_read_all(const char *path, size_t *len, Err *e);
/* Writes data to path atomically: "<path>.tmp.<pid>", fsync, rename, fsync of the directory.
 * A reader never sees a half-written file; a crash leaves the old file or none. */
int file_write_atomic(const char *path, const void *data, size_t len, Err *e);
int file_exists(const char *path);
int dir_exists(const char *path);
/* mkdir -p; ok if it already exists. */
int dir_make(const char *path, Err *e);
/* Newly allocated "a/b" (no doubled slash). */
char *path_join(const char *a, const char *b);
/* Newly allocated directory part of path ("." when none). */
char *path_dirname(const char *path);
/* fsync a directory so a rename in it is durable. */
void dir_fsync(const char *dir);

#endif
