/* family.c — the family table (see family.h). Values from specs/qwen-image-spec.md,
 * specs/longcat-image-spec.md and SimpleTuner's model classes. */
#include "models/family.h"
#include "models/longcat_image/longcat.h"
#include "models/qwen25vl/processor.h"
#include "models/qwen_image/qwen_image.h"
#include "models/vae/vae.h"
#include <stdio.h>
#include <string.h>

cJSON *qi_init_config(const ModelInitSpec *spec, int zero_cond_t, int text_hidden);
cJSON *lc_init_config(const ModelInitSpec *spec, int zero_cond_t, int text_hidden);

static const FamilyFlavour QWEN_IMAGE_FLAVOURS[] = {
    /* the first row is SimpleTuner's default flavour */
    {"v2.0", "Qwen/Qwen-Image-2512", "QwenImagePipeline", QV_PROMPT_QWEN_T2I, 0, 0, 0},
    {"v1.0", "Qwen/Qwen-Image", "QwenImagePipeline", QV_PROMPT_QWEN_T2I, 0, 0, 0},
    {"edit-v1", "Qwen/Qwen-Image-Edit", "QwenImageEditPipeline", QV_PROMPT_QWEN_EDIT_V1, 1, 0, 1},
    {"edit-v2", "Qwen/Qwen-Image-Edit-2509", "QwenImageEditPlusPipeline", QV_PROMPT_QWEN_EDIT_V2, 3, 0, 0},
    {"edit-v2+", "Qwen/Qwen-Image-Edit-2509", "QwenImageEditPlusPipeline", QV_PROMPT_QWEN_EDIT_V2, 3, 1, 0},
    {"edit-v3", "Qwen/Qwen-Image-Edit-2511", "QwenImageEditPlusPipeline", QV_PROMPT_QWEN_EDIT_V2, 3, 1, 0},
    {NULL, NULL, NULL, 0, 0, 0, 0},
};

static const FamilyFlavour LONGCAT_IMAGE_FLAVOURS[] = {
    {"final", "meituan-longcat/LongCat-Image", "LongCatImagePipeline", QV_PROMPT_LONGCAT_T2I, 0, 0, 0},
    {"dev", "meituan-longcat/LongCat-Image-Dev", "LongCatImagePipeline", QV_PROMPT_LONGCAT_T2I, 0, 0, 0},
    {"edit", "meituan-longcat/LongCat-Image-Edit", "LongCatImageEditPipeline", QV_PROMPT_LONGCAT_EDIT, 1, 0, 0},
    {NULL, NULL, NULL, 0, 0, 0, 0},
};

/* The diffusers classes of the transformers' modules, for lycoris_config's target_module and
 * module_algo_map (lycoris_select.h; every linear layer is "Linear", "" the transformer). */
static const ModuleClass QWEN_IMAGE_CLASSES[] = {
    {"time_text_embed", "QwenTimestepProjEmbeddings", NULL},
    {"time_text_embed.timestep_embedder", "TimestepEmbedding", NULL},
    {"transformer_blocks", "ModuleList", NULL},
    {"transformer_blocks.*", "QwenImageTransformerBlock", NULL},
    {"transformer_blocks.*.img_mod", "Sequential", NULL},
    {"transformer_blocks.*.txt_mod", "Sequential", NULL},
    {"transformer_blocks.*.attn", "Attention", NULL},
    {"transformer_blocks.*.attn.to_out", "ModuleList", NULL},
    {"transformer_blocks.*.img_mlp", "FeedForward", NULL},
    {"transformer_blocks.*.img_mlp.net", "ModuleList", NULL},
    {"transformer_blocks.*.img_mlp.net.0", "GELU", NULL},
    {"transformer_blocks.*.txt_mlp", "FeedForward", NULL},
    {"transformer_blocks.*.txt_mlp.net", "ModuleList", NULL},
    {"transformer_blocks.*.txt_mlp.net.0", "GELU", NULL},
    {"norm_out", "AdaLayerNormContinuous", NULL},
    {NULL, NULL, NULL},
};

/* SimpleTuner's LongCat transformer is built from diffusers' Flux blocks, whose attention class is
 * FluxAttention; it also answers to "Attention" (what Flux attention was before diffusers 0.35, and
 * what SimpleTuner's LyCORIS defaults name), so that configurations aimed at attention train it. */
static const ModuleClass LONGCAT_IMAGE_CLASSES[] = {
    {"time_embed", "TimestepEmbeddings", NULL},
    {"time_embed.timestep_embedder", "TimestepEmbedding", NULL},
    {"transformer_blocks", "ModuleList", NULL},
    {"transformer_blocks.*", "FluxTransformerBlock", NULL},
    {"transformer_blocks.*.norm1", "AdaLayerNormZero", NULL},
    {"transformer_blocks.*.norm1_context", "AdaLayerNormZero", NULL},
    {"transformer_blocks.*.attn", "FluxAttention", "Attention"},
    {"transformer_blocks.*.attn.to_out", "ModuleList", NULL},
    {"transformer_blocks.*.ff", "FeedForward", NULL},
    {"transformer_blocks.*.ff.net", "ModuleList", NULL},
    {"transformer_blocks.*.ff.net.0", "GELU", NULL},
    {"transformer_blocks.*.ff_context", "FeedForward", NULL},
    {"transformer_blocks.*.ff_context.net", "ModuleList", NULL},
    {"transformer_blocks.*.ff_context.net.0", "GELU", NULL},
    {"single_transformer_blocks", "ModuleList", NULL},
    {"single_transformer_blocks.*", "FluxSingleTransformerBlock", NULL},
    {"single_transformer_blocks.*.norm", "AdaLayerNormZeroSingle", NULL},
    {"single_transformer_blocks.*.attn", "FluxAttention", "Attention"},
    {"norm_out", "AdaLayerNormContinuous", NULL},
    {NULL, NULL, NULL},
};

static const ModelFamily QWEN_IMAGE = {
    .name = "qwen_image",
    .flavours = QWEN_IMAGE_FLAVOURS,
    .transformer_class = "QwenImageTransformer2DModel",
    .module_classes = QWEN_IMAGE_CLASSES,
    .vae_class = "AutoencoderKLQwenImage",
    .processor_folder = "processor",
    .bucket_alignment = 32,
    /* true CFG; the result renormalised to the conditional prediction's norm (every Qwen pipeline) */
    .edit_guidance = CFG_NORM_MATCH, .t2i_guidance = CFG_NORM_MATCH,
    .guidance_kwarg = "true_cfg_scale", .pipeline_guidance = 4.0,
    .reads_guidance_real = 1, .guidance_when_unset = 4.0,
    .calculate_dimensions = qwenimage_calculate_dimensions,
    .size_from_last_reference = 1,
    .reference_timestep_key = NULL,   /* zero_cond_t models do it themselves, in training and sampling */
    .scheduler = {8192, 0.9, 1.0, 0.02},
    .edit_flavour = "edit-v2", .tiny_folder = "qwenimage_edit",
    .transformer = &QWEN_IMAGE_TRANSFORMER,
    .init_transformer_config = qi_init_config,
    .init_vae_config = vae_init_qwen_config,
};

static const ModelFamily LONGCAT_IMAGE = {
    .name = "longcat_image",
    .flavours = LONGCAT_IMAGE_FLAVOURS,
    .transformer_class = "LongCatImageTransformer2DModel",
    .module_classes = LONGCAT_IMAGE_CLASSES,
    .vae_class = "AutoencoderKL",
    .processor_folder = "text_processor",
    .bucket_alignment = 0,
    /* the edit pipeline combines plainly; the text-to-image one renormalises (clamped) */
    .edit_guidance = CFG_PLAIN, .t2i_guidance = CFG_RENORM_CLAMP,
    .guidance_kwarg = "guidance_scale", .pipeline_guidance = 4.5,
    .reads_guidance_real = 0, .guidance_when_unset = 0,
    .calculate_dimensions = longcat_calculate_dimensions,
    .size_from_last_reference = 0,
    .reference_timestep_key = "longcat_reference_timestep",
    .scheduler = {4096, 1.15, 3.0, 0.0},
    .edit_flavour = "edit", .tiny_folder = "longcat_edit",
    .transformer = &LONGCAT_IMAGE_TRANSFORMER,
    .init_transformer_config = lc_init_config,
    .init_vae_config = vae_init_flux_config,
    .single_blocks = 1,
};

const ModelFamily *const MODEL_FAMILIES[] = {&QWEN_IMAGE, &LONGCAT_IMAGE, NULL};

const ModelFamily *family_find(const char *name) {
    for (int i = 0; name && MODEL_FAMILIES[i]; i++)
        if (!strcmp(MODEL_FAMILIES[i]->name, name)) return MODEL_FAMILIES[i];
    return NULL;
}

const char *family_name_list(char *buf, size_t cap) {
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; MODEL_FAMILIES[i] && k < cap; i++) k += (size_t)snprintf(buf + k, cap - k, "%s%s", i ? ", " : "", MODEL_FAMILIES[i]->name);
    return buf;
}

const ModelFamily *family_require(const char *name, Err *e) {
    const ModelFamily *f = family_find(name);
    if (f) return f;
    char list[128];
    family_name_list(list, sizeof list);
    if (!name) err_setc(e, EXIT_USAGE, "model_family is required (%s)", list);
    else err_setc(e, EXIT_USAGE, "model_family=%s: not a model family this program trains (%s)", name, list);
    return NULL;
}

const FamilyFlavour *family_flavour(const ModelFamily *f, const char *name) {
    if (!name) return &f->flavours[0];
    for (const FamilyFlavour *v = f->flavours; v->name; v++) if (!strcmp(v->name, name)) return v;
    return NULL;
}

const ModelFamily *family_by_pipeline(const char *pipeline_class, const FamilyFlavour **flavour) {
    for (int i = 0; pipeline_class && MODEL_FAMILIES[i]; i++)
        for (const FamilyFlavour *v = MODEL_FAMILIES[i]->flavours; v->name; v++)
            if (!strcmp(v->pipeline_class, pipeline_class)) { if (flavour) *flavour = v; return MODEL_FAMILIES[i]; }
    return NULL;
}

const char *family_flavour_list(const ModelFamily *f, char *buf, size_t cap) {
    size_t k = 0;
    buf[0] = 0;
    for (const FamilyFlavour *v = f->flavours; v->name && k < cap; v++) k += (size_t)snprintf(buf + k, cap - k, "%s%s", v == f->flavours ? "" : ", ", v->name);
    return buf;
}

void family_default_size(const ModelFamily *f, const Image *refs, int n_refs, int *w, int *h) {
    if (n_refs < 1) { *w = *h = 1024; return; }
    const Image *r = f->size_from_last_reference ? &refs[n_refs - 1] : &refs[0];
    f->calculate_dimensions(1024.0 * 1024.0, (double)r->width / r->height, w, h);
    *w = *w / 16 * 16; *h = *h / 16 * 16;
}
