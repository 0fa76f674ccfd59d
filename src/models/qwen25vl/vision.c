/* vision.c — see vision.h. */
#include "models/qwen25vl/vision.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

void qv_window_index(int lh, int lw, int vw, int merge_unit, int *win_idx, int *cu, int *nwin) {
    int n = 0, k = 0;
    cu[0] = 0;
    for (int wy = 0; wy * vw < lh; wy++)
        for (int wx = 0; wx * vw < lw; wx++) {
            int cnt = 0;
            for (int y = wy * vw; y < lh && y < (wy + 1) * vw; y++)
                for (int x = wx * vw; x < lw && x < (wx + 1) * vw; x++) { win_idx[n++] = y * lw + x; cnt++; }
            /* upstream pads the grid to whole windows and drops empty ones (unique_consecutive) */
            if (cnt) { cu[k + 1] = cu[k] + cnt * merge_unit; k++; }
        }
    *nwin = k;
}

int qv_vision_tokens(const QvConfig *c, const int64_t *grid, int n_img, int64_t *total, Err *e) {
    int m = c->vision.merge;
    *total = 0;
    for (int i = 0; i < n_img; i++) {
        const int64_t *g = grid + 3 * (size_t)i;
        if (g[0] <= 0 || g[1] <= 0 || g[2] <= 0 || g[1] % m || g[2] % m)
            return err_set(e, "image_grid_thw row %d: (%lld, %lld, %lld) is not a positive grid with h and w divisible by the merge size %d",
                           i, (long long)g[0], (long long)g[1], (long long)g[2], m);
        *total += g[0] * (g[1] / m) * (g[2] / m);
    }
    return 0;
}

static void gelu_erf(float *x, size_t n) {
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
}

/* One frame of gh x gw patches: P [N, patch_dim] -> out [N / merge^2, out_hidden]. */
static void vision_frame(const QwenVL *m, const float *P, int gh, int gw, float *out) {
    const QvVisionConfig *c = &m->cfg.vision;
    int C = c->hidden, D = c->head_dim, H = c->heads, I = c->intermediate, mg = c->merge, mu = mg * mg;
    int N = gh * gw, lh = gh / mg, lw = gw / mg, M = lh * lw;
    int vw = c->window_size / mg / c->patch;
    float *x0 = xmalloc((size_t)N * C * sizeof(float));
    qv_linear(m, m->patch_embed, P, N, m->patch_embed.in, x0, C);

    /* window order of merge blocks, applied to the rows and to their 2-D positions */
    int *win = xmalloc((size_t)M * sizeof(int));
    int maxwin = ((lh + vw - 1) / vw) * ((lw + vw - 1) / vw);
    int *cu = xmalloc(((size_t)maxwin + 1) * sizeof(int)), nwin;
    qv_window_index(lh, lw, vw, mu, win, cu, &nwin);
    float *x = xmalloc((size_t)N * C * sizeof(float));
    float *cos_t = xmalloc((size_t)N * D * sizeof(float)), *sin_t = xmalloc((size_t)N * D * sizeof(float));
    int q4 = D / 4;
    float *inv = xmalloc((size_t)q4 * sizeof(float));
    for (int i = 0; i < q4; i++) inv[i] = 1.0f / powf(10000.0f, (float)(2 * i) / (float)(D / 2));
    for (int g = 0; g < M; g++)
        for (int j = 0; j < mu; j++) {
            int dst = g * mu + j, src = win[g] * mu + j;
            memcpy(x + (size_t)dst * C, x0 + (size_t)src * C, (size_t)C * sizeof(float));
            int blk = src / mu, by = blk / lw, bx = blk % lw, iy = j / mg, ix = j % mg;
            float hp = (float)(by * mg + iy), wp = (float)(bx * mg + ix);
            float *cr = cos_t + (size_t)dst * D, *sr = sin_t + (size_t)dst * D;
            for (int i = 0; i < q4; i++) {
                float th = hp * inv[i], tw = wp * inv[i];
                cr[i] = cr[i + D / 2] = cosf(th); sr[i] = sr[i + D / 2] = sinf(th);
                cr[q4 + i] = cr[q4 + i + D / 2] = cosf(tw); sr[q4 + i] = sr[q4 + i + D / 2] = sinf(tw);
            }
        }
    free(inv); free(x0);

    int full_cu[2] = { 0, N };
    float *h = xmalloc((size_t)N * C * sizeof(float)), *qkv = xmalloc((size_t)N * 3 * C * sizeof(float));
    float *att = xmalloc((size_t)N * C * sizeof(float));
    float *gt = xmalloc((size_t)N * I * sizeof(float)), *up = xmalloc((size_t)N * I * sizeof(float));
    for (int b = 0; b < c->depth; b++) {
        const QvVisionBlock *B = &m->vblocks[b];
        int full = 0;
        for (int i = 0; i < c->n_fullatt; i++) full |= c->fullatt[i] == b;
        qv_rmsnorm(m, B->norm1, x, N, C, c->eps, h);
        qv_linear(m, B->qkv, h, N, C, qkv, 3 * C);
        qv_rope_apply(qkv, N, H, D, 3 * C, cos_t, sin_t);
        qv_rope_apply(qkv + C, N, H, D, 3 * C, cos_t, sin_t);
        QvAttn a = { .L = N, .Hq = H, .Hkv = H, .D = D, .q = qkv, .k = qkv + C, .v = qkv + 2 * C, .ldq = 3 * C, .ldk = 3 * C,
                     .o = att, .ldo = C, .cu = full ? full_cu : cu, .nseg = full ? 1 : nwin };
        qv_attention(&a);
        qv_linear(m, B->proj, att, N, C, h, C);
        qv_add_into(x, h, (size_t)N * C);
        qv_rmsnorm(m, B->norm2, x, N, C, c->eps, h);
        qv_linear(m, B->gate, h, N, C, gt, I);
        qv_linear(m, B->up, h, N, C, up, I);
        qv_silu_mul(gt, up, (size_t)N * I);
        qv_linear(m, B->down, gt, N, I, h, C);
        qv_add_into(x, h, (size_t)N * C);
    }
    free(qkv); free(att); free(gt); free(up); free(cos_t); free(sin_t);

    /* merger: each merge block's rows are consecutive, so [N, C] is [M, mu*C] */
    qv_rmsnorm(m, m->merger_norm, x, N, C, c->eps, h);
    float *f1 = xmalloc((size_t)M * mu * C * sizeof(float)), *f2 = xmalloc((size_t)M * c->out_hidden * sizeof(float));
    qv_linear(m, m->merger_fc1, h, M, mu * C, f1, mu * C);
    gelu_erf(f1, (size_t)M * mu * C);
    qv_linear(m, m->merger_fc2, f1, M, mu * C, f2, c->out_hidden);
    for (int g = 0; g < M; g++)
        memcpy(out + (size_t)win[g] * c->out_hidden, f2 + (size_t)g * c->out_hidden, (size_t)c->out_hidden * sizeof(float));
    free(f1); free(f2); free(h); free(x); free(win); free(cu);
}

int qv_vision_forward(const QwenVL *m, const float *pixel_values, int64_t n_patches, int64_t patch_dim,
                      const int64_t *grid, int n_img, float *out, Err *e) {
    const QvVisionConfig *c = &m->cfg.vision;
    if (patch_dim != m->patch_embed.in)
        return err_set(e, "pixel_values: rows of %lld values; expected %d (channels %d x temporal patch %d x %d x %d)",
                       (long long)patch_dim, m->patch_embed.in, c->in_ch, c->temporal_patch, c->patch, c->patch);
    if (c->window_size / c->merge / c->patch <= 0)
        return err_setc(e, EXIT_USAGE, "vision_config.window_size %d is smaller than one merged token (%d px)", c->window_size, c->merge * c->patch);
    int64_t tokens, need = 0;
    if (qv_vision_tokens(&m->cfg, grid, n_img, &tokens, e)) return -1;
    for (int i = 0; i < n_img; i++) need += grid[3 * i] * grid[3 * i + 1] * grid[3 * i + 2];
    if (need != n_patches)
        return err_set(e, "pixel_values: %lld patch rows, but image_grid_thw describes %lld", (long long)n_patches, (long long)need);
    const float *P = pixel_values;
    float *o = out;
    int mu = c->merge * c->merge;
    for (int i = 0; i < n_img; i++) {
        int gh = (int)grid[3 * i + 1], gw = (int)grid[3 * i + 2];
        for (int64_t t = 0; t < grid[3 * i]; t++) {
            vision_frame(m, P, gh, gw, o);
            P += (size_t)gh * gw * patch_dim;
            o += (size_t)gh * gw / mu * c->out_hidden;
        }
    }
    return 0;
}
