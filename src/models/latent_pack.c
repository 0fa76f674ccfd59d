/* latent_pack.c — see latent_pack.h. Pack and unpack walk the same index map in opposite directions. */
#include "models/latent_pack.h"
#include <stddef.h>

static int check(int C, int h, int w, Err *e) {
    if (C <= 0 || h <= 0 || w <= 0 || h % 2 || w % 2)
        return err_set(e, "latent packing: latents [%d, %d, %d] need positive channels and even height and width "
                          "(image sides multiples of 16)", C, h, w);
    return 0;
}

/* Offset in the token array of latent element (ch, y, x). */
static inline size_t token_offset(int C, int w, int ch, int y, int x) {
    size_t token = (size_t)(y / 2) * (w / 2) + (size_t)(x / 2);
    return token * 4 * C + (size_t)ch * 4 + (size_t)(y % 2) * 2 + (size_t)(x % 2);
}

int latent_pack(const float *z, int C, int h, int w, float *tokens, Err *e) {
    if (check(C, h, w, e)) return -1;
    for (int ch = 0; ch < C; ch++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                tokens[token_offset(C, w, ch, y, x)] = z[((size_t)ch * h + y) * w + x];
    return 0;
}

int latent_unpack(const float *tokens, int C, int h, int w, float *z, Err *e) {
    if (check(C, h, w, e)) return -1;
    for (int ch = 0; ch < C; ch++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                z[((size_t)ch * h + y) * w + x] = tokens[token_offset(C, w, ch, y, x)];
    return 0;
}
