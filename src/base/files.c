#include "base/files.h"
#include "base/crash_point.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *file_read_all(const char *path, size_t *len, Err *e) {
    FILE *f = fopen(path, "rb");
    if (!f) { err_set(e, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
    size_t cap = 1 << 16, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) { cap *= 2; buf = xrealloc(buf, cap); }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); err_set(e, "%s: read error", path); return NULL; }
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

void dir_fsync(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) { fsync(fd); close(fd); }
}

int file_write_atomic(const char *path, const void *data, size_t len, Err *e) {
    char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { err_set(e, "%s: cannot create: %s", tmp, strerror(errno)); free(tmp); return -1; }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            err_set(e, "%s: write failed: %s", tmp, strerror(errno));
            close(fd); unlink(tmp); free(tmp); return -1;
        }
        p += w; left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        err_set(e, "%s: fsync/close failed: %s", tmp, strerror(errno));
        unlink(tmp); free(tmp); return -1;
    }
    crash_point("write %s", path);
    if (rename(tmp, path) != 0) {
        err_set(e, "%s: rename to %s failed: %s", tmp, path, strerror(errno));
        unlink(tmp); free(tmp); return -1;
    }
    free(tmp);
    char *d = path_dirname(path); dir_fsync(d); free(d);
    return 0;
}

int file_exists(const char *path) { struct stat st; return stat(path, &st) == 0 && S_ISREG(st.st_mode); }
int dir_exists(const char *path) { struct stat st; return stat(path, &st) == 0 && S_ISDIR(st.st_mode); }

int dir_make(const char *path, Err *e) {
    char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) { err_set(e, "%s: cannot create directory: %s", p, strerror(errno)); free(p); return -1; }
        *s = '/';
    }
    if (mkdir(p, 0755) != 0 && errno != EEXIST) { err_set(e, "%s: cannot create directory: %s", p, strerror(errno)); free(p); return -1; }
    free(p);
    if (!dir_exists(path)) return err_set(e, "%s: exists but is not a directory", path);
    return 0;
}

char *path_join(const char *a, const char *b) {
    if (!a || !*a) return xstrdup(b);
    if (b[0] == '/') return xstrdup(b);
    size_t la = strlen(a);
    return xasprintf("%s%s%s", a, a[la - 1] == '/' ? "" : "/", b);
}

char *path_dirname(const char *path) {
    const char *s = strrchr(path, '/');
    if (!s) return xstrdup(".");
    if (s == path) return xstrdup("/");
    char *d = xmalloc((size_t)(s - path) + 1);
    memcpy(d, path, (size_t)(s - path)); d[s - path] = 0;
    return d;
}
