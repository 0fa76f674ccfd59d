/* vae_pool.c — see vae_pool.h. Each buffer carries its capacity in a 64-byte header. */
#include "models/vae/vae_pool.h"
#include "base/error.h"
#include <stdlib.h>

#define HEADER 64

static size_t capacity_of(const float *buf) { return *(const size_t *)((const char *)buf - HEADER); }

float *vae_pool_get(VaePool *p, size_t n) {
    int best = -1;
    for (int i = 0; i < p->n; i++)
        if (p->cap[i] >= n && p->cap[i] <= 2 * n + 1024 && (best < 0 || p->cap[i] < p->cap[best])) best = i;
    if (best >= 0) {
        float *b = p->buf[best];
        p->buf[best] = p->buf[p->n - 1];
        p->cap[best] = p->cap[p->n - 1];
        p->n--;
        return b;
    }
    vae_pool_clear(p);
    char *raw = xmalloc(HEADER + n * sizeof(float));
    *(size_t *)raw = n;
    return (float *)(raw + HEADER);
}

void vae_pool_put(VaePool *p, float *buf) {
    if (!buf) return;
    if (p->n == VAE_POOL_SLOTS) {          /* full: drop the smallest */
        int s = 0;
        for (int i = 1; i < p->n; i++) if (p->cap[i] < p->cap[s]) s = i;
        free((char *)p->buf[s] - HEADER);
        p->buf[s] = p->buf[p->n - 1];
        p->cap[s] = p->cap[p->n - 1];
        p->n--;
    }
    p->buf[p->n] = buf;
    p->cap[p->n] = capacity_of(buf);
    p->n++;
}

void vae_pool_clear(VaePool *p) {
    for (int i = 0; i < p->n; i++) free((char *)p->buf[i] - HEADER);
    p->n = 0;
}

float *vae_pool_col(VaePool *p, size_t n) {
    if (n > p->col_cap) {
        free(p->col);
        p->col = xmalloc(n * sizeof(float));
        p->col_cap = n;
    }
    return p->col;
}

void vae_pool_free(VaePool *p) {
    vae_pool_clear(p);
    free(p->col);
    p->col = NULL;
    p->col_cap = 0;
}
