/* test_pipeline_batch.c — run-module on a pipeline dir with num_images_per_prompt = 2: built from
 * the Qwen edit golden by giving both batch rows the golden's initial latents, so upstream's
 * batched outputs are the golden's stacked twice (prompt embeddings and reference latents are
 * repeated per image, every step's predictions and latents and the image get a row per image)
 * while per-prompt tensors (token ids, hidden states, vision rows, schedule) keep one row. */
#include "test_util.h"
#include "base/error.h"
#include "base/files.h"
#include "cli/commands.h"
#include "tensor/safetensors.h"

#define GOLDEN "tests/golden/qwenimage_edit_pipeline"

/* Upstream's batched tensors of the edit pipeline (num_images_per_prompt repeats these). */
static int batched(const char *name) {
    const char *n = strchr(name, '.') + 1;
    static const char *const W[] = {"latents", "prompt.prompt_embeds", "prompt.prompt_embeds_mask", "negative.prompt_embeds",
                                    "negative.prompt_embeds_mask", "image_latents", "vae_decode_input", "vae_decode_output", "image", NULL};
    for (int i = 0; W[i]; i++) if (!strcmp(n, W[i])) return 1;
    return !strncmp(n, "step", 4) && !strstr(n, ".timestep");
}

static void test_two_images_per_prompt(void **state) {
    (void)state;
    char *d = tmpdir_make(), cwd[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    StFile io; Err e = {0};
    if (st_open(&io, GOLDEN "/io.safetensors", &e)) fail_msg("%s", e.msg);
    StWriter w; stw_init(&w);
    int n_batched = 0;
    for (int i = 0; i < io.n; i++) {
        const StTensor *t = &io.t[i];
        if (!batched(t->name)) { stw_add(&w, t->name, t->dtype, t->ndim, t->shape, t->data); continue; }
        int64_t shape[ST_MAX_DIMS];
        memcpy(shape, t->shape, sizeof shape);
        shape[0] *= 2;
        char *buf = malloc(2 * t->nbytes);
        memcpy(buf, t->data, t->nbytes); memcpy(buf + t->nbytes, t->data, t->nbytes);
        stw_add(&w, t->name, t->dtype, t->ndim, shape, buf);
        free(buf);
        n_batched++;
    }
    assert_true(n_batched > 10);
    char *p = xasprintf("%s/io.safetensors", d);
    if (stw_write(&w, p, &e)) fail_msg("%s", e.msg);
    free(p); stw_free(&w); st_close(&io);
    char *json = xasprintf("{\"pipeline\": \"QwenImageEditPipeline\", \"model\": \"%s/tests/data/models/qwenimage_edit\","
                           " \"components\": {}, \"cases\": {\"edit\": {\"references\": [\"%s/" GOLDEN "/edit.ref0.png\"],"
                           " \"true_cfg_scale\": 4.0, \"num_inference_steps\": 3, \"height\": 64, \"width\": 96,"
                           " \"num_images_per_prompt\": 2}}}", cwd, cwd);
    /* references are relative to the dir: an absolute path joins as given */
    p = xasprintf("%s/pipeline.json", d);
    write_text(p, json);
    free(p); free(json);
    char *argv[] = {d, "--check"};
    if (cmd_run_module(2, argv, &e)) fail_msg("%s", e.msg);
    tmpdir_remove(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_images_per_prompt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
