/* vae.h — the image VAE interface the trainer, sampler and caches use, whatever the family:
 * Qwen-Image's AutoencoderKLQwenImage (Wan-2.1 architecture, single frame) or the FLUX / LongCat
 * AutoencoderKL. A family is a VaeFamily (class name + builder from its config.json); everything
 * after building runs on the shared engine (vae_net.h).
 *
 * Images are f32 [3, H, W] in [-1, 1] (RGB, channel-major); H and W multiples of 8 (16 when the
 * latents will be 2x2-packed). Latents are "normalised" as the pipelines feed them to the
 * transformer: Qwen (z - latents_mean[c]) / latents_std[c], FLUX (z - shift_factor) * scaling_factor.
 *
 * Tiling: images (or latents) larger than one tile are processed as overlapping tiles on the
 * latent grid, blended with weights that are 0 in the outer quarter of each overlap (next to the
 * cut), ramp linearly across its middle half and are 1 elsewhere. This bounds memory (a 1024x1024
 * image at the full-size configs stays under 2 GiB resident). Convolutions are exact per tile, so
 * a purely local network matches the untiled result to ~1e-4 (mean relative difference); the mid-
 * block attention (and AutoencoderKL's GroupNorm statistics) see only the tile, as in diffusers'
 * tiled paths, which adds a small global difference. tests/unit/test_vae_tiling.c states and
 * checks the tolerances. */
#ifndef ST_MODELS_VAE_H
#define ST_MODELS_VAE_H
#include <cjson/cJSON.h>
#include <stdint.h>
#include "base/error.h"
#include "base/rng.h"
#include "models/model_size.h"
#include "models/vae/vae_net.h"
#include "tensor/trace.h"

typedef enum { VAE_LATENT_MODE, VAE_LATENT_SAMPLE } VaeLatentDraw;

typedef struct VaeTiling {
    int tile_px;        /* tile side in pixels (multiple of 8); <= 0: never tile */
    int overlap_px;     /* overlap between neighbouring tiles in pixels (multiple of 8) */
} VaeTiling;

/* Tiling is off by default, as in diffusers (tiles change the result slightly); with
 * vae_enable_tiling the run uses 576 px tiles with 128 px overlap (a 1024 px side takes 2 tiles). */
#define VAE_TILE_PX_DEFAULT 576
#define VAE_TILE_OVERLAP_PX_DEFAULT 128

typedef struct Vae Vae;

typedef struct VaeFamily {
    const char *class_name;           /* config.json "_class_name" */
    /* Reads the config, declares the weight table and ops into v->net, sets the latent
     * normalisation (v->latent_shift / v->latent_scale) and v->clamp_output. */
    int (*build)(Vae *v, const cJSON *config, Err *e);
    /* upstream's tensors carry a frame axis, [B, C, T, H, W] (the video VAE run at T = 1): traces
     * report that shape */
    int frame_axis;
    /* pretrain-vae: a config's widths — channels per resolution level, blocks per level and, where
     * the family has group norms, their group count — and its latent normalisation from measured
     * sums over n latent values per channel (sum, sq: [z_ch]; sum = 0, sq = n gives the identity) */
    int (*set_widths)(cJSON *config, const int dims[4], int blocks, int groups, Err *e);
    void (*set_latent_stats)(cJSON *config, const double *sum, const double *sq, double n, int z_ch);
} VaeFamily;

struct Vae {
    const VaeFamily *family;
    VaeModel net;
    float *latent_shift, *latent_scale;  /* [z_ch]: normalised = (z - shift[c]) * scale[c] */
    int clamp_output;                   /* upstream decode clamps to [-1, 1] (Qwen) */
    VaeTiling tiling;
};

/* Families, NULL-terminated. */
extern const VaeFamily *const VAE_FAMILIES[];
const VaeFamily *vae_family_find(const char *class_name);

/* Builds from a config (its "_class_name" picks the family) without weights. */
int vae_build(Vae *v, const cJSON *config, Err *e);
/* dir: a diffusers vae/ folder (config.json + diffusion_pytorch_model*.safetensors, possibly
 * sharded with an index). Weights stay in the mmap in their stored dtype. */
int vae_load(Vae *v, const char *dir, Err *e);
/* Builds from config and binds to an already open set (not owned). */
int vae_load_from(Vae *v, const cJSON *config, const StSet *weights, Err *e);
/* Builds from config with seeded random weights stored as dt (DT_F32 or DT_BF16). */
int vae_init_random(Vae *v, const cJSON *config, uint64_t seed, DType dt, Err *e);
void vae_free(Vae *v);
/* Drops the resident pages of the memory-mapped checkpoint (nothing for random or owned weights):
 * after caching, training holds no VAE memory; a validation decode faults them back in. */
void vae_release_pages(const Vae *v);
/* Writes dir/config.json (the given config) and dir/diffusion_pytorch_model.safetensors (every
 * declared weight in its stored dtype, upstream key names): a folder vae_load and diffusers read. */
int vae_save(const Vae *v, const cJSON *config, const char *dir, Err *e);

static inline int vae_latent_channels(const Vae *v) { return v->net.z_ch; }
static inline int vae_factor(const Vae *v) { return v->net.factor; }

/* image [in_ch, H, W] -> normalised latents [z_ch, H/8, W/8]; VAE_LATENT_SAMPLE draws
 * mean + std * N(0,1) from rng (may be NULL for MODE). */
int vae_encode(const Vae *v, const float *image, int H, int W, VaeLatentDraw draw, Rng *rng,
               float *latents, Err *e);
/* normalised latents [z_ch, h, w] -> image [out_ch, 8h, 8w] clamped to [-1, 1]. */
int vae_decode(const Vae *v, const float *latents, int h, int w, float *image, Err *e);
/* Same; trace (may be NULL) gets "vae_decode_input" (de-normalised latents [1, z_ch, h, w]) and
 * "vae_decode_output" (the decoder's sample [1, out_ch, 8h, 8w], clamped only where upstream's
 * decode clamps). */
int vae_decode_traced(const Vae *v, const float *latents, int h, int w, const Trace *trace, float *image, Err *e);

/* Lower level (run-module, tests). Untiled when tiling is off or the input fits one tile.
 * encoder_out (optional) receives the raw encoder output, params the distribution parameters
 * [2 z_ch, h, w] (mean ++ logvar, after quant_conv when present). */
int vae_encode_params(const Vae *v, const float *image, int H, int W, float *encoder_out, float *params, Err *e);
/* z (not normalised) [z_ch, h, w] -> decoder output [out_ch, 8h, 8w] before any clamp. */
int vae_decode_raw(const Vae *v, const float *z, int h, int w, float *image, Err *e);
/* In place on [z_ch, hw] */
void vae_latents_normalise(const Vae *v, float *z, size_t hw);
void vae_latents_denormalise(const Vae *v, float *z, size_t hw);

/* The config.json of each VAE architecture that init-model writes, at a size (vae_init.c). */
cJSON *vae_init_qwen_config(ModelSize s);
cJSON *vae_init_flux_config(ModelSize s);

#endif
