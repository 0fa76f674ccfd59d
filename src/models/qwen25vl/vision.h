/* vision.h — the Qwen2.5-VL vision tower (Qwen2_5_VisionTransformerPretrainedModel), forward.
 *
 * Input: pixel_values [sum of t*gh*gw, C*tp*p*p] in the processor's patch layout (2x2 merge
 * blocks in raster order, the merge*merge patches of a block in raster order) and the grid
 * (t, gh, gw) of each image. Every temporal frame of every image is independent (whole-frame
 * attention segments, windows inside a frame, merger per 2x2 block), so frames run one at a time:
 *   patch embed (the Conv3d with stride = kernel is a matmul over flattened patches)
 *   -> reorder merge blocks into windows (window_size px squares, raster order of windows)
 *   -> blocks: x += proj(attn(rope2d(qkv(rmsnorm1 x)))) over window segments (or the whole frame
 *      for fullatt_block_indexes); x += down(silu(gate(n)) * up(n)), n = rmsnorm2 x
 *   -> merger: rmsnorm, concatenate each block's merge*merge rows, fc1, exact GELU, fc2
 *   -> undo the window order.
 * Output: [sum of t*gh*gw/merge^2, out_hidden] merged tokens in raster order of the merged grid. */
#ifndef ST_MODELS_QWEN25VL_VISION_H
#define ST_MODELS_QWEN25VL_VISION_H
#include <stdint.h>
#include "models/qwen25vl/model.h"

/* Window order of a frame's lh x lw merged grid with windows of vw x vw merged tokens:
 * win_idx[lh*lw] lists merged tokens window by window (raster inside), cu[0..*nwin] the window
 * boundaries in patch rows (merge_unit rows per merged token). cu needs room for
 * ceil(lh/vw)*ceil(lw/vw) + 1 entries. */
void qv_window_index(int lh, int lw, int vw, int merge_unit, int *win_idx, int *cu, int *nwin);

/* Rows of merged tokens an image grid produces; error when the grid is not divisible. */
int qv_vision_tokens(const QvConfig *c, const int64_t *grid, int n_img, int64_t *total, Err *e);

/* pixel_values [n_patches, patch_dim]; grid [n_img, 3]; out [tokens, out_hidden]. */
int qv_vision_forward(const QwenVL *m, const float *pixel_values, int64_t n_patches, int64_t patch_dim,
                      const int64_t *grid, int n_img, float *out, Err *e);

#endif
