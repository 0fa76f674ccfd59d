/* run-module components "AutoencoderKLQwenImage" and "AutoencoderKL" (one code path, the family
 * comes from the config). Inputs: x [B, C, (T = 1,) H, W] images in [-1, 1] and/or
 * z [B, z_ch, (1,) h, w] latents. Outputs (each with the rank of its input, untiled):
 *   enc.parameters, enc.mean, enc.logvar (clamped to [-30, 20]), enc.std, inter.encoder_out,
 *   pipe.image_latents (normalised mean), dec_mode.sample (decode of the mean),
 *   dec_z.sample (decode of z); for families whose decode clamps to [-1, 1] also the pre-clamp
 *   decoder outputs inter.decoder_out_mode and inter.decoder_out_z. */
#include "cli/run_module/run_module.h"
#include "models/vae/vae.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Output shape [B, C, (1,) h, w] following the input's rank. */
static void out_shape(int frames, int64_t B, int64_t C, int64_t h, int64_t w, int *nd, int64_t *s) {
    int k = 0;
    s[k++] = B; s[k++] = C;
    if (frames) s[k++] = 1;
    s[k++] = h; s[k++] = w;
    *nd = k;
}

/* Reads [B, C, (1,) H, W]; returns 0 and the dims or -1 with a message. */
static int image_dims(const StTensor *t, int C, int64_t *B, int64_t *H, int64_t *W, int *frames, Err *e) {
    if (t->ndim == 5) {
        if (t->shape[2] != 1) return err_set(e, "%s: %lld frames: not supported yet (single images, T = 1)", t->name, (long long)t->shape[2]);
        *frames = 1;
    } else if (t->ndim == 4) *frames = 0;
    else return err_set(e, "%s: expected [B, C, H, W] or [B, C, 1, H, W], got %d dims", t->name, t->ndim);
    *B = t->shape[0]; *H = t->shape[t->ndim - 2]; *W = t->shape[t->ndim - 1];
    if (t->shape[1] != C) return err_set(e, "%s: expected %d channels, got %lld", t->name, C, (long long)t->shape[1]);
    return 0;
}

static int decode_outputs(RunModule *rm, const Vae *v, const float *z, int64_t B, int64_t h, int64_t w, int frames,
                          const char *sample_name, const char *preclamp_name, Err *e) {
    const VaeModel *m = &v->net;
    size_t per = (size_t)m->out_ch * h * w * m->factor * m->factor, zper = (size_t)m->z_ch * h * w;
    float *raw = xmalloc((size_t)B * per * sizeof(float)), *out = xmalloc((size_t)B * per * sizeof(float));
    for (int64_t b = 0; b < B; b++)
        if (vae_decode_raw(v, z + b * zper, (int)h, (int)w, raw + b * per, e)) { free(raw); free(out); return -1; }
    for (size_t i = 0; i < (size_t)B * per; i++) out[i] = v->clamp_output ? fminf(fmaxf(raw[i], -1.0f), 1.0f) : raw[i];
    int nd; int64_t s[5];
    out_shape(frames, B, m->out_ch, h * m->factor, w * m->factor, &nd, s);
    rm_output_f32(rm, sample_name, nd, s, out);
    if (v->clamp_output) rm_output_f32(rm, preclamp_name, nd, s, raw);
    free(raw); free(out);
    return 0;
}

int vae_run_module(RunModule *rm, Err *e) {
    if (!rm->weights) return err_set(e, "%s: weights.safetensors is required for a VAE", rm->dir);
    Vae v;
    StSet set = { .n = 1, .files = rm->weights };   /* a view of the harness' file, not owned */
    if (vae_load_from(&v, rm->config, &set, e)) return -1;
    v.tiling.tile_px = 0;                             /* the reference is untiled */
    const VaeModel *m = &v.net;
    int rc = 0;
    const StTensor *tx = rm_input_opt(rm, "x"), *tz = rm_input_opt(rm, "z");
    if (!tx && !tz) { vae_free(&v); return err_set(e, "io.safetensors has neither an x (image) nor a z (latent) input"); }
    if (tx) {
        int64_t B, H, W; int frames;
        float *x = NULL, *par = NULL, *enc = NULL, *lat = NULL;
        if (image_dims(tx, m->in_ch, &B, &H, &W, &frames, e)) { vae_free(&v); return -1; }
        if (H % m->factor || W % m->factor) { vae_free(&v); return err_set(e, "x: %lldx%lld is not a multiple of %d", (long long)W, (long long)H, m->factor); }
        int64_t h = H / m->factor, w = W / m->factor, zc = m->z_ch;
        size_t hw = (size_t)h * w, xper = (size_t)m->in_ch * H * W;
        x = rm_input_f32(rm, "x", NULL, e);
        par = xmalloc((size_t)B * 2 * zc * hw * sizeof(float));
        enc = xmalloc((size_t)B * 2 * zc * hw * sizeof(float));
        for (int64_t b = 0; b < B && !rc; b++)
            rc = vae_encode_params(&v, x + b * xper, (int)H, (int)W, enc + b * 2 * zc * hw, par + b * 2 * zc * hw, e);
        if (!rc) {
            float *mean = xmalloc((size_t)B * zc * hw * sizeof(float)), *logvar = xmalloc((size_t)B * zc * hw * sizeof(float));
            float *std = xmalloc((size_t)B * zc * hw * sizeof(float));
            lat = xmalloc((size_t)B * zc * hw * sizeof(float));
            for (int64_t b = 0; b < B; b++)
                for (size_t i = 0; i < zc * hw; i++) {
                    size_t o = b * zc * hw + i;
                    mean[o] = par[b * 2 * zc * hw + i];
                    logvar[o] = fminf(fmaxf(par[b * 2 * zc * hw + zc * hw + i], -30.0f), 20.0f);
                    std[o] = expf(0.5f * logvar[o]);
                }
            memcpy(lat, mean, (size_t)B * zc * hw * sizeof(float));
            for (int64_t b = 0; b < B; b++) vae_latents_normalise(&v, lat + b * zc * hw, hw);
            int nd; int64_t s[5];
            out_shape(frames, B, 2 * zc, h, w, &nd, s);
            rm_output_f32(rm, "enc.parameters", nd, s, par);
            rm_output_f32(rm, "inter.encoder_out", nd, s, enc);
            out_shape(frames, B, zc, h, w, &nd, s);
            rm_output_f32(rm, "enc.mean", nd, s, mean);
            rm_output_f32(rm, "enc.logvar", nd, s, logvar);
            rm_output_f32(rm, "enc.std", nd, s, std);
            rm_output_f32(rm, "pipe.image_latents", nd, s, lat);
            rc = decode_outputs(rm, &v, mean, B, h, w, frames, "dec_mode.sample", "inter.decoder_out_mode", e);
            free(mean); free(logvar); free(std);
        }
        free(x); free(par); free(enc); free(lat);
    }
    if (tz && !rc) {
        int64_t B, h, w; int frames;
        if (image_dims(tz, m->z_ch, &B, &h, &w, &frames, e)) rc = -1;
        else {
            float *z = rm_input_f32(rm, "z", NULL, e);
            rc = decode_outputs(rm, &v, z, B, h, w, frames, "dec_z.sample", "inter.decoder_out_z", e);
            free(z);
        }
    }
    vae_free(&v);
    return rc;
}
