/* validate: renders edits with the trained LoRA (or any LoRA) outside training. */
#include "cli/commands.h"
#include "base/files.h"
#include "cli/cli_events.h"
#include "cli/cli_pipeline.h"
#include "image/image_io.h"
#include "train/checkpoint.h"
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
    "  LoRA       --lora PATH (ours, diffusers, ComfyUI or kohya keys, or a LyCORIS LoKr/LoHa/LoRA file,\n"
    "             told apart by its keys; --lora_scale multiplies it), else\n"
    "             the newest of output_dir/pytorch_lora_weights.safetensors and its checkpoints; none\n"
    "             found, or --lora none: the base model\n"
    "  inputs     --image REF (1 for edit-v1 and LongCat, up to 3 for edit-v2; more is a warning and the\n"
    "             first are used) and --prompt (only --prompt for the text-to-image flavours v1.0,\n"
    "             final, dev); without --image and --prompt, the first num_eval_images samples of\n"
    "             eval_dataset_id (or a dataset_type eval set, or the first edit dataset) are rendered\n"
    "             as sheets (reference 1..n | result | target, the instruction and settings underneath)\n"
    "  size       validation_resolution (WxH, an edge, or megapixels when < 128); when it is not set and\n"
    "             --image is given, the pipeline's own size: Qwen-Image edit ~1 MP with the aspect of the\n"
    "             last reference (multiples of 32), LongCat edit ~1 MP with the reference's aspect\n"
    "  steps      validation_num_inference_steps; seed: --seed, else validation_seed, else seed\n"
    "  images     num_validation_images N: N images from one seeded draw (OUT, OUT_1.png, ...), as\n"
    "             SimpleTuner's num_images_per_prompt\n"
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
    "  LoRA check a LoRA of another model is an error: the transformer class our files record, or its\n"
    "             keys that name no module of this transformer (the first five listed)\n"
    "  Ctrl-C     stops after the sampling step in progress: that image is not written, exit 130 (a\n"
    "             second Ctrl-C stops at once)\n"
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

/* The training step a LoRA file was saved at, for the sheets' captions: checkpoint-N/... is step N;
 * the final weights beside checkpoints are the highest one's step; -1 when unknown. */
static int64_t lora_step(const char *path) {
    char *dir = path_dirname(path);
    const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
    long long n = -1;
    char tail;
    if (sscanf(base, "checkpoint-%lld%c", &n, &tail) != 1) {
        n = -1;
        int64_t *steps = NULL;
        Err ignore = {0};
        int k = checkpoint_list(dir, &steps, &ignore);
        if (k > 0) n = steps[k - 1];
        free(steps);
    }
    free(dir);
    return n;
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
    /* without --image and --prompt: the eval dataset's samples, as sheets */
    int from_datasets = n_images == 0 && !prompt;
    if (cli_open_pipeline(argc, argv, PIPELINE_INFER, VALIDATE_FLAGS, 1, from_datasets ? PIPELINE_DATA_EVAL : PIPELINE_DATA_NONE, &p, e)) {
        cli_events_close(&ev);
        return -1;
    }
    cli_events_attach(&ev, p);
    const Config *cfg = pipeline_config(p);
    const FamilyFlavour *fl = pipeline_flavour(p);
    int rc = 0;
    char *lp = pipeline_choose_adapters(p, lora);
    int64_t step = -1;
    if (lp) {
        rc = pipeline_load_adapters(p, lp, (float)lora_scale, e);
        if (!rc) fprintf(stderr, "LoRA: %s (scale %.3g)\n", lp, lora_scale);
        step = lora_step(lp);
    } else fprintf(stderr, "no LoRA given or found in output_dir: validating the base model\n");
    free(lp);
    int sizes[PIPELINE_MAX_SIZES][2], n_sizes = 1;
    if (!rc && (n_sizes = pipeline_validation_sizes(p, sizes, PIPELINE_MAX_SIZES, e)) < 0) rc = -1;
    int W = sizes[0][0], H = sizes[0][1];
    int pipeline_size = !config_is_set(cfg, "validation_resolution");
    if (!rc && from_datasets) {
        /* the config's evaluation samples, as sheets */
        const char *od = config_str(cfg, "output_dir");
        char *dir = output ? xstrdup(output) : xasprintf("%s/validation/manual", od && *od ? od : ".");
        rc = pipeline_render_eval(p, dir, step, e);
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
    if (!rc) {   /* more --image than the flavour takes: the first ones, said in a warning */
        int used = pipeline_usable_refs(p, nr, 1);
        for (int k = used; k < nr; k++) image_free(&refs[k]);
        nr = used;
    }
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
    /* every size validation_resolution lists: the first as OUT, the others as OUT_WxH.png; image k > 0
     * of num_validation_images (one seeded draw, as the pipelines' num_images_per_prompt) adds _k */
    const int n_img = (int)config_int(cfg, "num_validation_images");
    if (!rc && lat && n_img > 1)
        rc = err_setc(e, EXIT_USAGE, "validate: --latents gives one image; num_validation_images asks for %d", n_img);
    for (int i = 0; i < n_sizes * n_img && !rc; i++) {
        const int si = i / n_img, k = i % n_img;
        W = sizes[si][0]; H = sizes[si][1];
        if (nr && pipeline_size) pipeline_default_size(p, refs, nr, &W, &H);
        const char *dot = strrchr(o, '.'), *slash = strrchr(o, '/');
        int stem = dot && (!slash || dot > slash) ? (int)(dot - o) : (int)strlen(o);
        char size_part[32] = "", img_part[16] = "";
        if (si) snprintf(size_part, sizeof size_part, "_%dx%d", W, H);
        if (k) snprintf(img_part, sizeof img_part, "_%d", k);
        char *path = i ? xasprintf("%.*s%s%s.png", stem, o, size_part, img_part) : xstrdup(o);
        EditRequest req = {.prompt = prompt, .negative = negative ? negative : config_str(cfg, "validation_negative_prompt"),
                           .refs = refs, .n_refs = nr, .width = W, .height = H,
                           .seed = seed >= 0 ? (uint64_t)seed : config_validation_seed(cfg), .latents = lat,
                           .preview_prefix = i ? NULL : preview, .image_index = k};
        rc = pipeline_render(p, &req, &out, &chw, e);
        if (!rc) rc = write_outputs(&out, chw, path, i ? NULL : out_tensor, e);
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
