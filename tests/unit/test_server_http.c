/* The WebUI's request decoding and path confinement (src/server/http.c, paths.c): escapes decoded
 * exactly once, encoded NULs and bad escapes refused, cookies and tokens, and paths that leave the
 * base by "..", absolute names, backslashes, control characters or symbolic links. The HTTP-level
 * behaviour is tests/sh/test_server.sh. */
#include "test_util.h"
#include <limits.h>
#include <sys/stat.h>
#include "server/http.h"
#include "server/paths.h"

static void expect_decode(const char *in, int plus, const char *want) {
    char *out = NULL;
    int rc = http_url_decode(in, strlen(in), plus, &out);
    if (!want) { assert_int_equal(rc, -1); return; }
    assert_int_equal(rc, 0);
    assert_string_equal(out, want);
    free(out);
}

static void test_url_decode(void **state) {
    (void)state;
    expect_decode("/a%41b", 0, "/aAb");
    expect_decode("%2e%2E/x", 0, "../x");
    expect_decode("%252e%252e", 0, "%2e%2e");   /* once: double-encoded dots stay a name */
    expect_decode("a+b", 1, "a b");
    expect_decode("a+b", 0, "a+b");
    expect_decode("%e2%82%ac", 0, "\xe2\x82\xac");
    expect_decode("", 0, "");
    expect_decode("x%00y", 0, NULL);
    expect_decode("%zz", 0, NULL);
    expect_decode("%4", 0, NULL);
    expect_decode("%", 0, NULL);
    char raw[3] = {'a', 0, 'b'};
    char *out = NULL;
    assert_int_equal(http_url_decode(raw, 3, 0, &out), -1);   /* a raw NUL inside the length */
}

static void test_query_and_cookies(void **state) {
    (void)state;
    HttpParam *p; int n;
    assert_int_equal(http_parse_query("a=1&b=%20x+y&c&&d=", &p, &n), 0);
    assert_int_equal(n, 4);
    assert_string_equal(p[1].key, "b"); assert_string_equal(p[1].value, " x y");
    assert_string_equal(p[2].key, "c"); assert_string_equal(p[2].value, "");
    assert_string_equal(p[3].key, "d"); assert_string_equal(p[3].value, "");
    HttpRequest q = {.query = p, .n_query = n};
    assert_string_equal(http_query(&q, "a"), "1");
    assert_null(http_query(&q, "zz"));
    http_params_free(p, n);
    assert_int_equal(http_parse_query("a=%00", &p, &n), -1);
    char *c = http_cookie("x=1; st_token=abc; y=2", "st_token");
    assert_string_equal(c, "abc");
    free(c);
    assert_null(http_cookie("st_tokenx=1; xst_token=2", "st_token"));
    assert_null(http_cookie(NULL, "st_token"));
    assert_true(http_token_equal("secret-token", "secret-token"));
    assert_false(http_token_equal("secret-token", "secret-tokeN"));
    assert_false(http_token_equal("secret", "secret-token"));
    assert_false(http_token_equal("", ""));
    assert_false(http_token_equal(NULL, "x"));
}

static void test_path_inside(void **state) {
    (void)state;
    char *d = tmpdir_make(), base[PATH_MAX], p[PATH_MAX];
    snprintf(p, sizeof p, "%s/base", d); mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/base/sub", d); mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/outside", d); mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/outside/secret", d); write_text(p, "s");
    snprintf(p, sizeof p, "%s/base/sub/f.txt", d); write_text(p, "f");
    char target[PATH_MAX];
    snprintf(target, sizeof target, "%s/outside/secret", d); snprintf(p, sizeof p, "%s/base/link", d);
    assert_int_equal(symlink(target, p), 0);
    snprintf(target, sizeof target, "%s/outside", d); snprintf(p, sizeof p, "%s/base/linkdir", d);
    assert_int_equal(symlink(target, p), 0);
    snprintf(target, sizeof target, "sub/f.txt"); snprintf(p, sizeof p, "%s/base/inlink", d);
    assert_int_equal(symlink(target, p), 0);
    snprintf(p, sizeof p, "%s/base", d);
    assert_non_null(realpath(p, base));
    Err e = {0};
    char *out = NULL;
    assert_int_equal(path_inside(base, "sub/f.txt", 1, &out, &e), 0);
    assert_true(path_is_below(base, out));
    free(out);
    assert_int_equal(path_inside(base, "inlink", 1, &out, &e), 0);   /* a link that stays inside is fine */
    free(out);
    assert_int_equal(path_inside(base, "sub/new.txt", 0, &out, &e), 0);
    free(out);
    static const char *const BAD_EXISTING[] = {"../outside/secret", "sub/../sub/f.txt", "..", "/etc/passwd", "link", "linkdir/secret",
                                               "sub\\f.txt", "sub/\x01", "", "missing.txt", NULL};
    for (int i = 0; BAD_EXISTING[i]; i++) {
        out = NULL;
        if (path_inside(base, BAD_EXISTING[i], 1, &out, &e) == 0) fail_msg("'%s' was accepted as %s", BAD_EXISTING[i], out);
        assert_null(out);
        assert_int_equal(e.code, EXIT_USAGE);
        if (strstr(e.msg, d)) fail_msg("the message reveals the folder: %s", e.msg);
    }
    static const char *const BAD_NEW[] = {"linkdir/new.txt", "nodir/new.txt", "../new.txt", "link", "sub/", NULL};
    for (int i = 0; BAD_NEW[i]; i++) {
        out = NULL;
        if (path_inside(base, BAD_NEW[i], 0, &out, &e) == 0) fail_msg("'%s' was accepted for writing as %s", BAD_NEW[i], out);
    }
    assert_true(path_is_below("/a/b", "/a/b"));
    assert_true(path_is_below("/a/b", "/a/b/c"));
    assert_false(path_is_below("/a/b", "/a/bc"));
    assert_false(path_is_below("/a/b", "/a"));
    assert_true(path_name_ok("my-lora_2.v1"));
    assert_false(path_name_ok(".hidden"));
    assert_false(path_name_ok("a/b"));
    assert_false(path_name_ok(""));
    assert_false(path_name_ok("a b"));
    tmpdir_remove(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_decode),
        cmocka_unit_test(test_query_and_cookies),
        cmocka_unit_test(test_path_inside),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
