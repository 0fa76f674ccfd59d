/* Shared fixtures for the data tests: small files and folders made on the fly. */
#ifndef ST_TEST_DATA_HELPERS_H
#define ST_TEST_DATA_HELPERS_H
#include "test_util.h"
#include "base/files.h"
#include "image/image_io.h"

/* Creates root/rel (and its folders) holding a w x h PNG filled with a colour derived from `tint`. */
static inline void make_png(const char *root, const char *rel, int w, int h, int tint) {
    char *p = path_join(root, rel);
    char *d = path_dirname(p);
    Err e = {0};
    assert_int_equal(dir_make(d, &e), 0);
    Image im = { w, h, 3, malloc((size_t)w * h * 3) };
    for (int i = 0; i < w * h; i++) { im.data[3 * i] = (uint8_t)tint; im.data[3 * i + 1] = (uint8_t)(i & 255); im.data[3 * i + 2] = (uint8_t)(tint * 7); }
    if (image_write_png(p, &im, &e)) fail_msg("%s", e.msg);
    image_free(&im);
    free(d); free(p);
}

static inline void make_text(const char *root, const char *rel, const char *text) {
    char *p = path_join(root, rel);
    char *d = path_dirname(p);
    Err e = {0};
    assert_int_equal(dir_make(d, &e), 0);
    write_text(p, text);
    free(d); free(p);
}

#endif
