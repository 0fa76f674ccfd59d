/* run_context.h — what `train` and `validate` share: the resolved configuration, the model folder
 * and its loaded components (VAE, text encoder, transformer with its adapters), the scheduler, and
 * validation rendering. */
#ifndef ST_RUN_CONTEXT_H
#define ST_RUN_CONTEXT_H
#include "base/config.h"
#include "data/dataset.h"
#include "data/dataset_config.h"
#include "data/image.h"
#include "infer/flowmatch.h"
#include "infer/sampler.h"
#include "models/model_dir.h"
#include "models/longcat_image/denoiser.h"
#include "models/qwen_image/qi_denoiser.h"
#include "models/vae/vae.h"
#include "train/edit_data.h"
#include "train/prompt_glue.h"

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
    Denoiser den;
    FlowMatchConfig sched;
    DataSpecs specs; int have_specs;
    DataGroup data; int have_data;
    EditData ed;
    int quiet;
} RunContext;

/* Loads the configuration (validate: flags may stand alone) and every model component. */
int run_context_open(RunContext *r, int argc, char **argv, RunMode mode, Err *e);
void run_context_close(RunContext *r);
int run_context_train(RunContext *r, Err *e);
/* Loads the datasets and fills every cache (latents, prompt embeddings), then returns. */
int run_context_cache(RunContext *r, Err *e);

/* One edit sample to render: the instruction and 1..3 reference images. */
typedef struct ValidationJob {
    const char *prompt, *negative;
    const Image *refs; int n_refs;
    int width, height;         /* target size (multiples of 16) */
    uint64_t seed;
    const float *latents;      /* optional explicit initial latents [16, h/8, w/8] (packed order) */
} ValidationJob;
/* Samples the edit: result (RGB, width × height). */
int run_context_render(RunContext *r, const ValidationJob *job, Image *result, Err *e);
/* Renders the first num_eval_images samples of eval_dataset_id (or the first edit dataset) as
 * sheets dir/NN.png (loads the datasets when needed). */
int run_context_render_eval(RunContext *r, const char *dir, int64_t step, Err *e);
/* validation_resolution → (w, h) (first entry; "WxH", "N" (N×N) or megapixels when < 128). */
int validation_size(const Config *c, int *w, int *h, Err *e);

#endif
