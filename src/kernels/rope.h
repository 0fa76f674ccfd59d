/* rope.h — rotary embedding on interleaved pairs (dims 2p, 2p+1) of every head:
 *   out_2p = x_2p·cos − x_2p+1·sin,  out_2p+1 = x_2p·sin + x_2p+1·cos
 * with per-token tables cos/sin [n, D/2] (one angle per pair; families build the tables from their
 * own position ids). x is [n, H·D] with row stride ldx; in place. Backward rotates by −θ. */
#ifndef ST_KERNELS_ROPE_H
#define ST_KERNELS_ROPE_H

void rope_forward(float *x, int ldx, int n, int H, int D, const float *cos_t, const float *sin_t);
void rope_backward(float *dx, int ldx, int n, int H, int D, const float *cos_t, const float *sin_t);

#endif
