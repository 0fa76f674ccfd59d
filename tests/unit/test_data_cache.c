/* Cache entries: hit, miss after an image edit, miss after a setting change, touched-but-same file
 * still a hit, corrupt entry detected, crash leftovers never read as entries. */
#include "test_data_helpers.h"
#include "data/cache.h"
#include <sys/stat.h>
#include <time.h>
#include <utime.h>

static void store_latent(const CacheKey *k, float v) {
    StWriter w; stw_init(&w);
    float x[2 * 3 * 4];
    for (int i = 0; i < 24; i++) x[i] = v + i;
    int64_t shape[3] = { 2, 3, 4 };
    stw_add_f32(&w, "latent", 3, shape, x);
    Err e = {0};
    if (cache_store(k, &w, &e)) fail_msg("%s", e.msg);
    stw_free(&w);
}

static CacheStatus look(const CacheKey *k, char *why, size_t n) {
    StFile f; CacheStatus s; Err e = {0};
    if (cache_lookup(k, &f, &s, why, n, &e)) fail_msg("%s", e.msg);
    if (s == CACHE_HIT) {
        assert_non_null(st_find(&f, "latent"));
        st_close(&f);
    }
    return s;
}

static void test_hit_and_invalidation(void **state) {
    (void)state;
    char *d = tmpdir_make();
    make_png(d, "img/sub/a.png", 16, 8, 10);
    make_png(d, "img/sub/a.jpg", 16, 8, 99);   /* same stem: must not collide with a.png */
    char *src = path_join(d, "img/sub/a.png"), *src2 = path_join(d, "img/sub/a.jpg"), *cdir = path_join(d, "cache/vae");
    const char *srcs[1] = { src }, *srcs2[1] = { src2 };
    CacheKey k = { cdir, "sub/a.png", srcs, 1, "family=qwen_image;flavour=edit-v2;vae=abc;target=16x8;crop=0,0" };
    CacheKey k2 = { cdir, "sub/a.jpg", srcs2, 1, k.settings };
    char why[512];
    assert_int_equal(look(&k, why, sizeof why), CACHE_ABSENT);
    store_latent(&k, 1); store_latent(&k2, 2);
    assert_int_equal(look(&k, why, sizeof why), CACHE_HIT);
    assert_int_equal(look(&k2, why, sizeof why), CACHE_HIT);
    char *entry = cache_entry_path(&k);
    char want[1024]; snprintf(want, sizeof want, "%s/sub/a.png.safetensors", cdir);
    assert_string_equal(entry, want);
    /* touched (mtime changes), same bytes: still a hit */
    struct utimbuf ut = { time(NULL) + 5, time(NULL) + 5 };
    assert_int_equal(utime(src, &ut), 0);
    assert_int_equal(look(&k, why, sizeof why), CACHE_HIT);
    /* a setting changes: stale */
    CacheKey k3 = k; k3.settings = "family=qwen_image;flavour=edit-v2;vae=abc;target=32x16;crop=0,0";
    assert_int_equal(look(&k3, why, sizeof why), CACHE_STALE_SETTINGS);
    assert_contains(why, "target=32x16");
    /* the image changes (same size in bytes is possible: edit one pixel) */
    make_png(d, "img/sub/a.png", 16, 8, 11);
    assert_int_equal(look(&k, why, sizeof why), CACHE_STALE_SOURCE);
    snprintf(want, sizeof want, "%s changed since", src);
    assert_contains(why, want);
    assert_int_equal(look(&k2, why, sizeof why), CACHE_HIT);   /* only that entry */
    store_latent(&k, 3);
    assert_int_equal(look(&k, why, sizeof why), CACHE_HIT);
    free(entry); free(src); free(src2); free(cdir);
    tmpdir_remove(d);
}

static void test_corrupt_and_partial(void **state) {
    (void)state;
    char *d = tmpdir_make();
    make_png(d, "a.png", 8, 8, 1);
    char *src = path_join(d, "a.png"), *cdir = path_join(d, "cache");
    const char *srcs[1] = { src };
    CacheKey k = { cdir, "a.png", srcs, 1, "s=1" };
    char why[512];
    store_latent(&k, 1);
    char *entry = cache_entry_path(&k);
    /* flip one byte of tensor data: checksum catches it */
    size_t n; Err e = {0};
    char *buf = file_read_all(entry, &n, &e);
    buf[n - 3] ^= 0x40;
    FILE *f = fopen(entry, "wb"); fwrite(buf, 1, n, f); fclose(f);
    assert_int_equal(look(&k, why, sizeof why), CACHE_CORRUPT);
    assert_contains(why, "checksum mismatch");
    /* truncated file: unreadable, reported */
    f = fopen(entry, "wb"); fwrite(buf, 1, n / 2, f); fclose(f);
    assert_int_equal(look(&k, why, sizeof why), CACHE_CORRUPT);
    assert_contains(why, entry);
    /* recompute repairs it */
    store_latent(&k, 1);
    assert_int_equal(look(&k, why, sizeof why), CACHE_HIT);
    /* metadata the checksum does not cover: a source_count that is not a small number is corrupt
     * (atoi on it was undefined), not a crash or a stale miss */
    const char *counts[] = {"99999999999999999999", "-1", "1x", ""};
    for (int i = 0; i < 4; i++) {
        StFile sf;
        assert_int_equal(st_open(&sf, entry, &e), 0);
        StWriter w; stw_init(&w);
        for (int t = 0; t < sf.n; t++) stw_add(&w, sf.t[t].name, sf.t[t].dtype, sf.t[t].ndim, sf.t[t].shape, sf.t[t].data);
        for (int m = 0; m < sf.n_meta; m++) stw_set_meta(&w, sf.meta_key[m], strcmp(sf.meta_key[m], "source_count") ? sf.meta_val[m] : counts[i]);
        st_close(&sf);
        char *tmpe = xasprintf("%s.x", entry);
        assert_int_equal(stw_write(&w, tmpe, &e), 0);
        stw_free(&w);
        assert_int_equal(rename(tmpe, entry), 0);
        free(tmpe);
        assert_int_equal(look(&k, why, sizeof why), CACHE_CORRUPT);
        assert_contains(why, "bad metadata source_count");
    }
    store_latent(&k, 1);
    /* a crash mid-write leaves only a temp file: the entry stays absent, never half-read */
    unlink(entry);
    char *tmp = xasprintf("%s.tmp.12345", entry);
    f = fopen(tmp, "wb"); fwrite(buf, 1, n / 2, f); fclose(f);
    assert_int_equal(look(&k, why, sizeof why), CACHE_ABSENT);
    /* a failed write (read-only directory) leaves no entry */
    char *ro = path_join(d, "ro");
    assert_int_equal(dir_make(ro, &e), 0);
    chmod(ro, 0555);
    CacheKey kr = { ro, "a.png", srcs, 1, "s=1" };
    StWriter w; stw_init(&w);
    float x[4] = { 1, 2, 3, 4 }; int64_t shp[1] = { 4 };
    stw_add_f32(&w, "latent", 1, shp, x);
    if (geteuid() != 0) {   /* root ignores permissions */
        assert_int_equal(cache_store(&kr, &w, &e), -1);
        assert_int_equal(look(&kr, why, sizeof why), CACHE_ABSENT);
    }
    chmod(ro, 0755);
    stw_free(&w);
    /* a plain safetensors file that is not a cache entry is not trusted */
    StWriter w2; stw_init(&w2);
    stw_add_f32(&w2, "latent", 1, shp, x);
    assert_int_equal(stw_write(&w2, entry, &e), 0);
    stw_free(&w2);
    assert_int_equal(look(&k, why, sizeof why), CACHE_CORRUPT);
    assert_contains(why, "not a cache entry");
    /* a source that vanished is an error naming it, for lookup and store */
    store_latent(&k, 1);
    unlink(src);
    StFile sf; CacheStatus cs;
    assert_int_equal(cache_lookup(&k, &sf, &cs, why, sizeof why, &e), -1);
    char want[1024]; snprintf(want, sizeof want, "%s: cannot stat: No such file or directory", src);
    assert_string_equal(e.msg, want);
    StWriter w3; stw_init(&w3);
    stw_add_f32(&w3, "latent", 1, shp, x);
    assert_int_equal(cache_store(&k, &w3, &e), -1);
    assert_string_equal(e.msg, want);
    stw_free(&w3);
    unlink(tmp);
    free(buf); free(tmp); free(ro); free(entry); free(src); free(cdir);
    tmpdir_remove(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_and_invalidation),
        cmocka_unit_test(test_corrupt_and_partial),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
