/* qwen_vae.c — AutoencoderKLQwenImage (the Wan-2.1 VAE, single frame): config → weight table + ops.
 *
 * At T = 1 every CausalConv3d reduces to a 2-D convolution with the last temporal slice of its
 * kernel (the two front padding frames are zeros), the temporal convs of the 3-D resamplers are
 * skipped on the first chunk, and RMS_norm is the per-pixel channel L2 norm times sqrt(C) * gamma
 * (../shared/specs/qwen-image-spec.md §4). Keys follow diffusers:
 *   encoder.conv_in, encoder.down_blocks.N (flat: residual blocks, attention, resample.1),
 *   encoder.mid_block.{resnets.0, attentions.0, resnets.1}, encoder.norm_out, encoder.conv_out,
 *   quant_conv, post_quant_conv, decoder.conv_in, decoder.mid_block, decoder.up_blocks.I.{resnets.J,
 *   upsamplers.0.resample.1}, decoder.norm_out, decoder.conv_out. */
#include "models/vae/vae.h"
#include "models/vae/vae_config.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QWEN_VAE_MAX_LEVELS 16

static void push_attention(VaeModel *m, VaeNet *net, const char *prefix, int C) {
    char name[256];
    VaeOp op = { .kind = VAE_OP_ATTN, .fused_qkv = 1 };
    snprintf(name, sizeof name, "%s.norm", prefix); op.n1 = vae_norm_declare(m, name, C, 3);
    snprintf(name, sizeof name, "%s.to_qkv", prefix); op.q = vae_conv_declare(m, name, VAE_W_CONV2D, C, 3 * C, 1);
    snprintf(name, sizeof name, "%s.proj", prefix); op.o = vae_conv_declare(m, name, VAE_W_CONV2D, C, C, 1);
    vae_net_push(net, &op);
}

static void push_mid(VaeModel *m, VaeNet *net, const char *prefix, int C) {
    char name[256];
    snprintf(name, sizeof name, "%s.resnets.0", prefix); vae_net_push_res(m, net, name, C, C);
    snprintf(name, sizeof name, "%s.attentions.0", prefix); push_attention(m, net, name, C);
    snprintf(name, sizeof name, "%s.resnets.1", prefix); vae_net_push_res(m, net, name, C, C);
}

static void push_conv(VaeModel *m, VaeNet *net, const char *name, int cin, int cout) {
    VaeOp op = { .kind = VAE_OP_CONV };
    op.c1 = vae_conv_declare(m, name, VAE_W_CAUSAL3D, cin, cout, 3);
    vae_net_push(net, &op);
}

static void push_norm_silu(VaeModel *m, VaeNet *net, const char *name, int C) {
    VaeOp op = { .kind = VAE_OP_NORM_SILU };
    op.n1 = vae_norm_declare(m, name, C, 4);
    vae_net_push(net, &op);
}

/* The temporal conv of a 3-D resampler: part of the checkpoint (declared so loading checks it and
 * saving writes it) but never run for a single frame, where upstream skips it on the first chunk. */
static void declare_time_conv(VaeModel *m, const char *prefix, int cin, int cout) {
    char name[256];
    int64_t wshape[5] = { cout, cin, 3, 1, 1 }, bshape = cout;
    snprintf(name, sizeof name, "%s.time_conv.weight", prefix);
    vae_param_add(m, name, VAE_ROLE_CONV_WEIGHT, cin * 3, 5, wshape);
    snprintf(name, sizeof name, "%s.time_conv.bias", prefix);
    vae_param_add(m, name, VAE_ROLE_BIAS, cin * 3, 1, &bshape);
}

static int qwen_vae_build(Vae *v, const cJSON *cfg, Err *e) {
    int base, z, nres, in_ch, n_mult, n_tds, n_attn;
    double mult_d[QWEN_VAE_MAX_LEVELS], tds_d[QWEN_VAE_MAX_LEVELS], attn[QWEN_VAE_MAX_LEVELS];
    double lm[256], ls[256];
    int n_lm, n_ls;
    if (vae_cfg_int(cfg, "base_dim", 96, &base, e) || vae_cfg_int(cfg, "z_dim", 16, &z, e) ||
        vae_cfg_int(cfg, "num_res_blocks", 2, &nres, e) || vae_cfg_int(cfg, "input_channels", 3, &in_ch, e) ||
        vae_cfg_numbers(cfg, "dim_mult", mult_d, QWEN_VAE_MAX_LEVELS, &n_mult, e) ||
        vae_cfg_numbers(cfg, "temperal_downsample", tds_d, QWEN_VAE_MAX_LEVELS, &n_tds, e) ||
        vae_cfg_numbers(cfg, "attn_scales", attn, QWEN_VAE_MAX_LEVELS, &n_attn, e) ||
        vae_cfg_numbers(cfg, "latents_mean", lm, 256, &n_lm, e) ||
        vae_cfg_numbers(cfg, "latents_std", ls, 256, &n_ls, e))
        return -1;
    if (n_mult == 0) { mult_d[0] = 1; mult_d[1] = 2; mult_d[2] = 4; mult_d[3] = 4; n_mult = 4; }
    if (n_tds == 0)   /* upstream default [false, true, true] */
        for (n_tds = 0; n_tds < n_mult - 1; n_tds++) tds_d[n_tds] = n_tds > 0;
    if (base < 1 || z < 1 || nres < 0 || in_ch < 1)
        return err_setc(e, EXIT_USAGE, "base_dim, z_dim, input_channels must be positive and num_res_blocks >= 0");
    if (n_mult < 2) return err_setc(e, EXIT_USAGE, "dim_mult: expected at least 2 levels, got %d", n_mult);
    if (n_tds && n_tds != n_mult - 1)
        return err_setc(e, EXIT_USAGE, "temperal_downsample: expected %d entries (len(dim_mult) - 1), got %d", n_mult - 1, n_tds);
    if (n_lm == 0 && n_ls == 0 && z == 16) {   /* absent: the upstream __init__ defaults */
        static const double mean16[16] = { -0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
                                            0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921 };
        static const double std16[16] = { 2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
                                           3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160 };
        for (int c = 0; c < 16; c++) { lm[c] = mean16[c]; ls[c] = std16[c]; }
        n_lm = n_ls = 16;
    }
    if (n_lm != z || n_ls != z)
        return err_setc(e, EXIT_USAGE, "latents_mean / latents_std: expected %d values each (z_dim), got %d and %d", z, n_lm, n_ls);
    for (int c = 0; c < z; c++)
        if (!(ls[c] > 0)) return err_setc(e, EXIT_USAGE, "latents_std[%d] = %g: expected a positive value", c, ls[c]);

    VaeModel *m = &v->net;
    vae_model_init(m, VAE_NORM_CHANNEL_L2, VAE_W_CAUSAL3D);
    m->in_ch = in_ch; m->out_ch = in_ch; m->z_ch = z;
    m->factor = 1 << (n_mult - 1);
    int dims[QWEN_VAE_MAX_LEVELS + 1];
    dims[0] = base;
    for (int i = 0; i < n_mult; i++) dims[i + 1] = base * (int)mult_d[i];

    /* encoder */
    char name[256];
    push_conv(m, &m->enc, "encoder.conv_in", in_ch, dims[0]);
    int idx = 0, cur = dims[0];
    double scale = 1.0;
    for (int i = 0; i < n_mult; i++) {
        int out = dims[i + 1];
        for (int r = 0; r < nres; r++) {
            snprintf(name, sizeof name, "encoder.down_blocks.%d", idx++);
            vae_net_push_res(m, &m->enc, name, cur, out);
            cur = out;
            for (int a = 0; a < n_attn; a++)
                if (fabs(attn[a] - scale) < 1e-9) {
                    snprintf(name, sizeof name, "encoder.down_blocks.%d", idx++);
                    push_attention(m, &m->enc, name, out);
                }
        }
        if (i != n_mult - 1) {   /* downsample2d or downsample3d: the same spatial conv at T = 1 */
            snprintf(name, sizeof name, "encoder.down_blocks.%d", idx++);
            if (n_tds && tds_d[i] != 0) declare_time_conv(m, name, out, out);
            snprintf(name + strlen(name), sizeof name - strlen(name), ".resample.1");
            VaeOp op = { .kind = VAE_OP_DOWN };
            op.c1 = vae_conv_declare(m, name, VAE_W_CONV2D, out, out, 3);
            vae_net_push(&m->enc, &op);
            scale /= 2.0;
        }
    }
    push_mid(m, &m->enc, "encoder.mid_block", cur);
    push_norm_silu(m, &m->enc, "encoder.norm_out", cur);
    push_conv(m, &m->enc, "encoder.conv_out", cur, 2 * z);
    m->quant = vae_conv_declare(m, "quant_conv", VAE_W_CAUSAL3D, 2 * z, 2 * z, 1);
    m->post_quant = vae_conv_declare(m, "post_quant_conv", VAE_W_CAUSAL3D, z, z, 1);

    /* decoder: dims [top, mult reversed...]; every level after the first starts from the
     * halved channels the previous upsampler produced (upstream's in_dim // 2) */
    int ddims[QWEN_VAE_MAX_LEVELS + 1];
    ddims[0] = base * (int)mult_d[n_mult - 1];
    for (int i = 0; i < n_mult; i++) ddims[i + 1] = base * (int)mult_d[n_mult - 1 - i];
    push_conv(m, &m->dec, "decoder.conv_in", z, ddims[0]);
    push_mid(m, &m->dec, "decoder.mid_block", ddims[0]);
    cur = ddims[0];
    for (int i = 0; i < n_mult; i++) {
        int in = cur, out = ddims[i + 1];
        for (int r = 0; r < nres + 1; r++) {
            snprintf(name, sizeof name, "decoder.up_blocks.%d.resnets.%d", i, r);
            vae_net_push_res(m, &m->dec, name, r == 0 ? in : out, out);
        }
        cur = out;
        if (i != n_mult - 1) {
            /* upstream reverses temperal_downsample for the decoder */
            snprintf(name, sizeof name, "decoder.up_blocks.%d.upsamplers.0", i);
            if (n_tds && tds_d[n_tds - 1 - i] != 0) declare_time_conv(m, name, out, 2 * out);
            snprintf(name + strlen(name), sizeof name - strlen(name), ".resample.1");
            VaeOp op = { .kind = VAE_OP_UP };
            op.c1 = vae_conv_declare(m, name, VAE_W_CONV2D, out, out / 2, 3);
            vae_net_push(&m->dec, &op);
            cur = out / 2;
        }
    }
    push_norm_silu(m, &m->dec, "decoder.norm_out", cur);
    push_conv(m, &m->dec, "decoder.conv_out", cur, in_ch);

    v->latent_shift = xmalloc((size_t)z * sizeof(float));
    v->latent_scale = xmalloc((size_t)z * sizeof(float));
    for (int c = 0; c < z; c++) { v->latent_shift[c] = (float)lm[c]; v->latent_scale[c] = (float)(1.0 / ls[c]); }
    v->clamp_output = 1;
    return 0;
}

/* base_dim x dim_mult per level, num_res_blocks (no group norms: RMS norms); the decoder halves
 * the channels of each upsampling level, so every level is an even multiple of the first. */
static int qwen_vae_set_widths(cJSON *cfg, const int dims[4], int blocks, int groups, Err *e) {
    (void)groups;
    int mult[4];
    for (int i = 0; i < 4; i++) {
        if (dims[i] < 2 || dims[i] % dims[0] || dims[i] % 2)
            return err_setc(e, EXIT_USAGE, "VAE widths %d,%d,%d,%d: AutoencoderKLQwenImage needs even multiples of the first (base_dim x dim_mult)",
                            dims[0], dims[1], dims[2], dims[3]);
        mult[i] = dims[i] / dims[0];
    }
    cJSON_ReplaceItemInObjectCaseSensitive(cfg, "base_dim", cJSON_CreateNumber(dims[0]));
    cJSON_ReplaceItemInObjectCaseSensitive(cfg, "dim_mult", cJSON_CreateIntArray(mult, 4));
    cJSON_ReplaceItemInObjectCaseSensitive(cfg, "num_res_blocks", cJSON_CreateNumber(blocks));
    return 0;
}

/* per-channel latents_mean / latents_std (4 decimals, as the published config writes them) */
static void qwen_vae_set_latent_stats(cJSON *cfg, const double *sum, const double *sq, double n, int zc) {
    cJSON *mean = cJSON_CreateArray(), *std = cJSON_CreateArray();
    for (int c = 0; c < zc; c++) {
        double m = sum[c] / n, sd = sqrt(fmax(sq[c] / n - m * m, 1e-12));
        cJSON_AddItemToArray(mean, cJSON_CreateNumber(round(m * 1e4) / 1e4));
        cJSON_AddItemToArray(std, cJSON_CreateNumber(round(sd * 1e4) / 1e4));
    }
    cJSON_ReplaceItemInObjectCaseSensitive(cfg, "latents_mean", mean);
    cJSON_ReplaceItemInObjectCaseSensitive(cfg, "latents_std", std);
}

const VaeFamily QWEN_VAE_FAMILY = { "AutoencoderKLQwenImage", qwen_vae_build, 1, qwen_vae_set_widths, qwen_vae_set_latent_stats };
