/* Discovery (extensions, recursion, order, hidden files) and captions (strategies, lines, dropout). */
#include "test_data_helpers.h"
#include "data/discovery.h"
#include "data/captions.h"

static void test_discovery_recursive_sorted(void **state) {
    (void)state;
    char *d = tmpdir_make();
    make_text(d, "b.PNG", "x"); make_text(d, "a.jpg", "x"); make_text(d, "sub/deep/c.WebP", "x");
    make_text(d, "sub/a.jpeg", "x"); make_text(d, "notes.txt", "x"); make_text(d, "a.gif", "x");
    make_text(d, ".hidden/z.png", "x"); make_text(d, "._a.jpg", "x"); make_text(d, "noext", "x");
    FileList l; Err e = {0};
    assert_int_equal(discover_images(d, &l, NULL, &e), 0);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.rel[0], "a.jpg");
    assert_string_equal(l.rel[1], "b.PNG");
    assert_string_equal(l.rel[2], "sub/a.jpeg");
    assert_string_equal(l.rel[3], "sub/deep/c.WebP");
    assert_int_equal(filelist_find(&l, "sub/a.jpeg"), 2);
    assert_int_equal(filelist_find(&l, "sub/a.jpg"), -1);
    filelist_free(&l);
    char *missing = path_join(d, "nope");
    assert_int_equal(discover_images(missing, &l, NULL, &e), -1);
    char want[1024]; snprintf(want, sizeof want, "%s: directory not found", missing);
    assert_string_equal(e.msg, want);
    free(missing);
    tmpdir_remove(d);
}

static void make_link(const char *root, const char *rel, const char *target) {
    char *p = path_join(root, rel);
    assert_int_equal(symlink(target, p), 0);
    free(p);
}

/* Symlink loops (`a -> .`, `b -> .`) ran forever or multiplied the images; now each real folder is
 * visited once and the skipped links are named. A linked folder that is not otherwise reachable is
 * still followed, and a folder reached directly and through a link keeps its real path. */
static void test_discovery_symlink_loops(void **state) {
    (void)state;
    char *d = tmpdir_make();
    for (int i = 0; i < 4; i++) { char n[32]; snprintf(n, sizeof n, "img%d.png", i); make_text(d, n, "x"); }
    make_text(d, "sub/s.png", "x"); make_text(d, "sub/deeper/t.png", "x");
    char *outside = tmpdir_make();
    make_text(outside, "o.jpg", "x");
    make_link(d, "a", ".");
    make_link(d, "b", ".");
    make_link(d, "sub/deeper/up", "../..");
    make_link(d, "0link", "sub");          /* sorts before "sub": the real path still wins */
    make_link(d, "ext", outside);          /* only reachable through the link: followed */
    make_link(d, "dangling", "nowhere");
    FileList l, links; Err e = {0};
    assert_int_equal(discover_images(d, &l, &links, &e), 0);
    const char *want[] = {"ext/o.jpg", "img0.png", "img1.png", "img2.png", "img3.png", "sub/deeper/t.png", "sub/s.png"};
    assert_int_equal(l.n, 7);
    for (int i = 0; i < 7; i++) assert_string_equal(l.rel[i], want[i]);
    const char *skipped[] = {"0link", "a", "b", "sub/deeper/up"};
    assert_int_equal(links.n, 4);
    for (int i = 0; i < 4; i++) assert_string_equal(links.rel[i], skipped[i]);
    filelist_free(&l); filelist_free(&links);
    /* a link loop inside a linked folder is caught too */
    make_link(outside, "again", ".");
    assert_int_equal(discover_images(d, &l, &links, &e), 0);
    assert_int_equal(l.n, 7);
    assert_int_equal(links.n, 5);
    assert_string_equal(links.rel[3], "ext/again");
    filelist_free(&l); filelist_free(&links);
    tmpdir_remove(outside);
    tmpdir_remove(d);
}

static void test_path_helpers(void **state) {
    (void)state;
    assert_string_equal(path_extension("sub.d/a.b.png"), ".png");
    assert_string_equal(path_extension("sub.d/noext"), "");
    assert_string_equal(path_extension(".bashrc"), "");
    char *s = path_strip_extension("sub.d/a.b.png"); assert_string_equal(s, "sub.d/a.b"); free(s);
    assert_true(is_image_name("X.JpEg")); assert_false(is_image_name("x.tiff"));
}

static void test_captions_strategies(void **state) {
    (void)state;
    char *d = tmpdir_make();
    Err e = {0};
    CaptionList c;
    CaptionSpec fn = { CAPTION_FILENAME, NULL, 0, 0, 0 };
    assert_int_equal(caption_load(&fn, d, "sub/a_red_car.png", &c, &e), 0);
    assert_int_equal(c.n, 1); assert_string_equal(c.text[0], "a red car");
    caption_list_free(&c);
    CaptionSpec fnp = { CAPTION_FILENAME, "sks", 1, 0, 0 };
    assert_int_equal(caption_load(&fnp, d, "my_dog.v2.jpg", &c, &e), 0);
    assert_string_equal(c.text[0], "sks my dog.v2");
    caption_list_free(&c);
    CaptionSpec ip = { CAPTION_INSTANCEPROMPT, "🟫", 0, 0, 0 };
    assert_int_equal(caption_load(&ip, d, "x.png", &c, &e), 0);
    assert_string_equal(c.text[0], "🟫");
    caption_list_free(&c);
    CaptionSpec none = { CAPTION_NONE, NULL, 0, 0, 0 };
    assert_int_equal(caption_load(&none, d, "x.png", &c, &e), 0);
    assert_int_equal(c.n, 0);
    assert_string_equal(caption_pick(&c, 1, 1, "ds", "x.png"), "");
    /* textfile: lines, CRLF, blank lines, prepend, only, no split */
    make_text(d, "sub/a.txt", "make it night\r\n\n  add a hat  \nturn the car red\n");
    CaptionSpec tf = { CAPTION_TEXTFILE, NULL, 0, 0, 0 };
    assert_int_equal(caption_load(&tf, d, "sub/a.png", &c, &e), 0);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.text[0], "make it night");
    assert_string_equal(c.text[1], "add a hat");
    assert_string_equal(c.text[2], "turn the car red");
    caption_list_free(&c);
    CaptionSpec tfp = { CAPTION_TEXTFILE, "edit:", 1, 0, 0 };
    assert_int_equal(caption_load(&tfp, d, "sub/a.png", &c, &e), 0);
    assert_string_equal(c.text[1], "edit: add a hat");
    caption_list_free(&c);
    CaptionSpec tfo = { CAPTION_TEXTFILE, "only this", 0, 1, 0 };
    assert_int_equal(caption_load(&tfo, d, "sub/missing.png", &c, &e), 0); /* no file needed */
    assert_int_equal(c.n, 1); assert_string_equal(c.text[0], "only this");
    caption_list_free(&c);
    CaptionSpec tfn = { CAPTION_TEXTFILE, NULL, 0, 0, 1 };
    assert_int_equal(caption_load(&tfn, d, "sub/a.png", &c, &e), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.text[0], "make it night\r\n\n  add a hat  \nturn the car red");
    caption_list_free(&c);
    /* missing caption file: named */
    assert_int_equal(caption_load(&tf, d, "sub/b.jpg", &c, &e), -1);
    char want[1024]; snprintf(want, sizeof want, "%s/sub/b.txt: caption file not found", d);
    assert_string_equal(e.msg, want);
    tmpdir_remove(d);
}

/* Caption files that are not UTF-8 (Latin-1 "café", a lone continuation byte, an overlong "/", a
 * UTF-16 surrogate) fail naming the file, as Python's decoder fails upstream; valid multi-byte text
 * passes. A file name that is not UTF-8 cannot be a filename-strategy caption. */
static void test_caption_not_utf8(void **state) {
    (void)state;
    char *d = tmpdir_make();
    Err e = {0};
    CaptionList c;
    CaptionSpec tf = { CAPTION_TEXTFILE, NULL, 0, 0, 0 };
    make_text(d, "ok.txt", "caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80\n");
    assert_int_equal(caption_load(&tf, d, "ok.png", &c, &e), 0);
    assert_string_equal(c.text[0], "caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80");
    caption_list_free(&c);
    const char *bad[] = {"caf\xE9 au lait", "a \x80 b", "over\xC0\xAFlong", "sur\xED\xA0\x80rogate", "cut \xE2\x9C"};
    const size_t at[] = {3, 2, 4, 3, 4};
    for (int i = 0; i < 5; i++) {
        make_text(d, "sub/bad.txt", bad[i]);
        assert_int_equal(caption_load(&tf, d, "sub/bad.png", &c, &e), -1);
        char want[1024];
        snprintf(want, sizeof want, "%s/sub/bad.txt: caption file is not valid UTF-8 (byte 0x%02X at offset %zu)", d, (unsigned char)bad[i][at[i]], at[i]);
        assert_contains(e.msg, want);
        assert_int_equal(e.code, EXIT_USAGE);
    }
    CaptionSpec fn = { CAPTION_FILENAME, NULL, 0, 0, 0 };
    assert_int_equal(caption_load(&fn, d, "sub/caf\xE9.png", &c, &e), -1);
    assert_contains(e.msg, "sub/caf\xE9.png: the file name is not valid UTF-8");
    tmpdir_remove(d);
}

/* Many caption lines (each a candidate) load in linear time: the list grows geometrically. */
static void test_caption_many_lines(void **state) {
    (void)state;
    char *d = tmpdir_make();
    size_t n = 200000;
    char *text = malloc(n * 8 + 1), *w = text;
    for (size_t i = 0; i < n; i++) w += sprintf(w, "l%05zu\n", i % 100000);
    make_text(d, "a.txt", text);
    free(text);
    CaptionSpec tf = { CAPTION_TEXTFILE, NULL, 0, 0, 0 };
    CaptionList c; Err e = {0};
    assert_int_equal(caption_load(&tf, d, "a.png", &c, &e), 0);
    assert_int_equal(c.n, (int)n);
    assert_string_equal(c.text[n - 1], "l99999");
    caption_list_free(&c);
    tmpdir_remove(d);
}

static void test_caption_parse_and_check(void **state) {
    (void)state;
    Err e = {0};
    CaptionStrategy s;
    assert_int_equal(caption_strategy_parse(NULL, &s, &e), 0); assert_int_equal(s, CAPTION_NONE);
    assert_int_equal(caption_strategy_parse("instance_prompt", &s, &e), 0); assert_int_equal(s, CAPTION_INSTANCEPROMPT);
    assert_int_equal(caption_strategy_parse("parquet", &s, &e), -1);
    assert_contains(e.msg, "not supported yet: parquet captions");
    assert_int_equal(caption_strategy_parse("txt", &s, &e), -1);
    assert_string_equal(e.msg, "caption_strategy \"txt\": expected one of textfile, filename, instanceprompt, null");
    CaptionSpec ip = { CAPTION_INSTANCEPROMPT, NULL, 0, 0, 0 };
    assert_int_equal(caption_spec_check(&ip, "edits", &e), -1);
    assert_string_equal(e.msg, "dataset \"edits\": instance_prompt is required with caption_strategy instanceprompt");
}

static void test_caption_pick_and_dropout_deterministic(void **state) {
    (void)state;
    char *t[4] = { "a", "b", "c", "d" };
    CaptionList c = { .n = 4, .text = t };
    int seen[4] = {0}, changed = 0;
    for (int ep = 1; ep <= 40; ep++) {
        const char *x = caption_pick(&c, 42, ep, "ds", "img.png");
        assert_ptr_equal(x, caption_pick(&c, 42, ep, "ds", "img.png"));
        seen[x[0] - 'a']++;
        if (ep > 1 && x != caption_pick(&c, 42, ep - 1, "ds", "img.png")) changed++;
    }
    for (int i = 0; i < 4; i++) assert_true(seen[i] > 0);
    assert_true(changed > 10);
    /* dropout: same decision for the same (seed, epoch, sample); rate close to p */
    int dropped = 0;
    char rel[32];
    for (int i = 0; i < 4000; i++) {
        snprintf(rel, sizeof rel, "img%d.png", i);
        int dd = caption_dropped(0.25, 7, 3, "ds", rel);
        assert_int_equal(dd, caption_dropped(0.25, 7, 3, "ds", rel));
        dropped += dd;
    }
    assert_true(dropped > 850 && dropped < 1150);
    assert_int_equal(caption_dropped(0.0, 7, 3, "ds", "x"), 0);
    assert_int_equal(caption_dropped(1.0, 7, 3, "ds", "x"), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_discovery_recursive_sorted),
        cmocka_unit_test(test_discovery_symlink_loops),
        cmocka_unit_test(test_path_helpers),
        cmocka_unit_test(test_captions_strategies),
        cmocka_unit_test(test_caption_not_utf8),
        cmocka_unit_test(test_caption_many_lines),
        cmocka_unit_test(test_caption_parse_and_check),
        cmocka_unit_test(test_caption_pick_and_dropout_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
