/* language.h — the Qwen2.5-VL language model (Qwen2_5_VLTextModel), forward, one sequence at a
 * time (attention never crosses sequences of a batch).
 *
 *   x = embed_tokens[ids], with the vision tower's rows written, in order, over the
 *       <|image_pad|> positions
 *   per layer: x += o_proj(attn(mrope(q), mrope(k), v)), q/k/v = proj(rmsnorm_in x) with bias,
 *              GQA (query head h reads kv head h / (heads / kv_heads)), causal, masked keys
 *              invisible (masked queries are still computed);
 *              x += down(silu(gate(n)) * up(n)), n = rmsnorm_post x
 *   out = rmsnorm_final x
 * M-RoPE: inv_freq[j] = theta^(-2j/head_dim); pair (d, d + head_dim/2) uses frequency j = d and
 * takes its position from component t for the first mrope_section[0] frequencies, then h, then w. */
#ifndef ST_MODELS_QWEN25VL_LANGUAGE_H
#define ST_MODELS_QWEN25VL_LANGUAGE_H
#include <stdint.h>
#include "models/qwen25vl/model.h"

/* Receives hidden states: index 0..layers-1 = input of that layer (index 0 = embeddings),
 * index layers = after the final norm. h is [L, hidden]. */
typedef void (*QvHiddenFn)(void *ctx, int index, const float *h, int L);

/* x [L, hidden] <- embeddings of ids, image rows image_embeds[*next ...] scattered over the
 * image token positions (in order; *next advances). Errors when rows run out. */
int qv_embed_inputs(const QwenVL *m, const int64_t *ids, int L, const float *image_embeds, int64_t n_image_rows,
                    int64_t *next, float *x, Err *e);

/* cos/sin tables [L, head_dim] from positions pos[k * pos_stride + i] (k = t, h, w). */
void qv_mrope_tables(const QvTextConfig *c, const int64_t *pos, size_t pos_stride, int L, float *cos_t, float *sin_t);

/* Runs every layer on x [L, hidden] in place; on return x holds the final-norm output.
 * key_mask [L] (NULL: all valid). fn may be NULL. */
void qv_language_forward(const QwenVL *m, float *x, int L, const int64_t *pos, size_t pos_stride,
                         const int *key_mask, QvHiddenFn fn, void *ctx);

/* logits [L, vocab] = h W_lm^T; error when the checkpoint has no lm_head and is not tied. */
int qv_logits(const QwenVL *m, const float *h, int L, float *logits, Err *e);

#endif
