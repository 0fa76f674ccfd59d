/* Model folders: model_index.json components, folder scan without an index, overrides, errors. */
#include "test_util.h"
#include "models/model_dir.h"
#include "base/files.h"

static void mk(const char *root, const char *sub, const char *file, const char *text) {
    char *d = path_join(root, sub);
    Err e = {0};
    assert_int_equal(dir_make(d, &e), 0);
    char *p = path_join(d, file);
    write_text(p, text);
    free(p); free(d);
}

static void test_index(void **state) {
    (void)state;
    char *root = tmpdir_make();
    char *idx = path_join(root, "model_index.json");
    write_text(idx, "{\"_class_name\": \"QwenImageEditPipeline\", \"transformer\": [\"diffusers\", \"QwenImageTransformer2DModel\"],"
                    " \"vae\": [\"diffusers\", \"AutoencoderKLQwenImage\"], \"safety_checker\": [null, null]}");
    mk(root, "transformer", "config.json", "{}");
    ModelDir md; Err e = {0};
    assert_int_equal(model_dir_open(&md, root, &e), 0);
    assert_string_equal(md.pipeline_class, "QwenImageEditPipeline");
    assert_string_equal(model_dir_class(&md, "transformer"), "QwenImageTransformer2DModel");
    assert_non_null(model_dir_path(&md, "transformer"));
    assert_null(model_dir_path(&md, "vae")); /* listed, folder missing */
    assert_null(model_dir_require(&md, "vae", &e));
    assert_contains(e.msg, "has no 'vae' component");
    char *other = path_join(root, "elsewhere");
    assert_int_equal(dir_make(other, &e), 0);
    assert_int_equal(model_dir_override(&md, "vae", other, &e), 0);
    assert_string_equal(model_dir_path(&md, "vae"), other);
    assert_int_not_equal(model_dir_override(&md, "vae", "/nonexistent/x", &e), 0);
    assert_contains(e.msg, "/nonexistent/x: folder for component 'vae' not found");
    model_dir_close(&md);
    free(other); free(idx); tmpdir_remove(root);
}

static void test_scan_and_errors(void **state) {
    (void)state;
    char *root = tmpdir_make();
    mk(root, "vae", "config.json", "{}");
    mk(root, "tokenizer", "tokenizer.json", "{}");
    mk(root, "notes", "readme.txt", "x");
    ModelDir md; Err e = {0};
    assert_int_equal(model_dir_open(&md, root, &e), 0);
    assert_null(md.pipeline_class);
    assert_int_equal(md.n, 2);
    assert_non_null(model_dir_path(&md, "tokenizer"));
    assert_null(model_dir_path(&md, "notes"));
    model_dir_close(&md);
    char *idx = path_join(root, "model_index.json");
    write_text(idx, "{ broken");
    assert_int_not_equal(model_dir_open(&md, root, &e), 0);
    assert_contains(e.msg, "model_index.json: not a valid JSON object");
    assert_int_not_equal(model_dir_open(&md, "/nonexistent/model", &e), 0);
    assert_contains(e.msg, "/nonexistent/model: model folder not found");
    free(idx); tmpdir_remove(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index),
        cmocka_unit_test(test_scan_and_errors),
    };
    return cmocka_run_group_tests_name("model_dir", tests, NULL, NULL);
}
