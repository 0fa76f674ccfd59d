/* pipeline.h — the image-edit pipeline as a library: what `simpletuner train`, `validate`, `cache`,
 * the WebUI and data-parallel ranks all call. One Pipeline is one resolved configuration with its
 * loaded components:
 *
 *   Config ─► pipeline_open ─► model folder (local or Hugging Face cache), VAE, Qwen2.5-VL text encoder
 *            (tokenizer, image processor), the family's transformer with its adapters, the scheduler
 *   pipeline_render       one edit: instruction + 1..3 references (or text-to-image) ─► image
 *   pipeline_render_eval  the evaluation samples of the datasets as sheets (references | result)
 *   pipeline_cache        datasets loaded and paired; VAE latents and prompt embeddings cached
 *   pipeline_train        caches, then the training loop with checkpoints and validation
 *   pipeline_close
 *
 * Everything a run reports goes through one event callback (pipeline_on_event): cache progress,
 * optimizer steps, sampling steps, validation images, checkpoints, the end. The CLI prints events;
 * a server streams them. Nothing here prints unless no callback is set and quiet is off, in which
 * case the default printer (pipeline_print_event) writes them to stderr. */
#ifndef ST_PIPELINE_H
#define ST_PIPELINE_H
#include <stdint.h>
#include "base/error.h"
#include "config/config.h"
#include "image/image.h"
#include "models/family.h"
#include "tensor/trace.h"
#include "train/parallel.h"

typedef struct Pipeline Pipeline;

/* TRAIN: trainable adapters (or full training); the base is quantised and the text encoder released
 * only after the caches are filled (pipeline_train), so the two large models are never resident
 * together. INFER: everything loaded at open. CACHE: no transformer at all (pipeline_cache). */
typedef enum { PIPELINE_TRAIN, PIPELINE_INFER, PIPELINE_CACHE } PipelineMode;

typedef struct PipelineOptions {
    PipelineMode mode;          /* TRAIN attaches trainable adapters (or full training); INFER does not */
    int quiet;                  /* no default printing (callers with their own event callback need not set it) */
    /* model-folder components taken from other folders (the golden harness' pipeline dirs) */
    const char *component[8], *component_dir[8];
    int n_components;
} PipelineOptions;

/* ---- events ---- */
typedef enum {
    PEV_INFO,              /* a line of information (message) */
    PEV_WARNING,           /* message */
    PEV_CACHE_PROGRESS,    /* done of total cache entries; message = what is being cached */
    PEV_CACHE_DONE,        /* message = the summary line */
    PEV_TRAIN_START,       /* step (first step of this run), total */
    PEV_STEP,              /* an optimizer step: step, total, epoch, loss, lr, grad_norm, seconds (since this run's start) */
    PEV_CHECKPOINT,        /* step, path (the checkpoint folder) */
    PEV_VALIDATION_START,  /* step, done (image index), total (images) and message (instruction) */
    PEV_VALIDATION_IMAGE,  /* step, path (the sheet written) */
    PEV_SAMPLING_STEP,     /* done of total sampling steps of one image */
    PEV_PREVIEW,           /* path (a predicted-x0 preview written) */
    PEV_INTERRUPTED,       /* step: stopping after this step (a checkpoint follows) */
    PEV_DONE,              /* step, path (final weights), message (summary) */
    PEV_FAILED,            /* message (the error) */
} PipelineEventKind;

typedef struct PipelineEvent {
    PipelineEventKind kind;
    int64_t step, total, epoch, done;
    double loss, lr, grad_norm, seconds;
    const char *path, *message;
} PipelineEvent;

typedef void (*PipelineEventFn)(void *ctx, const PipelineEvent *ev);

/* ---- lifetime ---- */

/* Takes ownership of cfg (also on failure). Errors name the key or file (EXIT_USAGE for
 * configuration errors). */
int pipeline_open(Pipeline **out, Config *cfg, const PipelineOptions *opt, Err *e);
void pipeline_close(Pipeline *p);
/* Events go to fn(ctx, ev) from now on (NULL: the default printer unless quiet). */
void pipeline_on_event(Pipeline *p, PipelineEventFn fn, void *ctx);
/* The default printer: progress bar on a terminal, one line per event otherwise (stderr). */
void pipeline_print_event(void *ctx, const PipelineEvent *ev);
/* An event as one line of JSON without the newline (malloc'd): {"event": KIND, "time": unix seconds,
 * the kind's fields, "path", "message"}; the format of `--events FILE` (docs/webui.md). */
char *pipeline_event_json(const PipelineEvent *ev);
/* "step", "checkpoint", ... (the "event" field of pipeline_event_json). */
const char *pipeline_event_kind_name(PipelineEventKind k);

/* The model folder of a configuration: pretrained_model_name_or_path, else the family flavour's hub
 * id, located (local folder or Hugging Face cache) at `revision`; malloc'd. */
int pipeline_locate_model(const Config *c, char **dir_out, Err *e);

const Config *pipeline_config(const Pipeline *p);
const ModelFamily *pipeline_family(const Pipeline *p);
const FamilyFlavour *pipeline_flavour(const Pipeline *p);
const char *pipeline_model_path(const Pipeline *p);
/* The folder a component ("vae", "transformer", "text_encoder", ...) is read from. */
const char *pipeline_component_dir(const Pipeline *p, const char *name);
int pipeline_latent_channels(const Pipeline *p);

/* ---- inference ---- */

/* Adapters for inference from a LoRA file (ours, diffusers, ComfyUI, kohya), replacing any;
 * scale multiplies their delta (0 = the base model). */
int pipeline_load_adapters(Pipeline *p, const char *path, float scale, Err *e);
/* The newest LoRA in output_dir (the final file, else the highest checkpoint's), or NULL (malloc'd). */
char *pipeline_newest_adapters(const Pipeline *p);

/* One edit (or text-to-image sample) to render. */
typedef struct EditRequest {
    const char *prompt, *negative;   /* negative NULL: validation_negative_prompt */
    const Image *refs; int n_refs;   /* 0..3 reference images (RGB) */
    int width, height;               /* multiples of 16; 0 = the pipeline's default size for the references */
    uint64_t seed;
    const float *latents;            /* optional initial packed latents [tokens, 64] instead of the seed */
    const Trace *trace;              /* optional: every intermediate under the diffusers pipelines' names */
    const char *preview_prefix;      /* optional: "<prefix>step-<k>.png" predicted-x0 previews (validation_preview) */
    /* optional: the prompt (and negative prompt) already encoded with these references, [len, dim]
     * (training frees the text encoder after caching and keeps its validation prompts' embeddings) */
    const float *prompt_embeds, *negative_embeds;
    int prompt_len, negative_len, embed_dim;
} EditRequest;

/* The size the family's edit pipeline renders at for these references (1024² without). */
void pipeline_default_size(const Pipeline *p, const Image *refs, int n_refs, int *w, int *h);
/* validation_resolution → every (w, h) it lists (at most max; "WxH", an edge, or megapixels when
 * < 128), floored to multiples of 16 as the diffusers pipelines do, with a warning when that changes
 * a size. Returns the count (>= 1) or -1. */
#define PIPELINE_MAX_SIZES 16
int pipeline_validation_sizes(Pipeline *p, int (*wh)[2], int max, Err *e);
/* Samples the edit: result (8-bit RGB); tensor (optional) gets the image before 8-bit rounding,
 * [3, H, W] in [0, 1] (malloc'd). */
int pipeline_render(Pipeline *p, const EditRequest *req, Image *result, float **tensor, Err *e);
/* The first num_eval_images samples of eval_dataset_id (or the first edit dataset) as sheets
 * dir/NN.png (references | result, instruction underneath); loads the datasets when needed. */
int pipeline_render_eval(Pipeline *p, const char *dir, int64_t step, Err *e);

/* ---- datasets, caches, training ---- */

/* Data-parallel ranks (train/parallel.h) for pipeline_cache and pipeline_train: cache misses split
 * across ranks, each optimizer step's batch shared, rank 0 writing. NULL: one process. */
void pipeline_set_parallel(Pipeline *p, const Parallel *par);

typedef struct CacheSummary { int vae_reused, vae_computed, text_reused, text_computed, cie_reused, cie_computed; } CacheSummary;
/* Loads and pairs the datasets and fills every missing or stale cache entry. */
int pipeline_cache(Pipeline *p, CacheSummary *out, Err *e);

typedef struct TrainSummary {
    int64_t steps_done, resumed_from;   /* resumed_from -1: a fresh run */
    double first_loss, last_loss;
    int interrupted;                    /* stopped by Ctrl-C / SIGTERM after checkpointing */
    char final_weights[1024];           /* empty when interrupted */
    char output_dir[1024];
} TrainSummary;
/* pipeline_cache, then the training loop to max_train_steps (or interrupted). */
int pipeline_train(Pipeline *p, TrainSummary *out, Err *e);

#endif
