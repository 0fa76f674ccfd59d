/* family.h — the one table of model families and their flavours.
 *
 * Everything that differs between Qwen-Image and LongCat-Image outside their own model folders is
 * a field of this table: the flavours with their hub ids, diffusers pipeline classes, prompt
 * templates and reference counts; how the edit pipelines size their output and VAE-encode the
 * references; the validation guidance rule; dataset bucket alignment; SimpleTuner's training
 * conditioning of references; the published scheduler settings; and the hooks that build, load and
 * write the family's transformer. Code elsewhere asks the table (family_find, family_flavour) and
 * never compares family names. Adding a family = one row here plus its model folder. */
#ifndef ST_MODELS_FAMILY_H
#define ST_MODELS_FAMILY_H
#include <cjson/cJSON.h>
#include "base/error.h"
#include "image/image.h"
#include "models/flow_sampler.h"
#include "models/model_size.h"
#include "models/qwen25vl/prompt.h"
#include "models/adapter/lycoris_select.h"
#include "models/transformer.h"

typedef struct FamilyFlavour {
    const char *name;             /* model_flavour value, e.g. "edit-v2" */
    const char *hub_id;           /* SimpleTuner's default repository for it */
    const char *pipeline_class;   /* the diffusers pipeline that samples it (model_index.json) */
    QvPromptKind prompt;          /* how prompts (with their images) are encoded */
    int max_refs;                 /* reference images the pipeline takes; 0 = text-to-image */
    int zero_cond_t;              /* Qwen edit-v2+/v3: references at t = 0 in training and sampling */
    int reference_embeds_cache;   /* references prepared for the text encoder once, in SimpleTuner's
                                   * conditioning_image_embeds cache (Qwen edit-v1) */
} FamilyFlavour;

/* The published flow-match scheduler settings (scheduler_config.json of the family's releases). */
typedef struct FamilyScheduler { int max_image_seq_len; double max_shift, shift, shift_terminal; } FamilyScheduler;

typedef struct ModelFamily {
    const char *name;                       /* model_family value */
    const FamilyFlavour *flavours;          /* terminated by a NULL name; the first is the default */
    const char *transformer_class, *vae_class;
    const ModuleClass *module_classes;      /* the diffusers classes of the transformer's modules (lycoris_config) */
    const char *processor_folder;           /* the Qwen2-VL processor's folder in the model layout */
    /* datasets: aspect_bucket_alignment forced to this (0 = the config's), as SimpleTuner does */
    int bucket_alignment;
    /* validation: CFG rule for edit and text-to-image flavours; the pipeline call's guidance kwarg
     * and its diffusers default */
    CfgMode edit_guidance, t2i_guidance;
    const char *guidance_kwarg;
    double pipeline_guidance;
    /* validation's scale: validation_guidance_real when > 1 (the true-CFG key, when this is set),
     * else validation_guidance when set, else guidance_when_unset (0: validation_guidance's default) */
    int reads_guidance_real;
    double guidance_when_unset;
    /* the edit pipeline's output size for a reference of aspect w/h at ~area pixels: multiples of
     * 16 (Qwen-Image 32 then floored to 16); Qwen's Plus pipeline sizes from the LAST reference */
    void (*calculate_dimensions)(double area, double ratio, int *w, int *h);
    int size_from_last_reference;
    /* training of an edit flavour: the configuration key (this program's, config/options_own.c) that
     * chooses the reference tokens' timestep, "shared" (the sample's t for every token, as the
     * pipelines sample) or "zero" (t = 0 per reference token, SimpleTuner's LongCat conditioning);
     * NULL: always shared (Qwen's zero_cond_t models give references t = 0 themselves, in training
     * and sampling alike) */
    const char *reference_timestep_key;
    FamilyScheduler scheduler;
    /* the flavour init-model and the tiny.* presets make by default (the family's main edit model),
     * and the tiny presets' model folder name under $SIMPLETUNER_TINY_DIR/models */
    const char *edit_flavour, *tiny_folder;
    /* the transformer: load / build / save (models/transformer.h) */
    const TransformerOps *transformer;
    /* init-model: the family's transformer and VAE configs at a size (text_hidden: the text
     * encoder's width), and writing their random weights */
    cJSON *(*init_transformer_config)(const ModelInitSpec *spec, int zero_cond_t, int text_hidden);
    cJSON *(*init_vae_config)(ModelSize size);
    /* the transformer has a second kind of block (LongCat's single-stream blocks; init-model and
     * bench count them with --single) */
    int single_blocks;
} ModelFamily;

/* NULL-terminated list of every family. */
extern const ModelFamily *const MODEL_FAMILIES[];

/* The family of a model_family value, or NULL. */
const ModelFamily *family_find(const char *name);
/* As family_find, with an error naming the key and the supported families (EXIT_USAGE). */
const ModelFamily *family_require(const char *name, Err *e);
/* A flavour of the family (NULL name: the default flavour), or NULL when the family has none of it. */
const FamilyFlavour *family_flavour(const ModelFamily *f, const char *name);
/* The family and flavour a diffusers pipeline class samples (the first flavour that names it). */
const ModelFamily *family_by_pipeline(const char *pipeline_class, const FamilyFlavour **flavour);
/* "a, b, c": the family's flavour names, into buf. */
const char *family_flavour_list(const ModelFamily *f, char *buf, size_t cap);
/* The size the family's edit pipeline renders at for these references (RGB images; 1024² without
 * any): calculate_dimensions(1024², aspect of the first — or, size_from_last_reference, the last —
 * reference), floored to multiples of 16. */
void family_default_size(const ModelFamily *f, const Image *refs, int n_refs, int *w, int *h);
/* "qwen_image, longcat_image" */
const char *family_name_list(char *buf, size_t cap);

#endif
