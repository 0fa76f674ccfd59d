/* pipeline.h — the image-edit pipeline as a library: what `simpletuner train`, `validate`, `cache`,
 * the WebUI and data-parallel ranks all call. One Pipeline is one resolved configuration with its
 * loaded components:
 *
 *   Config ─► pipeline_open ─► model folder (local or Hugging Face cache), VAE, Qwen2.5-VL text encoder
 *            (tokenizer, image processor), the family's transformer with its adapters, the scheduler
 *   pipeline_render       one edit: instruction + 1..3 references (or text-to-image) ─► image
 *   pipeline_render_eval  the evaluation samples of the datasets as sheets (references | result)
 *   pipeline_eval         a paired folder's edits rendered and scored against their targets (PSNR, SSIM)
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

enum { PIPELINE_DATA_NONE = 0, PIPELINE_DATA_CACHE = 1, PIPELINE_DATA_EVAL = 2 };

typedef struct PipelineOptions {
    PipelineMode mode;          /* TRAIN attaches trainable adapters (or full training); INFER does not */
    int quiet;                  /* no default printing (callers with their own event callback need not set it) */
    /* model-folder components taken from other folders (the golden harness' pipeline dirs) */
    const char *component[8], *component_dir[8];
    int n_components;
    /* the run will read the datasets (PIPELINE_DATA_CACHE: caching, as `train` and `cache` do;
     * PIPELINE_DATA_EVAL: validation sheets from the eval dataset): their folders are checked before any
     * model is loaded (pipeline_check_datasets), and a configuration without an image dataset stops
     * there. NONE: a TRAIN pipeline used for forwards and steps of its own (tests, benchmarks). */
    int uses_datasets;
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
    PEV_VALIDATION_IMAGE,  /* step, path (the sheet written), done (image index) of total, seconds (this
                              run of sheets so far), eta (seconds left for the rest) */
    PEV_SAMPLING_STEP,     /* done of total sampling steps of one image; seconds (this image so far), eta */
    PEV_PREVIEW,           /* path (a predicted-x0 preview written) */
    PEV_INTERRUPTED,       /* step: training stops here; done = 1 when a checkpoint of this step follows */
    PEV_DONE,              /* step, path (final weights), message (summary) */
    PEV_FAILED,            /* message (the error) */
} PipelineEventKind;

typedef struct PipelineEvent {
    PipelineEventKind kind;
    int64_t step, total, epoch, done;
    double loss, lr, grad_norm, seconds;
    double eta;            /* SAMPLING_STEP: seconds left (of the whole validation run in training or
                              render_eval, else of this image); < 0 when unknown */
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

/* Every enabled image, conditioning and eval dataset's instance_data_dir is a readable folder: one
 * error listing each one that is not (EXIT_USAGE), before minutes of model loading. Returns the number
 * of enabled image and eval datasets (0 without any), or -1. */
int pipeline_check_datasets(const Config *c, Err *e);

/* The model folder of a configuration: pretrained_model_name_or_path, else the family flavour's hub
 * id, located (local folder or Hugging Face cache) at `revision`; malloc'd. */
int pipeline_locate_model(const Config *c, char **dir_out, Err *e);

/* model_flavour when the configuration leaves it out: the flavour of the model folder's pipeline class
 * (model_index.json "_class_name"), recorded in cfg as inferred; an explicit model_flavour (or
 * model_family) that contradicts the folder's class is an error naming both (EXIT_USAGE; a flavour of
 * the same family is allowed with i_know_what_i_am_doing). *note: what to tell the user (malloc'd) or
 * NULL. Returns 1 (e says why) when the model folder cannot be found now. pipeline_open calls it;
 * `config show` too. */
int pipeline_resolve_flavour(Config *cfg, char **note, Err *e);

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
/* The adapters a render uses, as validate and eval pick them: `lora` given, "none" (the base model
 * even when output_dir has a LoRA), or NULL (pipeline_newest_adapters). malloc'd path or NULL. */
char *pipeline_choose_adapters(const Pipeline *p, const char *lora);

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
    int image_index;                 /* k-th image of one seeded draw (num_validation_images): the diffusers
                                        pipelines draw [N, C, h, w] noise from one generator seeded once, so
                                        image k's noise is the k-th [C, h, w] block of the seed's stream */
} EditRequest;

/* How many of n_refs references the flavour's pipeline takes (its max_refs); with warn, more than that
 * is a warning saying which are used. pipeline_render uses only those. */
int pipeline_usable_refs(Pipeline *p, int n_refs, int warn);
/* The size the family's edit pipeline renders at for these references (1024² without). */
void pipeline_default_size(const Pipeline *p, const Image *refs, int n_refs, int *w, int *h);
/* validation_resolution → every (w, h) it lists (at most max; "WxH", an edge, or megapixels when
 * < 128), floored to multiples of 16 as the diffusers pipelines do, with a warning when that changes
 * a size. Returns the count (>= 1) or -1. */
#define PIPELINE_MAX_SIZES 16
int pipeline_validation_sizes(Pipeline *p, int (*wh)[2], int max, Err *e);
/* The CFG scale renders use (the family's rule over validation_guidance(_real)); 0 when they
 * sample without CFG (a scale <= 1, or validation_disable_unconditional). */
double pipeline_guidance(const Pipeline *p);
/* Samples the edit: result (8-bit RGB); tensor (optional) gets the image before 8-bit rounding,
 * [3, H, W] in [0, 1] (malloc'd). */
int pipeline_render(Pipeline *p, const EditRequest *req, Image *result, float **tensor, Err *e);
/* The first num_eval_images samples of eval_dataset_id (or the first edit dataset without
 * disable_validation) as sheets dir/NN[_WxH][_k].<ext> (reference 1..n | result | target, or result
 * first with validation_stitch_input_location right; the instruction and the settings underneath: step
 * (when >= 0), seed, guidance, LoRA scale, size): one per size of validation_resolution (_WxH after the
 * first) and per image of num_validation_images (_k after the first), in validation_image_format at
 * validation_image_quality; loads the datasets when needed. */
int pipeline_render_eval(Pipeline *p, const char *dir, int64_t step, Err *e);

/* ---- evaluation against known results (`simpletuner eval`) ---- */

/* Every (references, instruction) pair of a paired folder (data/edit_pairs.h: images/ + .txt,
 * reference/ or reference_a|b|c/) rendered as `validate` renders (validation_resolution, else the
 * pipeline's size for the references; validation_num_inference_steps; the guidance of
 * pipeline_guidance; seed validation_seed for every pair) and compared with its target: PSNR and
 * SSIM of image/image_metrics.h on the 8-bit images, the target resized (PIL-exact Lanczos) to the
 * render size when they differ. Writes under out_dir: results/<name stem>.png (each render),
 * sheet.png (or sheet-01.png, sheet-02.png, ... of 16 rows each: references | result | target per
 * row, name, PSNR, SSIM and instruction underneath) and report.json (eval_report_json). */
typedef struct EvalOptions {
    const char *dataset;        /* the paired folder */
    const char *out_dir;        /* NULL: <output_dir>/eval (./eval without output_dir) */
    const char *lora;           /* as pipeline_choose_adapters: a path, "none", or NULL (the newest in output_dir) */
    float lora_scale;
    int limit;                  /* > 0: only the first `limit` pairs (in name order) */
} EvalOptions;

typedef struct EvalPairResult {
    char *name, *instruction;   /* the target's path under images/, its instruction */
    char *target, *result;      /* the target read, the render written */
    char *refs[3]; int n_refs;
    int width, height;          /* the render size */
    int target_resized;         /* the target's size differed: compared after resizing it */
    double psnr, ssim;          /* psnr +INFINITY when the render equals the target */
    double unedited_psnr;       /* the first reference itself against the target: what an edit must beat */
} EvalPairResult;

typedef struct EvalReport {
    char *dataset, *out_dir, *model, *lora;   /* lora NULL: the base model */
    const char *family, *flavour;
    double lora_scale, guidance;              /* guidance 0: no CFG */
    int steps;
    uint64_t seed;
    int n_found;                              /* pairs in the folder (n <= n_found with limit) */
    int n;
    EvalPairResult *pairs;
    double mean_psnr, mean_ssim;              /* over the n pairs (mean_psnr +INFINITY if one is) */
    double mean_unedited_psnr;                /* mean of the pairs' unedited_psnr */
    int worst[5], n_worst;                    /* indices of the lowest PSNRs, lowest first (ties: name order) */
    char **sheets; int n_sheets;
    char *report_path;                        /* out_dir/report.json */
} EvalReport;

int pipeline_eval(Pipeline *p, const EvalOptions *opt, EvalReport *out, Err *e);
/* The report as JSON (malloc'd), the text of report.json and of `eval --json`: see eval_pairs.c. */
char *eval_report_json(const EvalReport *r);
void eval_report_free(EvalReport *r);

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
