/* The family table: flavours with their hub ids, pipeline classes and prompt kinds, defaults, and
 * the lookups the rest of the program uses instead of comparing family names. */
#include "test_util.h"
#include "models/family.h"

static void test_flavours(void **state) {
    (void)state;
    const ModelFamily *q = family_find("qwen_image"), *l = family_find("longcat_image");
    assert_non_null(q); assert_non_null(l);
    assert_null(family_find("flux"));
    assert_null(family_find(NULL));
    struct { const ModelFamily *f; const char *flavour, *hub, *pipeline; QvPromptKind kind; int refs; } want[] = {
        {q, "edit-v1", "Qwen/Qwen-Image-Edit", "QwenImageEditPipeline", QV_PROMPT_QWEN_EDIT_V1, 1},
        {q, "edit-v2", "Qwen/Qwen-Image-Edit-2509", "QwenImageEditPlusPipeline", QV_PROMPT_QWEN_EDIT_V2, 3},
        {q, "edit-v2+", "Qwen/Qwen-Image-Edit-2509", "QwenImageEditPlusPipeline", QV_PROMPT_QWEN_EDIT_V2, 3},
        {q, "edit-v3", "Qwen/Qwen-Image-Edit-2511", "QwenImageEditPlusPipeline", QV_PROMPT_QWEN_EDIT_V2, 3},
        {q, "v1.0", "Qwen/Qwen-Image", "QwenImagePipeline", QV_PROMPT_QWEN_T2I, 0},
        {q, "v2.0", "Qwen/Qwen-Image-2512", "QwenImagePipeline", QV_PROMPT_QWEN_T2I, 0},
        {l, "final", "meituan-longcat/LongCat-Image", "LongCatImagePipeline", QV_PROMPT_LONGCAT_T2I, 0},
        {l, "dev", "meituan-longcat/LongCat-Image-Dev", "LongCatImagePipeline", QV_PROMPT_LONGCAT_T2I, 0},
        {l, "edit", "meituan-longcat/LongCat-Image-Edit", "LongCatImageEditPipeline", QV_PROMPT_LONGCAT_EDIT, 1},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const FamilyFlavour *fl = family_flavour(want[i].f, want[i].flavour);
        assert_non_null(fl);
        assert_string_equal(fl->hub_id, want[i].hub);
        assert_string_equal(fl->pipeline_class, want[i].pipeline);
        assert_int_equal(fl->prompt, want[i].kind);
        assert_int_equal(fl->max_refs, want[i].refs);
    }
    /* SimpleTuner's default flavour is the first row */
    assert_string_equal(family_flavour(q, NULL)->name, "v2.0");
    assert_string_equal(family_flavour(l, NULL)->name, "final");
    assert_null(family_flavour(q, "edit-v9"));
    assert_int_equal(family_flavour(q, "edit-v2+")->zero_cond_t, 1);
    assert_int_equal(family_flavour(q, "edit-v2")->zero_cond_t, 0);
}

static void test_lookups_and_errors(void **state) {
    (void)state;
    const FamilyFlavour *fl = NULL;
    assert_ptr_equal(family_by_pipeline("QwenImageEditPlusPipeline", &fl), family_find("qwen_image"));
    assert_string_equal(fl->name, "edit-v2");
    assert_ptr_equal(family_by_pipeline("LongCatImageEditPipeline", &fl), family_find("longcat_image"));
    assert_string_equal(fl->name, "edit");
    assert_null(family_by_pipeline("FluxPipeline", &fl));
    Err e = {0};
    assert_null(family_require("flux", &e));
    assert_int_equal(e.code, EXIT_USAGE);
    assert_contains(e.msg, "model_family=flux");
    assert_contains(e.msg, "qwen_image, longcat_image");
    char buf[128];
    assert_string_equal(family_flavour_list(family_find("longcat_image"), buf, sizeof buf), "final, dev, edit");
    /* the rules the pipeline takes from the table */
    assert_int_equal(family_find("qwen_image")->bucket_alignment, 32);
    assert_int_equal(family_find("longcat_image")->bucket_alignment, 0);
    assert_int_equal(family_find("longcat_image")->edit_refs_t0_in_training, 1);
    int w, h;
    family_find("qwen_image")->calculate_dimensions(1024.0 * 1024.0, 1.0, &w, &h);
    assert_int_equal(w, 1024); assert_int_equal(h, 1024);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_flavours), cmocka_unit_test(test_lookups_and_errors)};
    return cmocka_run_group_tests_name("family", tests, NULL, NULL);
}
