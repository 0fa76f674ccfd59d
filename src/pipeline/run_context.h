/* run_context.h — what `train` and `validate` share: the resolved configuration, the model folder
 * and its loaded components (VAE, text encoder, transformer with its adapters), the scheduler, and
 * validation rendering. */
#ifndef ST_RUN_CONTEXT_H
#define ST_RUN_CONTEXT_H
#include "config/config.h"
#include "data/dataset.h"
#include "data/dataset_config.h"
#include "image/image.h"
#include "models/flowmatch.h"
#include "models/flow_sampler.h"
#include "models/model_dir.h"
#include "models/longcat_image/lc_denoiser.h"
#include "models/qwen_image/qi_denoiser.h"
#include "models/vae/vae.h"
#include "pipeline/edit_data.h"
#include "pipeline/prompt_encoder.h"

typedef enum { RUN_TRAIN, RUN_VALIDATE } RunMode;

typedef struct RunContext {
    RunMode mode;
    Config *cfg;
    const char *family, *flavour;
    char *model_path;
    ModelDir md;
    Vae vae; int have_vae;
    PromptEncoder *pe;
    QiModel qi; int have_qi;
    QiDenoiser qd;
    LcModel lc; int have_lc;
    LcDenoiser ld;
    QuantStorage *lc_qs; int n_lc_qs;   /* packed LongCat base weights */
    QuantKind text_precision;           /* text_encoder_1_precision */
    char *cie_dir;                      /* edit-v1: the conditioning_image_embeds cache, else NULL */
    Denoiser den;
    FlowMatchConfig sched;
    DataSpecs specs; int have_specs;
    DataGroup data; int have_data;
    EditData ed;
    int quiet;
} RunContext;

/* Loads the configuration (validate: flags may stand alone) and every model component. */
int run_context_open(RunContext *r, int argc, char **argv, RunMode mode, Err *e);

/* What a caller other than the CLI may change when opening (run-module's pipeline runs). */
typedef struct RunOverrides {
    int args_only;                    /* configuration from argv alone, no datasets */
    const char *component[8];         /* model folder components taken from other folders */
    const char *dir[8];
    int n_components;
} RunOverrides;
int run_context_open_with(RunContext *r, int argc, char **argv, RunMode mode, const RunOverrides *ov, Err *e);
void run_context_close(RunContext *r);
int run_context_train(RunContext *r, Err *e);
/* Loads the datasets and fills every cache (latents, prompt embeddings), then returns. */
int run_context_cache(RunContext *r, Err *e);

/* One edit sample to render: the instruction and 1..3 reference images. */
typedef struct ValidationJob {
    const char *prompt, *negative;
    const Image *refs; int n_refs;
    int width, height;         /* target size (multiples of 16); 0 = the pipeline's default */
    uint64_t seed;
    const float *latents;      /* optional explicit initial packed latents [tokens, 64] */
    const Trace *trace;        /* optional: every intermediate under the pipelines' tensor names
                                * ("prompt.*", "negative.*", "vl.*", "image_latents", "mu",
                                * "sigmas", "step<i>.*", "vae_decode_*", "image", ...) */
    const char *preview_prefix; /* optional: the predicted clean image every validation_preview_steps
                                 * steps as "<prefix>step-<k>.png" (validation_preview) */
} ValidationJob;
/* The size the family's edit pipeline renders at when none is given: Qwen-Image edit
 * calculate_dimensions(1024², aspect of the last reference), LongCat edit its own
 * calculate_dimensions(1024², aspect of the reference); 1024² without references. */
void run_context_default_size(const RunContext *r, const Image *refs, int n_refs, int *w, int *h);
/* Samples the edit: result (RGB, 8 bits); tensor (optional) gets the image before quantisation,
 * [3, H, W] in [0, 1] (malloc'd). */
int run_context_render(RunContext *r, const ValidationJob *job, Image *result, float **tensor, Err *e);
/* Renders the first num_eval_images samples of eval_dataset_id (or the first edit dataset) as
 * sheets dir/NN.png (loads the datasets when needed). */
int run_context_render_eval(RunContext *r, const char *dir, int64_t step, Err *e);
/* validation_resolution → (w, h) (first entry; "WxH", "N" (N×N) or megapixels when < 128). */
int validation_size(const Config *c, int *w, int *h, Err *e);

#endif
