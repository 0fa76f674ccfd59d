/* test_hub.c — model location: local folders, hub ids in a fake Hugging Face cache, the error that
 * lists every place looked, and flavour -> hub id. */
#include <sys/stat.h>
#include "test_util.h"
#include "base/hub.h"
#include "pipeline/pipeline.h"

typedef struct { char *dir; char *saved_home; } Fx;

static void mk(const char *dir, const char *rel) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/%s'", dir, rel);
    assert_int_equal(system(cmd), 0);
}
static void put(const char *dir, const char *rel, const char *text) {
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    write_text(p, text);
}

static int setup(void **state) {
    Fx *f = calloc(1, sizeof *f);
    f->dir = tmpdir_make();
    const char *h = getenv("HOME");
    f->saved_home = h ? strdup(h) : NULL;
    /* isolate from the machine's real caches */
    char home[700];
    snprintf(home, sizeof home, "%s/home", f->dir);
    setenv("HOME", home, 1);
    unsetenv("HF_HUB_CACHE");
    unsetenv("HF_HOME");
    unsetenv("XDG_CACHE_HOME");
    *state = f;
    return 0;
}
static int teardown(void **state) {
    Fx *f = *state;
    if (f->saved_home) setenv("HOME", f->saved_home, 1);
    free(f->saved_home);
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static void test_local_folder(void **state) {
    Fx *f = *state;
    mk(f->dir, "model/transformer");
    char p[700], *out = NULL;
    snprintf(p, sizeof p, "%s/model", f->dir);
    Err e = {0};
    assert_int_equal(model_locate(p, &out, &e), 0);
    assert_string_equal(out, p);
    free(out);
    snprintf(p, sizeof p, "%s/missing/folder", f->dir);
    assert_int_equal(model_locate(p, &out, &e), -1);
    char want[800];
    snprintf(want, sizeof want, "model folder %s not found", p);
    assert_string_equal(e.msg, want);
}

static void test_hub_cache_refs_main(void **state) {
    Fx *f = *state;
    mk(f->dir, "hub/models--Qwen--Qwen-Image-Edit-2509/snapshots/abc123/transformer");
    mk(f->dir, "hub/models--Qwen--Qwen-Image-Edit-2509/snapshots/old999");
    mk(f->dir, "hub/models--Qwen--Qwen-Image-Edit-2509/refs");
    put(f->dir, "hub/models--Qwen--Qwen-Image-Edit-2509/refs/main", "abc123\n");
    put(f->dir, "hub/models--Qwen--Qwen-Image-Edit-2509/refs/v1", "old999");
    char hub[700], want[900], *out = NULL;
    snprintf(hub, sizeof hub, "%s/hub", f->dir);
    setenv("HF_HUB_CACHE", hub, 1);
    Err e = {0};
    assert_int_equal(model_locate("Qwen/Qwen-Image-Edit-2509", &out, &e), 0);
    snprintf(want, sizeof want, "%s/models--Qwen--Qwen-Image-Edit-2509/snapshots/abc123", hub);
    assert_string_equal(out, want);
    free(out);
    assert_int_equal(model_locate_revision("Qwen/Qwen-Image-Edit-2509", "v1", &out, &e), 0);  /* a named ref */
    assert_non_null(strstr(out, "snapshots/old999"));
    free(out);
    assert_int_equal(model_locate_revision("Qwen/Qwen-Image-Edit-2509", "old999", &out, &e), 0); /* a commit */
    assert_non_null(strstr(out, "snapshots/old999"));
    free(out);
}

static void test_hf_home_and_single_snapshot(void **state) {
    Fx *f = *state;
    mk(f->dir, "hfhome/hub/models--meituan-longcat--LongCat-Image-Edit/snapshots/only1");
    char home[700], *out = NULL;
    snprintf(home, sizeof home, "%s/hfhome", f->dir);
    setenv("HF_HOME", home, 1);
    Err e = {0};
    assert_int_equal(model_locate("meituan-longcat/LongCat-Image-Edit", &out, &e), 0);
    assert_non_null(strstr(out, "hfhome/hub/models--meituan-longcat--LongCat-Image-Edit/snapshots/only1"));
    free(out);
    /* two snapshots and no refs: ambiguous */
    mk(f->dir, "hfhome/hub/models--meituan-longcat--LongCat-Image-Edit/snapshots/only2");
    assert_int_equal(model_locate("meituan-longcat/LongCat-Image-Edit", &out, &e), -1);
    assert_contains(e.msg, "models--meituan-longcat--LongCat-Image-Edit (HF_HOME/hub): no refs/main and several snapshots");
}

static void test_default_home_cache(void **state) {
    Fx *f = *state;
    mk(f->dir, "home/.cache/huggingface/hub/models--Qwen--Qwen-Image/snapshots/r1");
    mk(f->dir, "home/.cache/huggingface/hub/models--Qwen--Qwen-Image/refs");
    put(f->dir, "home/.cache/huggingface/hub/models--Qwen--Qwen-Image/refs/main", "r1");
    char *out = NULL;
    Err e = {0};
    assert_int_equal(model_locate("Qwen/Qwen-Image", &out, &e), 0);
    assert_non_null(strstr(out, "home/.cache/huggingface/hub/models--Qwen--Qwen-Image/snapshots/r1"));
    free(out);
}

static void test_not_found_lists_every_place(void **state) {
    Fx *f = *state;
    char hub[700], hfhome[700], want[4000], *out = NULL;
    snprintf(hub, sizeof hub, "%s/hub", f->dir);
    snprintf(hfhome, sizeof hfhome, "%s/hfhome", f->dir);
    setenv("HF_HUB_CACHE", hub, 1);
    setenv("HF_HOME", hfhome, 1);
    mk(f->dir, "hub/models--Qwen--Qwen-Image-Edit/refs");
    put(f->dir, "hub/models--Qwen--Qwen-Image-Edit/refs/main", "gone");
    Err e = {0};
    assert_int_equal(model_locate("Qwen/Qwen-Image-Edit", &out, &e), -1);
    assert_null(out);
    assert_int_equal(e.code, EXIT_USAGE);
    snprintf(want, sizeof want,
             "model Qwen/Qwen-Image-Edit not found; looked in: ./Qwen/Qwen-Image-Edit; "
             "%s/models--Qwen--Qwen-Image-Edit (HF_HUB_CACHE): refs names a snapshot that is missing; "
             "%s/hub/models--Qwen--Qwen-Image-Edit (HF_HOME/hub): not there; "
             "%s/home/.cache/huggingface/hub/models--Qwen--Qwen-Image-Edit (~/.cache/huggingface/hub): not there. "
             "Download it (huggingface-cli download Qwen/Qwen-Image-Edit) or give a local folder",
             hub, hfhome, f->dir);
    assert_string_equal(e.msg, want);
}

static void test_config_model_dir(void **state) {
    Fx *f = *state;
    mk(f->dir, "hub/models--meituan-longcat--LongCat-Image-Edit/snapshots/s1");
    char hub[700];
    snprintf(hub, sizeof hub, "%s/hub", f->dir);
    setenv("HF_HUB_CACHE", hub, 1);
    const char *args[] = {"model_family=longcat_image", "model_flavour=edit", NULL};
    ConfigLoadOptions opt = {0};
    opt.quiet = 1;
    opt.allow_missing_required = 1;
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(f->dir), 0);
    Config *c = NULL;
    Err e = {0};
    int rc = config_load_with(&c, 2, (char **)args, &opt, &e);
    assert_int_equal(chdir(cwd), 0);
    if (rc) fail_msg("%s", e.msg);
    char *out = NULL;
    assert_int_equal(pipeline_locate_model(c, &out, &e), 0);
    assert_non_null(strstr(out, "models--meituan-longcat--LongCat-Image-Edit/snapshots/s1"));
    free(out);
    config_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_local_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hub_cache_refs_main, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hf_home_and_single_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_home_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found_lists_every_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_model_dir, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
