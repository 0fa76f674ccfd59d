/* prompt.h — prompt encoding through Qwen2.5-VL exactly as each pipeline does it (diffusers
 * QwenImagePipeline / QwenImageEditPipeline / QwenImageEditPlusPipeline, LongCatImagePipeline /
 * LongCatImageEditPipeline), one prompt at a time:
 *
 *   qwen text-to-image  template with the prompt, ids truncated to 1024 + 34, drop the first 34
 *                       rows, keep at most max_sequence_length (512) rows
 *   qwen edit-v1        template with "<|vision_start|><|image_pad|><|vision_end|>" before the
 *                       instruction (one image), drop the first 64 rows
 *   qwen edit-v2(+)     user text "Picture k: <|vision_start|><|image_pad|><|vision_end|>" for each
 *                       image k = 1..n, then the instruction; drop the first 64 rows
 *   longcat t2i / edit  prefix ids (edit: with "<|vision_start|><|image_pad|><|vision_end|>") ++
 *                       instruction ids (quoted spans tokenised one character at a time, truncated
 *                       to 512, right-padded with <|endoftext|> to 512, pads masked) ++ suffix ids;
 *                       rows [prefix_len, L - 5) where prefix_len = position of <|vision_start|>
 *                       (edit) or the prefix length (t2i); pad rows are kept; text_ids (0, i, i).
 * Every <|image_pad|> becomes t*h*w / merge^2 copies for its image. The last hidden state is the
 * output after the final norm. Drop counts and positions come from the tokenised templates, so a
 * tokenizer with other ids gives the same structure.
 *
 * Reference images are resized as each pipeline does before the Qwen2-VL processor (PIL Lanczos):
 * edit-v1 to calculate_dimensions(1024^2) (multiples of 32), edit-v2 each to
 * calculate_dimensions(384^2), LongCat edit to its calculate_dimensions(1024^2) (multiples of 16,
 * rounded up) and then to half that size; then processor.h (smart_resize, bicubic, CLIP). */
#ifndef ST_MODELS_QWEN25VL_PROMPT_H
#define ST_MODELS_QWEN25VL_PROMPT_H
#include <stdint.h>
#include "base/error.h"
#include "image/image.h"
#include "models/qwen25vl/model.h"
#include "models/qwen25vl/processor.h"
#include "models/qwen25vl/tokenizer.h"
#include "tensor/trace.h"

/* Each flavour's kind is in the family table (models/family.c). */
typedef enum {
    QV_PROMPT_QWEN_T2I, QV_PROMPT_QWEN_EDIT_V1, QV_PROMPT_QWEN_EDIT_V2,
    QV_PROMPT_LONGCAT_T2I, QV_PROMPT_LONGCAT_EDIT
} QvPromptKind;

/* The prompt templates the pipelines wrap instructions in (i = 0, 1, ...; NULL past the last),
 * e.g. as a corpus for a small vocabulary. */
const char *qv_prompt_template(int i);

/* One processed image: pixel_values [t*h*w, C*tp*p*p] and grid (t, h, w) in patches. */
typedef struct QvImageInput { const float *pixel_values; int64_t grid[3]; } QvImageInput;

/* The model input of one prompt and the rows the pipeline keeps. */
typedef struct QvPromptIds {
    int64_t *ids, *mask;     /* [L] */
    int L;
    int keep0, keep1;        /* rows [keep0, keep1) of the last hidden state form prompt_embeds */
} QvPromptIds;

/* LongCat's split of a prompt into quoted / unquoted spans (quotes included in quoted spans;
 * word-internal apostrophes as in "don't" never quote). Returns the count; spans[i] = byte offset
 * and length into text, quoted[i] 0/1. Arrays are malloc'd. */
int qv_split_quotation(const char *text, int **start, int **len, int **quoted);

/* Qwen-Image places text token t at RoPE position M + t (M = half the largest image grid side) in a
 * table of 4096 positions (diffusers' QwenEmbedRope), and its edit pipelines do not truncate: a
 * prompt embedding longer than this cannot be used, so encoding refuses it before the text encoder
 * runs (whose attention costs grow with the square of the length): about 2000 to 3000 words of
 * English, depending on the image tokens. */
#define QV_QWEN_MAX_TEXT_ROWS 4096

/* Builds ids, mask and kept rows. image_tokens[k] = merged tokens of image k. A Qwen prompt whose
 * embedding would exceed QV_QWEN_MAX_TEXT_ROWS rows is an error (exit 2); LongCat truncates its text
 * to 512 tokens as upstream does. */
int qv_prompt_ids(QvPromptKind kind, Tokenizer *tok, const QvConfig *cfg, const char *text,
                  const int64_t *image_tokens, int n_images, QvPromptIds *out, Err *e);
void qv_prompt_ids_free(QvPromptIds *p);

typedef struct QvPromptEmbeds {
    float *embeds;           /* [L, hidden] */
    int64_t *mask;           /* [L] 1 = a real token, 0 = padding (LongCat's pad rows) */
    float *text_ids;         /* [L, 3] LongCat text position ids (0, i, i); NULL for Qwen-Image */
    int L, hidden;
} QvPromptEmbeds;

/* The whole encoding from the instruction and the raw reference images (RGB): the pipeline's
 * resize, the processor (pc), ids, vision tower, language model, rows kept. trace (may be NULL)
 * receives the pipeline's intermediates under upstream's names: "vl.pixel_values_head" (first 16
 * rows), "vl.image_grid_thw", "vl.image_embeds", "input_ids", "attention_mask",
 * "rope_position_ids", "rope_deltas", "hidden_states_last", "prompt_embeds", then
 * "prompt_embeds_mask" (Qwen-Image) or "text_ids" (LongCat). */
int qwenvl_encode_prompt(const QwenVL *m, Tokenizer *tok, const QwenVLProcessorConfig *pc, QvPromptKind kind,
                         const char *text, const Image *refs, int n_refs, const Trace *trace, QvPromptEmbeds *out, Err *e);
/* The pipeline's resize of one reference before the processor (kind decides the size). */
int qv_prompt_condition_image(QvPromptKind kind, const Image *ref, Image *out, Err *e);
/* Same from already processed images (pixel_values and grid per image). */
int qwenvl_encode_prompt_processed(const QwenVL *m, Tokenizer *tok, QvPromptKind kind, const char *text,
                                   const QvImageInput *images, int n_images, const Trace *trace, QvPromptEmbeds *out, Err *e);
/* Same from already built ids and the vision tower's rows for their images (tests, caches). */
int qwenvl_encode_ids(const QwenVL *m, QvPromptKind kind, const QvPromptIds *ids, const float *image_embeds,
                      int64_t n_image_rows, const int64_t *grids, int n_images, const Trace *trace, QvPromptEmbeds *out, Err *e);
void qv_prompt_embeds_free(QvPromptEmbeds *p);

#endif
