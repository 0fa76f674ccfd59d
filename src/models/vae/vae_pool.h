/* vae_pool.h — reuse of the large activation buffers of one VAE run.
 *
 * Every layer needs fresh [C, H, W] buffers of a handful of sizes; glibc serves buffers this large
 * with mmap, so without reuse each layer pays page faults and zeroing for every page (measured:
 * about half the decode time). The pool keeps freed buffers and hands one back when its capacity
 * is between n and 2n floats. On a miss it first releases everything it holds, so new memory is
 * only requested when nothing is cached: the peak resident size stays that of the live buffers. */
#ifndef ST_MODELS_VAE_POOL_H
#define ST_MODELS_VAE_POOL_H
#include <stddef.h>

#define VAE_POOL_SLOTS 8

typedef struct VaePool {
    float *buf[VAE_POOL_SLOTS];
    size_t cap[VAE_POOL_SLOTS];
    int n;
    float *col;            /* the im2col scratch: one buffer that only grows (bounded by CONV2D_COL_FLOATS) */
    size_t col_cap;
} VaePool;

/* A buffer of at least n floats (contents undefined). */
float *vae_pool_get(VaePool *p, size_t n);
/* Returns a buffer from vae_pool_get (NULL ignored). */
void vae_pool_put(VaePool *p, float *buf);
/* The im2col scratch of at least n floats (valid until the next call). */
float *vae_pool_col(VaePool *p, size_t n);
/* Frees the cached activation buffers (not the im2col scratch). */
void vae_pool_clear(VaePool *p);
/* Frees everything. */
void vae_pool_free(VaePool *p);

#endif
