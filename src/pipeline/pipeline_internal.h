/* pipeline_internal.h — the Pipeline struct, shared by the pipeline's files (pipeline.c: opening
 * and events; render.c: sampling; evaluate.c: validation sheets; caches.c: datasets and caches;
 * train_run.c: the training loop's wiring). */
#ifndef ST_PIPELINE_INTERNAL_H
#define ST_PIPELINE_INTERNAL_H
#include "pipeline/pipeline.h"
#include "data/dataset.h"
#include "data/dataset_config.h"
#include "models/flowmatch.h"
#include "models/model_dir.h"
#include "models/transformer.h"
#include "models/vae/vae.h"
#include "pipeline/edit_data.h"
#include "pipeline/progress.h"
#include "pipeline/prompt_encoder.h"
#include <time.h>

/* The progress clock of a run of several renders (validation sheets): sampling steps done and in all,
 * from t0; steps_total 0 when no such run is on. */
typedef struct RenderClock { struct timespec t0; int64_t steps_done, steps_total; } RenderClock;

/* What adapts the transformer's weights (for sheets' captions). */
typedef enum { PIPELINE_ADAPTERS_NONE, PIPELINE_ADAPTERS_LORA, PIPELINE_ADAPTERS_FULL } PipelineAdapters;

/* An eval sample's prompt and negative prompt encoded with its references, [len, dim]. */
typedef struct EvalEmbeds { float *pos, *neg; int pos_len, neg_len, dim; } EvalEmbeds;

struct Pipeline {
    PipelineMode mode;
    Config *cfg;
    const ModelFamily *fam;
    const FamilyFlavour *flavour;
    char *model_path;
    ModelDir md;
    Vae vae; int have_vae;
    PromptEncoder *pe;
    Transformer tr; int have_tr;
    QuantKind text_precision;           /* text_encoder_1_precision */
    FlowMatchConfig sched;
    DataSpecs specs; int have_specs;
    DataGroup data; int have_data;
    EditData ed;
    char *cie_dir;                      /* edit-v1: the conditioning_image_embeds cache, else NULL */
    char **embed_dirs; int n_embed_dirs; /* per-set embed cache folders (DatasetSpec text/cie_cache_dir) */
    int lycoris_loaded;                 /* the adapters loaded for inference are a LyCORIS file (--lora_scale is its strength) */
    float lycoris_multiplier;           /* lora_type=lycoris training: the training multiplier (0: not LyCORIS) */
    EvalEmbeds *eval_embeds;            /* kept when the text encoder is released (training) */
    int n_eval_embeds;
    QuantKind pending_quant;            /* training: base quantised after caching, when the text encoder is gone */
    int quiet;
    const Parallel *par;                /* data-parallel ranks, or NULL */
    PipelineEventFn on_event; void *event_ctx;
    Progress progress;                  /* the default printer's state */
    RenderClock clock;                  /* ETA of the validation run being rendered */
    PipelineAdapters adapters;          /* training adapters, a loaded LoRA, full training, or none */
    float lora_scale;                   /* the loaded LoRA's --lora_scale (1 in training) */
};

void pipeline_emit(Pipeline *p, const PipelineEvent *ev);
void pipeline_emitf(Pipeline *p, PipelineEventKind kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The datasets of the configuration, loaded once (validation_only: nothing to train on is no error). */
int pipeline_load_data(Pipeline *p, int validation_only, Err *e);
/* The evaluation dataset (eval_dataset_id, else a dataset_type eval set, else the first edit dataset
 * with samples): its index. */
int pipeline_eval_set(Pipeline *p, Err *e);
/* Loads the datasets and fills the caches; the EditData (p->ed) then serves training batches. */
int pipeline_fill_caches(Pipeline *p, CacheSummary *out, Err *e);
/* The validation guidance scale the family's rule gives (render.c); *cfg_on: whether true CFG runs. */
float pipeline_guidance_cfg(const Pipeline *p, int *cfg_on);
/* Encodes the validation samples' prompts (positive and negative, with their references) so that
 * the text encoder can be released; render_eval then uses them. */
int pipeline_keep_eval_embeds(Pipeline *p, Err *e);
void pipeline_free_eval_embeds(Pipeline *p);
/* The base_model_precision quantisation that opening left for later (training). */
int pipeline_quantize_base(Pipeline *p, Err *e);

#endif
