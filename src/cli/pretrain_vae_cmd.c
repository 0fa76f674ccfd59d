/* pretrain-vae: trains a small VAE of a family from scratch on synthetic images and writes it as
 * OUT/vae/ (diffusers layout, bf16), then prints its held-out reconstruction PSNR / SSIM. The
 * training itself is train/vae_pretrain.c. */
#include "cli/commands.h"
#include "train/vae_pretrain.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
    "usage: simpletuner pretrain-vae --family qwen_image|longcat_image --out DIR [--size tiny|small]\n"
    "                                [--steps N] [--batch N] [--resolution R] [--crop C] [--seed S] [--lr LR]\n"
    "                                [--warmup N] [--l1 W] [--l2 W] [--kl W] [--eval-images N]\n"
    "                                [--channels A,B,C,D] [--blocks N] [--groups N] [--zero-init]\n"
    "                                [--no-mid-attention] [--beta2 B] [--big-every N] [--full-every N]\n"
    "                                [--log-every N] [--quiet]\n"
    "\n"
    "Trains the family's VAE architecture (qwen_image: AutoencoderKLQwenImage, the Wan-2.1 VAE;\n"
    "longcat_image: the FLUX-layout AutoencoderKL) at the given size on synthetic scenes of the\n"
    "edit datasets (make-dataset), and writes DIR/vae/config.json and\n"
    "DIR/vae/diffusion_pytorch_model.safetensors (bf16), with the latent normalisation measured on\n"
    "the trained encoder. Then reports the reconstruction PSNR and SSIM of the saved model on\n"
    "held-out images (another seed) at R and 2R.\n"
    "\n"
    "  --size        tiny (default) or small\n"
    "  --steps       optimizer steps (default 3000)\n"
    "  --batch       images per step (default 32: smaller batches plateau; run in parallel, one per thread)\n"
    "  --resolution  render side R (default 64; every 4th sample is cut from a 2R render)\n"
    "  --crop        training crop side (default R; a multiple of 16 up to R)\n"
    "  --big-every   one sample in N is cut from a 2R render (default 4; 0: none)\n"
    "  --full-every  one sample in N is a whole 2R render, not cropped (default 0: none). Crops alone\n"
    "                teach the VAE small images: flat fields of full-size ones come back wrong\n"
    "  --seed        data, initialisation and sampling seed (default 42); same seed, same weights\n"
    "  --lr          AdamW learning rate (default 2e-3; warmup, then cosine to 0)\n"
    "  --warmup      warmup steps (default 100)\n"
    "  --l1, --l2    reconstruction loss weights (defaults 1 and 1: mean |d| and mean d^2)\n"
    "  --kl          KL weight, LDM's kl_weight (default 1e-6)\n"
    "  --eval-images held-out images per resolution (default 64)\n"
    "  --channels    channels of the 4 levels instead of the size's (qwen_image: multiples of the first)\n"
    "  --blocks      res blocks per level instead of the size's (num_res_blocks / layers_per_block)\n"
    "  --groups      longcat_image: group-norm groups instead of the size's (must divide every level)\n"
    "  --zero-init   every residual branch starts at zero (each block starts as the identity)\n"
    "  --no-mid-attention  longcat_image: no attention in the mid blocks (mid_block_add_attention false):\n"
    "                a purely convolutional VAE, which crops train far better for full images (the Wan\n"
    "                VAE always has it)\n"
    "  --beta2       AdamW beta2 (default 0.99)\n"
    "  --log-every   a progress line every N steps (default 50)\n"
    "  --quiet       no progress lines\n";

static int parse_long(const char *opt, const char *v, long lo, long hi, long *out, Err *e) {
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < lo || x > hi)
        return err_setc(e, EXIT_USAGE, "pretrain-vae: %s expects an integer in [%ld, %ld], got '%s'", opt, lo, hi, v);
    *out = x;
    return 0;
}

static int parse_double(const char *opt, const char *v, double *out, Err *e) {
    char *end;
    double x = strtod(v, &end);
    if (!*v || *end || !(x >= 0)) return err_setc(e, EXIT_USAGE, "pretrain-vae: %s expects a non-negative number, got '%s'", opt, v);
    *out = x;
    return 0;
}

int cmd_pretrain_vae(int argc, char **argv, Err *e) {
    VaePretrainSpec s;
    vae_pretrain_spec_init(&s);
    s.family = NULL;
    s.log = stdout;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(USAGE, stdout); return 0; }
        if (!strcmp(a, "--quiet")) { s.log = NULL; continue; }
        if (!strcmp(a, "--zero-init")) { s.zero_init = 1; continue; }
        if (!strcmp(a, "--no-mid-attention")) { s.no_mid_attention = 1; continue; }
        if (i + 1 >= argc) return err_setc(e, EXIT_USAGE, "pretrain-vae: '%s' needs a value (or is unknown)\n%s", a, USAGE);
        const char *v = argv[++i];
        long n;
        double d = 0.0;
        if (!strcmp(a, "--family")) s.family = v;
        else if (!strcmp(a, "--out")) s.out = v;
        else if (!strcmp(a, "--size")) s.size = v;
        else if (!strcmp(a, "--steps")) { if (parse_long(a, v, 1, 10000000, &n, e)) return -1; s.steps = (int)n; }
        else if (!strcmp(a, "--batch")) { if (parse_long(a, v, 1, 256, &n, e)) return -1; s.batch = (int)n; }
        else if (!strcmp(a, "--resolution")) { if (parse_long(a, v, 16, 1024, &n, e)) return -1; s.resolution = (int)n; }
        else if (!strcmp(a, "--seed")) { if (parse_long(a, v, 0, 0x7fffffffL, &n, e)) return -1; s.seed = (uint64_t)n; }
        else if (!strcmp(a, "--warmup")) { if (parse_long(a, v, 0, 10000000, &n, e)) return -1; s.warmup = (int)n; }
        else if (!strcmp(a, "--log-every")) { if (parse_long(a, v, 1, 10000000, &n, e)) return -1; s.log_every = (int)n; }
        else if (!strcmp(a, "--eval-images")) { if (parse_long(a, v, 1, 100000, &n, e)) return -1; s.eval_images = (int)n; }
        else if (!strcmp(a, "--lr")) { if (parse_double(a, v, &s.lr, e)) return -1; }
        else if (!strcmp(a, "--beta2")) { if (parse_double(a, v, &s.beta2, e)) return -1; }
        else if (!strcmp(a, "--crop")) { if (parse_long(a, v, 16, 1024, &n, e)) return -1; s.crop = (int)n; }
        else if (!strcmp(a, "--big-every")) { if (parse_long(a, v, 0, 1000000, &n, e)) return -1; s.big_every = (int)n; }
        else if (!strcmp(a, "--full-every")) { if (parse_long(a, v, 0, 1000000, &n, e)) return -1; s.full_every = (int)n; }
        else if (!strcmp(a, "--blocks")) { if (parse_long(a, v, 1, 8, &n, e)) return -1; s.blocks = (int)n; }
        else if (!strcmp(a, "--groups")) { if (parse_long(a, v, 1, 1024, &n, e)) return -1; s.groups = (int)n; }
        else if (!strcmp(a, "--channels")) {
            char *end;
            const char *q = v;
            for (int k = 0; k < 4; k++) {
                long x = strtol(q, &end, 10);
                if (end == q || x < 1 || x > 1024 || (k < 3 ? *end != ',' : *end != 0))
                    return err_setc(e, EXIT_USAGE, "pretrain-vae: --channels expects 4 comma-separated counts in [1, 1024], got '%s'", v);
                s.dims[k] = (int)x;
                q = end + 1;
            }
        }
        else if (!strcmp(a, "--l1")) { if (parse_double(a, v, &d, e)) return -1; s.l1 = (float)d; }
        else if (!strcmp(a, "--l2")) { if (parse_double(a, v, &d, e)) return -1; s.l2 = (float)d; }
        else if (!strcmp(a, "--kl")) { if (parse_double(a, v, &d, e)) return -1; s.kl = (float)d; }
        else return err_setc(e, EXIT_USAGE, "pretrain-vae: unknown option '%s'\n%s", a, USAGE);
    }
    if (!s.family) return err_setc(e, EXIT_USAGE, "pretrain-vae: --family qwen_image|longcat_image is required\n%s", USAGE);
    if (!s.out) return err_setc(e, EXIT_USAGE, "pretrain-vae: --out DIR is required\n%s", USAGE);
    VaePretrainReport r;
    if (vae_pretrain_run(&s, &r, e)) return -1;
    printf("wrote %s/vae: %s %s VAE, %zu parameters, %.2f MB bf16, trained %d steps in %.0f s\n",
           s.out, s.family, s.size, r.params, r.bytes / 1e6, s.steps, r.train_seconds);
    for (int k = 0; k < 2; k++)
        printf("held-out reconstruction at %dx%d (%d images, seed %llu + 1000003): PSNR %.2f dB, SSIM %.4f\n",
               r.eval_res[k], r.eval_res[k], s.eval_images, (unsigned long long)s.seed, r.psnr[k], r.ssim[k]);
    printf("flat backgrounds at %dx%d (%d named colours, each filling the image): mean PSNR %.2f dB, worst %.2f dB (%s)\n",
           r.flat.res, r.flat.res, r.flat.colours, r.flat.mean_psnr, r.flat.worst_psnr, r.flat.worst_name);
    return 0;
}
