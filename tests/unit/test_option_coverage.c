/* test_option_coverage.c — every implemented option has a test that sets it to a value other than its
 * default and observes the effect: tests/data/config/implemented_coverage.tsv names that test for each
 * option config_support.c classes IMPLEMENTED. This test fails when an implemented option has no
 * row, when a row names an option that is not implemented (or twice), when a named test file does not
 * exist or never mentions the option, and when an implemented option restricted to some values
 * accepts none but its default (then it is not implemented: classify it unsupported). */
#include "test_util.h"
#include "config/config.h"
#include <ctype.h>

#define TABLE "tests/data/config/implemented_coverage.tsv"

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = 0;
    fclose(f);
    return s;
}

static int is_word_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* The option's name as a whole word (not inside a longer name such as lora_rank_x). */
static int mentions(const char *text, const char *key) {
    size_t n = strlen(key);
    for (const char *p = strstr(text, key); p; p = strstr(p + 1, key))
        if ((p == text || !is_word_char(p[-1])) && !is_word_char(p[n])) return 1;
    return 0;
}

static void test_every_implemented_option_is_covered(void **st) {
    (void)st;
    char *table = slurp(TABLE);
    if (!table) fail_msg("cannot read %s", TABLE);
    char seen[OPTION_COUNT];
    memset(seen, 0, sizeof seen);
    int rows = 0, line_no = 0;
    char *save = NULL;
    for (char *line = strtok_r(table, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        if (line[0] == '#' || !line[0]) continue;
        char *tab1 = strchr(line, '\t'), *tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
        if (!tab1 || !tab2 || tab2 == tab1 + 1 || !tab2[1])
            fail_msg("%s: row '%s' is not: option<TAB>test files<TAB>what is observed", TABLE, line);
        *tab1 = *tab2 = 0;
        const char *key = line;
        const OptionDef *d = option_find(key);
        if (!d || strcmp(d->name, key)) fail_msg("%s: '%s' is not a canonical option name", TABLE, key);
        if (option_support(key) != SUPPORT_IMPLEMENTED)
            fail_msg("%s: '%s' has a row but config_support.c does not class it implemented", TABLE, key);
        int idx = (int)(d - OPTION_TABLE);
        if (seen[idx]) fail_msg("%s: '%s' has two rows", TABLE, key);
        seen[idx] = 1;
        rows++;
        char *files = tab1 + 1, *fsave = NULL;
        int n_files = 0;
        for (char *file = strtok_r(files, ",", &fsave); file; file = strtok_r(NULL, ",", &fsave)) {
            char *text = slurp(file);
            if (!text) fail_msg("%s: '%s' names %s, which does not exist", TABLE, key, file);
            if (!mentions(text, key)) fail_msg("%s: '%s' names %s, which never mentions it", TABLE, key, file);
            free(text);
            n_files++;
        }
        if (!n_files) fail_msg("%s: '%s' names no test file", TABLE, key);
    }
    const char *name;
    int n_impl = 0;
    for (int i = 0; option_implemented_at(i, &name); i++) {
        n_impl++;
        if (!seen[option_find(name) - OPTION_TABLE])
            fail_msg("%s: implemented option '%s' has no row (add the test that sets it and observes the effect)", TABLE, name);
        /* a restriction to the default alone is no implementation */
        const char *values = option_supported_values(name);
        char def[128];
        if (!values || !option_default_str(name, def, sizeof def)) continue;
        if (!strcmp(values, def))
            fail_msg("'%s' is implemented but accepts only its default '%s': classify it unsupported", name, def);
    }
    assert_int_equal(rows, n_impl);
    free(table);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_every_implemented_option_is_covered)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
