/* paths.c — see paths.h. */
#include "server/paths.h"
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

int path_is_below(const char *base, const char *p) {
    size_t n = strlen(base);
    if (n == 1 && base[0] == '/') return p[0] == '/';
    return !strncmp(p, base, n) && (p[n] == 0 || p[n] == '/');
}

int path_name_ok(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > 100 || name[0] == '.') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) return 0;
    }
    return 1;
}

/* Lexical checks: relative, no "..", no control characters or backslashes. */
static int rel_ok(const char *rel, Err *e) {
    if (!rel[0]) return err_setc(e, EXIT_USAGE, "empty path");
    if (rel[0] == '/') return err_setc(e, EXIT_USAGE, "absolute paths are not allowed");
    if (strlen(rel) > 1024) return err_setc(e, EXIT_USAGE, "path too long");
    for (const char *s = rel; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '\\') return err_setc(e, EXIT_USAGE, "path contains a control character or a backslash");
    for (const char *s = rel; *s;) {
        const char *slash = strchr(s, '/');
        size_t len = slash ? (size_t)(slash - s) : strlen(s);
        if (len == 2 && s[0] == '.' && s[1] == '.') return err_setc(e, EXIT_USAGE, "'..' is not allowed in paths");
        s += len + (slash ? 1 : 0);
    }
    return 0;
}

int path_inside(const char *base, const char *rel, int must_exist, char **out, Err *e) {
    *out = NULL;
    if (rel_ok(rel, e)) return -1;
    size_t bl = strlen(base), rl = strlen(rel);
    char *joined = xmalloc(bl + rl + 2);
    memcpy(joined, base, bl); joined[bl] = '/'; memcpy(joined + bl + 1, rel, rl + 1);
    char real[PATH_MAX];
    if (must_exist) {
        if (!realpath(joined, real)) {
            int err = errno;
            free(joined);
            return err_setc(e, EXIT_USAGE, "%s: %s", rel, err == ENOENT || err == ENOTDIR ? "not found" : "cannot be opened");
        }
        free(joined);
        if (!path_is_below(base, real)) return err_setc(e, EXIT_USAGE, "%s: outside the served folder", rel);
        *out = xstrdup(real);
        return 0;
    }
    /* a file to create: its folder must exist inside base, the name itself must not be a link out */
    char *slash = strrchr(joined, '/');
    *slash = 0;
    const char *name = slash + 1;
    if (!*name || !strcmp(name, ".")) { free(joined); return err_setc(e, EXIT_USAGE, "%s: not a file name", rel); }
    if (!realpath(joined, real)) { free(joined); return err_setc(e, EXIT_USAGE, "%s: folder not found", rel); }
    if (!path_is_below(base, real)) { free(joined); return err_setc(e, EXIT_USAGE, "%s: outside the served folder", rel); }
    char *full = xasprintf("%s/%s", real, name);
    free(joined);
    char real2[PATH_MAX];
    if (realpath(full, real2) && !path_is_below(base, real2)) { free(full); return err_setc(e, EXIT_USAGE, "%s: outside the served folder", rel); }
    *out = full;
    return 0;
}
