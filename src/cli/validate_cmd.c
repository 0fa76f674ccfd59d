/* validate: renders edits with the trained LoRA (or any LoRA) outside training. */
#include "cli/commands.h"
#include "base/files.h"
#include "cli/cli_events.h"
#include "cli/cli_pipeline.h"
#include "image/image_io.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
    "usage: simpletuner validate [--config FILE | key=value ... | --model_family F --model_flavour V ...]\n"
    "                            [--image REF]... [--prompt TEXT] [--negative_prompt TEXT] [--seed N]\n"
    "                            [--lora PATH] [--lora_scale S] [--output OUT.png] [--latents FILE]\n"
    "                            [--output-tensor OUT.safetensors] [--events FILE]\n"
    "\n"
    "Samples the edit model (flow-match Euler, true CFG) with a LoRA applied:\n"
    "  model      the config's pretrained_model_name_or_path, else the flavour's hub id in the HF cache\n"
    "  LoRA       --lora PATH (ours, diffusers, ComfyUI or kohya keys; --lora_scale multiplies it), else\n"
    "             the newest of output_dir/pytorch_lora_weights.safetensors and its checkpoints; none:\n"
    "             the base model\n"
    "  inputs     --image REF (1 for edit-v1 and LongCat, up to 3 for edit-v2) and --prompt (only\n"
    "             --prompt for the text-to-image flavours v1.0, final, dev); without\n"
    "             --image, the first num_eval_images samples of eval_dataset_id (or the first edit\n"
    "             dataset) are rendered as sheets (references | result, instruction underneath)\n"
    "  size       validation_resolution (WxH, an edge, or megapixels when < 128); when it is not set and\n"
    "             --image is given, the pipeline's own size: Qwen-Image edit ~1 MP with the aspect of the\n"
    "             last reference (multiples of 32), LongCat edit ~1 MP with the reference's aspect\n"
    "  steps      validation_num_inference_steps; seed: --seed, else validation_seed\n"
    "  guidance   qwen_image: validation_guidance_real when > 1, else validation_guidance when set,\n"
    "             else 4.0 (true CFG with validation_negative_prompt, result renormalised to the\n"
    "             conditional norm); longcat_image: validation_guidance (edit: plain CFG as the\n"
    "             LongCat edit pipeline; text-to-image: with its CFG renorm).\n"
    "             validation_disable_unconditional turns CFG off.\n"
    "  --latents FILE   initial packed latents (tensor 'latents', [1, tokens, 64]) instead of the seed,\n"
    "             for reproducing other implementations exactly\n"
    "  preview    validation_preview: true also writes OUT.preview.step-<k>.png, the clean image predicted\n"
    "             after every validation_preview_steps steps (x0 = x - sigma * v, decoded)\n"
    "  --output-tensor  also write the image before 8-bit rounding as tensor 'image' [1, 3, H, W] in\n"
    "             [0, 1] (the diffusers pipelines' output_type='pt')\n"
    "  --events FILE    also write every event (sampling steps, previews, sheets) as one JSON object per\n"
    "             line to FILE (or descriptor N with fd:N); format in docs/webui.md\n";

/* The 8-bit PNG, and with --output-tensor the image before quantisation ([1, 3, H, W] in [0, 1],
 * as the diffusers pipelines return it with output_type="pt"). */
static int write_outputs(const Image *im, const float *chw, const char *png, const char *tensor, Err *e) {
    if (image_write_png(png, im, e)) return -1;
    if (!tensor) return 0;
    StWriter w; stw_init(&w);
    int64_t shape[4] = {1, 3, im->height, im->width};
    stw_add_f32(&w, "image", 4, shape, chw);
    int rc = stw_write(&w, tensor, e);
    stw_free(&w);
    return rc;
}

static const char *const VALIDATE_FLAGS[] = {"--image", "--prompt", "--negative_prompt", "--seed", "--output", "--lora",
                                             "--lora_scale", "--latents", "--output-tensor", "--events", NULL};

int cmd_validate(int argc, char **argv, Err *e) {
    const char *images[3], *prompt = NULL, *negative = NULL, *output = NULL, *lora = NULL, *latents_path = NULL, *out_tensor = NULL;
    int n_images = 0;
    long long seed = -1;
    double lora_scale = 1.0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(USAGE, stdout); return 0; }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--image")) {
            if (!v) return err_setc(e, EXIT_USAGE, "validate: --image needs a file");
            if (n_images == 3) return err_setc(e, EXIT_USAGE, "validate: at most 3 --image references");
            images[n_images++] = v; i++;
        }
        else if (!strcmp(a, "--prompt") && v) { prompt = v; i++; }
        else if (!strcmp(a, "--negative_prompt") && v) { negative = v; i++; }
        else if (!strcmp(a, "--output") && v) { output = v; i++; }
        else if (!strcmp(a, "--lora") && v) { lora = v; i++; }
        else if (!strcmp(a, "--latents") && v) { latents_path = v; i++; }
        else if (!strcmp(a, "--output-tensor") && v) { out_tensor = v; i++; }
        else if (!strcmp(a, "--seed") && v) {
            char *end; seed = strtoll(v, &end, 10);
            if (*end || end == v || seed < 0) return err_setc(e, EXIT_USAGE, "validate: --seed expects a non-negative integer, got '%s'", v);
            i++;
        }
        else if (!strcmp(a, "--lora_scale") && v) {
            char *end; lora_scale = strtod(v, &end);
            if (*end || end == v) return err_setc(e, EXIT_USAGE, "validate: --lora_scale expects a number, got '%s'", v);
            i++;
        }
        else if (v == NULL && (!strcmp(a, "--prompt") || !strcmp(a, "--negative_prompt") || !strcmp(a, "--output") ||
                               !strcmp(a, "--lora") || !strcmp(a, "--latents") || !strcmp(a, "--output-tensor") ||
                               !strcmp(a, "--seed") || !strcmp(a, "--lora_scale")))
            return err_setc(e, EXIT_USAGE, "validate: %s needs a value", a);
    }
    CliEvents ev;
    if (cli_events_open(&ev, argc, argv, e)) return -1;
    Pipeline *p;
    if (cli_open_pipeline(argc, argv, PIPELINE_INFER, VALIDATE_FLAGS, 1, &p, e)) { cli_events_close(&ev); return -1; }
    cli_events_attach(&ev, p);
    const Config *cfg = pipeline_config(p);
    const FamilyFlavour *fl = pipeline_flavour(p);
    int rc = 0;
    char *lp = lora ? xstrdup(lora) : pipeline_newest_adapters(p);
    if (lp) {
        rc = pipeline_load_adapters(p, lp, (float)lora_scale, e);
        if (!rc) fprintf(stderr, "LoRA: %s (scale %.3g)\n", lp, lora_scale);
    } else fprintf(stderr, "no LoRA given or found in output_dir: validating the base model\n");
    free(lp);
    int sizes[PIPELINE_MAX_SIZES][2], n_sizes = 1;
    if (!rc && (n_sizes = pipeline_validation_sizes(p, sizes, PIPELINE_MAX_SIZES, e)) < 0) rc = -1;
    int W = sizes[0][0], H = sizes[0][1];
    int pipeline_size = !config_is_set(cfg, "validation_resolution");
    if (!rc && n_images == 0 && !prompt) {
        /* the config's evaluation samples, as sheets */
        const char *od = config_str(cfg, "output_dir");
        char *dir = output ? xstrdup(output) : xasprintf("%s/validation/manual", od && *od ? od : ".");
        rc = pipeline_render_eval(p, dir, 0, e);
        if (!rc) printf("wrote validation sheets to %s/\n", dir);
        free(dir);
        pipeline_close(p);
        cli_events_close(&ev);
        return rc;
    }
    if (!rc && !prompt) rc = err_setc(e, EXIT_USAGE, "validate: --prompt is required with --image");
    int edit = fl->max_refs > 0;
    if (!rc && edit && n_images == 0)
        rc = err_setc(e, EXIT_USAGE, "validate: the %s flavour edits images: give --image REF with --prompt", fl->name);
    if (!rc && !edit && n_images > 0)
        rc = err_setc(e, EXIT_USAGE, "validate: the %s flavour is text-to-image and takes no --image", fl->name);
    Image refs[3] = {{0}};
    int nr = 0;
    for (int k = 0; k < n_images && !rc; k++) { rc = image_read(images[k], &refs[k], e); if (!rc) nr++; }
    if (!rc && nr && pipeline_size) { pipeline_default_size(p, refs, nr, &W, &H); n_sizes = 1; }
    if (!rc && latents_path && n_sizes > 1)
        rc = err_setc(e, EXIT_USAGE, "validate: --latents gives one size; validation_resolution lists %d", n_sizes);
    float *lat = NULL;
    if (!rc && latents_path) {
        StFile f;
        if ((rc = st_open(&f, latents_path, e)) == 0) {
            const StTensor *t = st_find(&f, "latents");
            size_t want = (size_t)(H / 16) * (W / 16) * pipeline_latent_channels(p) * 4;
            if (!t) rc = err_set(e, "%s: no tensor 'latents'", latents_path);
            else if (t->numel != want) rc = err_set(e, "%s: 'latents' has %zu values; %dx%d needs %zu", latents_path, t->numel, W, H, want);
            else lat = st_to_f32(t);
            st_close(&f);
        }
    }
    Image out = {0};
    float *chw = NULL;
    const char *o = output ? output : "validation.png";
    /* validation_preview: OUT.preview.step-<k>.png beside the output */
    char *preview = NULL;
    if (config_bool(cfg, "validation_preview")) {
        const char *dot = strrchr(o, '.'), *slash = strrchr(o, '/');
        int stem = dot && (!slash || dot > slash) ? (int)(dot - o) : (int)strlen(o);
        preview = xasprintf("%.*s.preview.", stem, o);
    }
    /* every size validation_resolution lists: the first as OUT, the others as OUT_WxH.png */
    for (int si = 0; si < n_sizes && !rc; si++) {
        if (si) { W = sizes[si][0]; H = sizes[si][1]; }
        const char *dot = strrchr(o, '.'), *slash = strrchr(o, '/');
        int stem = dot && (!slash || dot > slash) ? (int)(dot - o) : (int)strlen(o);
        char *path = si ? xasprintf("%.*s_%dx%d.png", stem, o, W, H) : xstrdup(o);
        EditRequest req = {.prompt = prompt, .negative = negative ? negative : config_str(cfg, "validation_negative_prompt"),
                           .refs = refs, .n_refs = nr, .width = W, .height = H,
                           .seed = seed >= 0 ? (uint64_t)seed : config_validation_seed(cfg), .latents = lat,
                           .preview_prefix = si ? NULL : preview};
        rc = pipeline_render(p, &req, &out, &chw, e);
        if (!rc) rc = write_outputs(&out, chw, path, si ? NULL : out_tensor, e);
        if (!rc) printf("wrote %s (%dx%d)\n", path, W, H);
        image_free(&out);
        free(chw); chw = NULL;
        free(path);
    }
    free(preview);
    for (int k = 0; k < nr; k++) image_free(&refs[k]);
    free(lat);
    pipeline_close(p);
    cli_events_close(&ev);
    return rc;
}
