/* vae_pretrain.h — trains a small image VAE of either family from scratch on synthetic images
 * (data/synth.h) and saves it where the loaders read it (OUT/vae/config.json +
 * diffusion_pytorch_model.safetensors, bf16), then measures its reconstruction on held-out images.
 *
 * Recipe (the numbers are the spec's defaults; see vae_autoencoder.h for the loss):
 *   data       synthetic edit-dataset images (sources and targets of every edit kind), a fresh
 *              image per sample from (seed, sample index); each step takes `batch` random crop²
 *              cuts of renders at resolution (or at 2·resolution for one sample in `big_every`), so
 *              both scales of the edit data are seen; small crops make a step cheap
 *   objective  L1 + L2 reconstruction + KL (kl weight 1e-6 per LDM), z sampled
 *   optimizer  AdamW (torch-adamw) on f32 weights, gradients clipped to norm 1, linear warmup then
 *              cosine decay to 0
 *   latents    after training, the posterior means of `stat_images` training images give the
 *              latent normalisation the transformers expect: Qwen latents_mean / latents_std per
 *              channel; FLUX shift_factor / scaling_factor (mean and 1/std over all channels)
 *   eval       the saved bf16 model, read back by vae_load, on `eval_images` held-out images
 *              (seed + 1000003) at resolution and 2·resolution: encode (mode), decode, 8-bit
 *              round trip as the pipelines write images; mean PSNR and SSIM (image/image_metrics.h)
 * Images of the batch run in parallel (one per thread) with per-image gradients summed in a fixed
 * order, so the result does not depend on the number of threads. */
#ifndef ST_TRAIN_VAE_PRETRAIN_H
#define ST_TRAIN_VAE_PRETRAIN_H
#include <stdint.h>
#include <stdio.h>
#include "base/error.h"

typedef struct VaePretrainSpec {
    const char *family;     /* qwen_image | longcat_image */
    const char *size;       /* a row of the size table: "tiny" | "small" */
    int dims[4];            /* channels per level instead of the size's (dims[0] == 0: the size's) */
    int blocks, groups;     /* res blocks per level, FLUX norm groups instead of the size's (0: the size's) */
    int zero_init;          /* residual branches (second conv, attention output) start at zero: every
                               block starts as the identity */
    int no_mid_attention;   /* the mid blocks without their attention (configs with mid_block_add_attention):
                               a purely convolutional VAE, which crops train far better for full images */
    const char *out;        /* model folder; the VAE goes to out/vae */
    int steps, batch, resolution, warmup;
    int crop;               /* training images are crop x crop cuts of the renders (0: resolution) */
    int big_every;          /* one sample in big_every is cut from a 2·resolution render (0: none) */
    int full_every;         /* one sample in full_every is a whole 2·resolution render, uncropped (0: none):
                             * crops alone teach a VAE the borders of small images, and flat fields of full-size
                             * ones then come back wrong (the mid attention sees 4x4 tokens instead of 16x16) */
    uint64_t seed;
    double lr, weight_decay, beta2;
    float l1, l2, kl;
    int stat_images, eval_images;
    int log_every;          /* progress line every N steps (0: none) */
    FILE *log;              /* progress lines (NULL: none) */
} VaePretrainSpec;

/* The defaults above. */
void vae_pretrain_spec_init(VaePretrainSpec *s);

/* Flat images of every named background of the scenes (synth_backgrounds), each filling res x res:
 * a background fills most of a scene, so a VAE that cannot hold a flat colour fails the edits
 * whatever its mean on scenes says (a tiny VAE once turned flat pink to blotchy white at 18 dB). */
typedef struct VaeFlatReport {
    int res, colours;
    double mean_psnr, worst_psnr;
    const char *worst_name;           /* static storage (synth.c) */
} VaeFlatReport;

typedef struct VaePretrainReport {
    size_t params, bytes;             /* parameter count, bf16 safetensors file size */
    double train_seconds;
    double final_loss;                /* mean over the last log window */
    int eval_res[2];
    double psnr[2], ssim[2];          /* at eval_res[k] */
    VaeFlatReport flat;               /* at eval_res[1] */
} VaePretrainReport;

int vae_pretrain_run(const VaePretrainSpec *s, VaePretrainReport *r, Err *e);

/* Held-out reconstruction quality of the VAE in dir (a vae/ folder): mean PSNR / SSIM over
 * `count` synthetic images of seed at res x res. */
int vae_pretrain_eval_dir(const char *dir, uint64_t seed, int count, int res, double *psnr, double *ssim, Err *e);
/* The flat-colour figures of the VAE in dir at res x res. */
int vae_pretrain_eval_flat(const char *dir, int res, VaeFlatReport *r, Err *e);

#endif
