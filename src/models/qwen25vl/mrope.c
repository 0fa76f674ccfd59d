/* mrope.c — see mrope.h. */
#include "models/qwen25vl/mrope.h"
#include <stdlib.h>

int qv_rope_index(const QvConfig *c, const int64_t *ids, const int64_t *mask, int B, int L,
                  const int64_t *grid, int n_grid, int64_t *pos, int64_t *deltas, Err *e) {
    size_t BL = (size_t)B * L;
    if (!grid) {
        for (int b = 0; b < B; b++) {
            int64_t run = 0, mx = INT64_MIN;
            for (int i = 0; i < L; i++) {
                int valid = !mask || mask[(size_t)b * L + i];
                int64_t p = valid ? run++ : 1;
                for (int k = 0; k < 3; k++) pos[k * BL + (size_t)b * L + i] = p;
                if (p > mx) mx = p;
            }
            deltas[b] = L ? mx + 1 - L : 0;
        }
        return 0;
    }
    int merge = c->vision.merge, image_index = 0;
    int *vidx = xmalloc(((size_t)L + 1) * sizeof(int));
    int64_t *vp[3];
    for (int k = 0; k < 3; k++) vp[k] = xmalloc(((size_t)L + 1) * sizeof(int64_t));
    int rc = 0;
    for (int b = 0; b < B && !rc; b++) {
        const int64_t *row = ids + (size_t)b * L;
        int n = 0;
        for (int i = 0; i < L; i++) if (!mask || mask[(size_t)b * L + i]) vidx[n++] = i;
        int images = 0;
        for (int j = 0; j + 1 < n; j++) {
            if (row[vidx[j]] != c->vision_start_token_id) continue;
            if (row[vidx[j + 1]] == c->image_token_id) images++;
            else if (row[vidx[j + 1]] == c->video_token_id) { rc = err_set(e, "sequence %d: video input: not supported yet", b); break; }
        }
        int m = 0, st = 0;
        int64_t next = 0;                 /* one past the largest position so far */
        for (int im = 0; im < images && !rc; im++) {
            int ed = -1;
            for (int j = st; j < n; j++) if (row[vidx[j]] == c->image_token_id) { ed = j; break; }
            if (ed < 0) { rc = err_set(e, "sequence %d: image %d has no <|image_pad|> token (id %d) after position %d", b, im, c->image_token_id, st); break; }
            if (image_index >= n_grid) { rc = err_set(e, "sequence %d: more images in the text than the %d rows of image_grid_thw", b, n_grid); break; }
            const int64_t *g = grid + 3 * (size_t)image_index++;
            if (g[0] <= 0 || g[1] <= 0 || g[2] <= 0 || g[1] % merge || g[2] % merge) {
                rc = err_set(e, "image_grid_thw row %d: (%lld, %lld, %lld) is not a positive grid divisible by the merge size %d",
                             image_index - 1, (long long)g[0], (long long)g[1], (long long)g[2], merge);
                break;
            }
            int64_t gt = g[0], lh = g[1] / merge, lw = g[2] / merge;
            for (int j = st; j < ed; j++, m++) for (int k = 0; k < 3; k++) vp[k][m] = next + (j - st);
            int64_t base = next + (ed - st), mx = base;
            int64_t ntok = gt * lh * lw;
            if (ed + ntok > n) { rc = err_set(e, "sequence %d: image %d needs %lld tokens but only %d remain", b, im, (long long)ntok, n - ed); break; }
            for (int64_t t = 0; t < gt; t++)
                for (int64_t y = 0; y < lh; y++)
                    for (int64_t x = 0; x < lw; x++, m++) {
                        /* a still image's temporal index is 0 (second_per_grid_t = 0) */
                        vp[0][m] = base; vp[1][m] = base + y; vp[2][m] = base + x;
                        if (base + y > mx) mx = base + y;
                        if (base + x > mx) mx = base + x;
                    }
            next = mx + 1;
            st = ed + (int)ntok;
        }
        if (rc) break;
        for (int j = st; j < n; j++, m++) for (int k = 0; k < 3; k++) vp[k][m] = next + (j - st);
        int64_t mx = INT64_MIN;
        for (int i = 0; i < L; i++) for (int k = 0; k < 3; k++) pos[k * BL + (size_t)b * L + i] = 1;
        for (int j = 0; j < n; j++)
            for (int k = 0; k < 3; k++) {
                pos[k * BL + (size_t)b * L + vidx[j]] = vp[k][j];
                if (vp[k][j] > mx) mx = vp[k][j];
            }
        deltas[b] = n ? mx + 1 - L : 1 - L;   /* upstream: max of an empty list fails; keep a value */
    }
    free(vidx);
    for (int k = 0; k < 3; k++) free(vp[k]);
    return rc;
}
