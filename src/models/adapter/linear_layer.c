/* linear_layer.c — see linear_layer.h. */
#include "models/adapter/linear_layer.h"
#include "base/error.h"
#include "kernels/linear.h"
#include <stdlib.h>
#include <string.h>

void linear_scratch_free(LinearScratch *s) { free(s->buf); s->buf = NULL; s->cap = 0; }

static float *scratch(LinearScratch *s, size_t n) {
    if (n > s->cap) { free(s->buf); s->buf = xmalloc(n * sizeof(float)); s->cap = n; }
    return s->buf;
}

static int dropping(const Linear *l, const LinearDrop *d) { return l->ad && d && d->on && l->ad->dropout > 0; }

/* The mask stream of one call: independent of the order layers and groups run in. */
static uint64_t drop_seed(const Linear *l, const LinearDrop *d) {
    return d->seed ^ ((uint64_t)(l->id + 1) * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)(d->row0 + 1) * 0xC2B2AE3D27D4EB4Full);
}

size_t linear_acts_floats(const Linear *l, int n) { return l->ad ? (size_t)n * l->ad->ops->acts_per_row(l->ad) : 0; }

void linear_layer_forward(const Linear *l, const float *x, int ldx, int n, float *y, int ldy, float *acts,
                          const LinearDrop *drop, LinearScratch *s) {
    if (n <= 0) return;
    linear_forward(x, ldx, n, l->w, l->b, y, ldy, 0.0f);
    if (!l->ad) return;
    /* scratch: the dropped input [n, in] when dropping, the branch's activations when the caller
     * keeps none (no backward follows) */
    const int drop_on = dropping(l, drop);
    size_t nin = drop_on ? (size_t)n * l->in : 0, nh = acts ? 0 : linear_acts_floats(l, n);
    float *buf = nin + nh ? scratch(s, nin + nh) : NULL;
    const float *xa = x;
    int lda = ldx;
    if (drop_on) {
        lora_dropout_apply(x, ldx, n, l->in, l->ad->dropout, drop_seed(l, drop), buf);
        xa = buf; lda = l->in;
    }
    l->ad->ops->forward(l->ad, xa, lda, n, y, ldy, acts ? acts : buf + nin);
}

void linear_layer_backward(const Linear *l, const float *dy, int lddy, const float *x, int ldx, int n, const float *acts,
                           float *dx, int lddx, float beta, const LinearDrop *drop, LinearScratch *s) {
    if (n <= 0) return;
    if (dx) linear_backward_input(dy, lddy, n, l->w, dx, lddx, beta);
    if (l->gw) linear_backward_weight(dy, lddy, x, ldx, n, l->out, l->in, l->gw, l->gb);
    if (!l->ad) return;
    Adapter *a = l->ad;
    size_t spr = a->ops->scratch_per_row(a);
    if (!dropping(l, drop)) {
        float *sc = scratch(s, (size_t)n * spr);
        a->ops->backward(a, dy, lddy, x, ldx, n, acts, dx, lddx, sc);
        return;
    }
    /* the branch saw xd = x ∘ mask/(1−p): redraw the mask, back-propagate into g = dL/dxd, then
     * dx += mask/(1−p) ∘ g */
    size_t nin = (size_t)n * l->in;
    float *buf = scratch(s, 2 * nin + (size_t)n * spr), *xd = buf, *g = buf + nin, *sc = buf + 2 * nin;
    uint64_t seed = drop_seed(l, drop);
    lora_dropout_apply(x, ldx, n, l->in, a->dropout, seed, xd);
    if (dx) memset(g, 0, nin * sizeof(float));
    a->ops->backward(a, dy, lddy, xd, l->in, n, acts, dx ? g : NULL, l->in, sc);
    if (dx) lora_dropout_grad(g, n, l->in, a->dropout, seed, dx, lddx);
}

void linear_merged_weight(const Linear *l, float *W) {
    weight_rows_f32(l->w, 0, l->out, W);
    if (!l->ad) return;
    size_t n = (size_t)l->out * l->in;
    float *d = xmalloc(n * sizeof(float));
    l->ad->ops->delta(l->ad, d);
    for (size_t i = 0; i < n; i++) W[i] += d[i];
    free(d);
}
