/* mrope.h — the 3-D M-RoPE position ids of Qwen2.5-VL (transformers `get_rope_index`).
 *
 * Per sequence, over the tokens whose attention mask is 1 (the others get position 1 on all three
 * components): text runs count up by one on all components; an image whose tokens start at the
 * first <|image_pad|> after the current point takes its merged grid (t, h/merge, w/merge) as
 * (base + t*0, base + y, base + x), base = one past the largest position so far; the text after it
 * continues at one past the image's largest position. An image is counted for every
 * <|vision_start|> directly followed by <|image_pad|>; grids are consumed in order over the whole
 * batch. deltas[b] = max position + 1 - L.
 * Without image grids (grid == NULL) positions are cumsum(mask) - 1 with masked tokens at 1 and
 * deltas = max over all positions + 1 - L. */
#ifndef ST_MODELS_QWEN25VL_MROPE_H
#define ST_MODELS_QWEN25VL_MROPE_H
#include <stdint.h>
#include "base/error.h"
#include "models/qwen25vl/model.h"

/* ids, mask [B, L] (mask may be NULL = all ones); grid [n_grid, 3] (t, h, w) in patches or NULL.
 * pos [3, B, L]; deltas [B]. Errors name the sequence and what did not match. */
int qv_rope_index(const QvConfig *c, const int64_t *ids, const int64_t *mask, int B, int L,
                  const int64_t *grid, int n_grid, int64_t *pos, int64_t *deltas, Err *e);

#endif
