/* test_util.h — includes cmocka in the order it needs, and small helpers shared by unit tests. */
#ifndef ST_TEST_UTIL_H
#define ST_TEST_UTIL_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A fresh temporary directory (malloc'd path); removed by tmpdir_remove. */
static inline char *tmpdir_make(void) {
    char tmpl[] = "/tmp/st_test_XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}
static inline void tmpdir_remove(char *d) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", d);
    free(d);
}
static inline void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}
/* Message check: fails showing both strings when `hay` does not contain `needle`. */
#define assert_contains(hay, needle) do { \
    if (!strstr((hay), (needle))) fail_msg("expected message containing \"%s\"\n  got \"%s\"", (needle), (hay)); } while (0)

#endif
