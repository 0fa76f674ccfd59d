/* vae_autoencoder.h — the VAE training objective on one image, forward and backward, for either
 * family: encoder → (quant_conv) → mean, logvar → z → (post_quant_conv) → decoder → loss.
 *
 *   logvar is clamped to [-30, 20] (as diffusers' DiagonalGaussianDistribution; no gradient
 *   outside), σ = exp(logvar / 2), z = mean + σ·ε with ε ~ N(0, 1) (or z = mean when not sampling).
 *   d = decoder(z) − image over the P = 3·H·W image values (images in [-1, 1]):
 *     loss = l1·mean|d| + l2·mean(d²) + kl·KL / P,   KL = ½ Σ (mean² + σ² − 1 − logvar) over the latents.
 *   The KL weight is LDM's kl_weight (its losses are sums per image: Σ|d| + kl_weight·KL), here divided
 *   through by P so the reconstruction term is a per-value mean. */
#ifndef ST_MODELS_VAE_AUTOENCODER_H
#define ST_MODELS_VAE_AUTOENCODER_H
#include "base/rng.h"
#include "models/vae/vae_backward.h"

typedef struct VaeLossConfig {
    float l1, l2, kl;    /* weights of the terms above */
    int sample;          /* 1: z = mean + σ·ε (training); 0: z = mean */
} VaeLossConfig;

typedef struct VaeLossParts {
    double loss;         /* the weighted total */
    double l1, l2;       /* mean |d| and mean d² */
    double kl;           /* KL / number of latent values */
} VaeLossParts;

/* Buffers reused across calls (zero-initialise; vae_ae_work_free). */
typedef struct VaeAeWork {
    VaeTape enc, dec;
    float *buf[10];
    size_t cap[10];
    const float *recon;  /* after a step: the decoder output [out_ch, H, W] (valid until the next) */
} VaeAeWork;

/* One image x [in_ch, H, W] (H, W multiples of the model's factor). When g is not NULL, the
 * gradient of grad_scale·loss is accumulated into g. rng draws ε (may be NULL when not sampling). */
int vae_ae_step(const VaeModel *m, const float *x, int H, int W, const VaeLossConfig *c, Rng *rng,
                float grad_scale, VaeAeWork *w, VaeGrads *g, VaeLossParts *out, Err *e);
void vae_ae_work_free(VaeAeWork *w);

#endif
