/* latent_pack.h — 2x2 patch packing of VAE latents into transformer tokens, shared by Qwen-Image
 * and LongCat/FLUX (diffusers _pack_latents / _unpack_latents):
 *   z [C, h, w] (h, w even) <-> tokens [(h/2)(w/2), 4C]
 *   token index r*(w/2) + c for patch row r, column c (row-major);
 *   feature index ch*4 + dy*2 + dx with (dy, dx) the position inside the 2x2 patch. */
#ifndef ST_MODELS_LATENT_PACK_H
#define ST_MODELS_LATENT_PACK_H
#include "base/error.h"

/* Both fail (naming the sizes) when h or w is odd or not positive. */
int latent_pack(const float *z, int C, int h, int w, float *tokens, Err *e);
int latent_unpack(const float *tokens, int C, int h, int w, float *z, Err *e);

#endif
