/* prompt_glue.h — the text encoder of a model folder (Qwen2.5-VL + tokenizer + image processor)
 * encoding an instruction together with its reference images exactly as the family's pipeline
 * does (resize per flavour, VL processor, template, kept rows). Used to fill the prompt-embedding
 * cache in training and directly in validation. */
#ifndef ST_PROMPT_GLUE_H
#define ST_PROMPT_GLUE_H
#include "base/error.h"
#include "image/image.h"
#include "models/model_dir.h"
#include "tensor/safetensors.h"
#include "tensor/quant.h"
#include "tensor/trace.h"
#include "models/qwen25vl/prompt.h"
#include "pipeline/edit_data.h"

typedef struct PromptEncoder PromptEncoder;

/* precision: text_encoder_1_precision (QUANT_NONE keeps the stored dtype). */
int prompt_encoder_open(PromptEncoder **out, const ModelDir *md, QvPromptKind kind, QuantKind precision, Err *e);
void prompt_encoder_close(PromptEncoder *p);
/* embeds [L, dim] (malloc'd); trace (may be NULL) gets the encoder's intermediates (prompt.h). */
int prompt_encoder_embed(PromptEncoder *p, const char *prompt, const Image *refs, int n_refs, const Trace *trace,
                         float **embeds, int *L, int *dim, Err *e);
/* PromptEncodeFn (train/edit_data.h): adds "prompt_embeds" [L, dim] to out. ctx = PromptEncoder*. */
int prompt_encoder_to_writer(void *ctx, const char *prompt, const Image *refs, int n_refs, StWriter *out, Err *e);
/* ConditionPixelsFn (train/edit_data.h): the flavour's resize of one reference and the VL processor;
 * adds "pixel_values" [rows, values] and "image_grid_thw" [3] (I64). ctx = PromptEncoder*. */
int prompt_encoder_condition_pixels(void *ctx, const Image *ref, StWriter *out, Err *e);
/* PromptEncodeProcessedFn: as prompt_encoder_to_writer from prepared references. */
int prompt_encoder_processed_to_writer(void *ctx, const char *prompt, const ConditionPixels *refs, int n_refs, StWriter *out,
                                       Err *e);

#endif
