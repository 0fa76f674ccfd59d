/* attention.h — multi-head scaled dot-product attention, non-causal, with an optional key mask,
 * tiled with an online softmax: no buffer larger than one ATTN_TQ×ATTN_TK score tile per thread,
 * whatever the sequence length. Backward recomputes the scores from the saved log-sum-exp.
 *
 * q, k, v, out: [S, H·D] token-major with row stride ld (head h = columns h·D .. h·D+D−1).
 * key_valid: [S] (1 = attend, 0 = masked), NULL = all keys valid. lse: [H, S] saved for backward.
 * Threads: OpenMP over heads (and query tiles in forward); sgemm inside runs single-threaded. */
#ifndef ST_KERNELS_ATTENTION_H
#define ST_KERNELS_ATTENTION_H

/* 256 queries x 512 keys (a 512 KiB score tile): each sgemm inside is big enough for OpenBLAS to
 * amortise its packing. 64x128 tiles ran the kernels at ~0.6 of a plain sgemm's rate
 * (bench/attention_bench.c, S 2176, 24 heads of 128: forward 776 -> 465 ms, backward 1774 ->
 * 1161 ms on 2 threads); bigger tiles gained nothing more on this machine. */
#define ATTN_TQ 256
#define ATTN_TK 512

void attention_forward(const float *q, const float *k, const float *v, int ld, int S, int H, int D,
                       const unsigned char *key_valid, float *out, int ldo, float *lse);
/* dq, dk, dv are overwritten (they may have the same row stride ld as q, k, v). */
void attention_backward(const float *dout, int ldo, const float *q, const float *k, const float *v, int ld,
                        const float *out, const float *lse, int S, int H, int D, const unsigned char *key_valid,
                        float *dq, float *dk, float *dv, int ldd);

#endif
