/* flux_vae.c — diffusers AutoencoderKL in the FLUX / LongCat layout: config → weight table + ops.
 *
 * GroupNorm (norm_num_groups, eps 1e-6) + SiLU residual blocks, Downsample2D (pad right/bottom,
 * 3x3 stride 2), Upsample2D (nearest x2 + 3x3), a single-head mid-block attention with Linear
 * q/k/v/out, optional 1x1 quant_conv / post_quant_conv (use_quant_conv / use_post_quant_conv).
 * Latent normalisation: (z - shift_factor) * scaling_factor (../shared/specs/longcat-image-spec.md §2). */
#include "models/vae/vae.h"
#include "models/vae/vae_config.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLUX_VAE_MAX_LEVELS 16

static void push_mid(VaeModel *m, VaeNet *net, const char *prefix, int C, int attention) {
    char name[256];
    snprintf(name, sizeof name, "%s.resnets.0", prefix); vae_net_push_res(m, net, name, C, C);
    if (attention) {
        VaeOp op = { .kind = VAE_OP_ATTN };
        snprintf(name, sizeof name, "%s.attentions.0.group_norm", prefix); op.n1 = vae_norm_declare(m, name, C, 1);
        snprintf(name, sizeof name, "%s.attentions.0.to_q", prefix); op.q = vae_conv_declare(m, name, VAE_W_LINEAR, C, C, 1);
        snprintf(name, sizeof name, "%s.attentions.0.to_k", prefix); op.k = vae_conv_declare(m, name, VAE_W_LINEAR, C, C, 1);
        snprintf(name, sizeof name, "%s.attentions.0.to_v", prefix); op.v = vae_conv_declare(m, name, VAE_W_LINEAR, C, C, 1);
        snprintf(name, sizeof name, "%s.attentions.0.to_out.0", prefix); op.o = vae_conv_declare(m, name, VAE_W_LINEAR, C, C, 1);
        vae_net_push(net, &op);
    }
    snprintf(name, sizeof name, "%s.resnets.1", prefix); vae_net_push_res(m, net, name, C, C);
}

static int check_block_types(const cJSON *cfg, const char *key, const char *want, int n, Err *e) {
    const char *types[FLUX_VAE_MAX_LEVELS];
    int nt;
    if (vae_cfg_strings(cfg, key, types, FLUX_VAE_MAX_LEVELS, &nt, e)) return -1;
    if (nt && nt != n) return err_setc(e, EXIT_USAGE, "%s: expected %d entries (one per block_out_channels), got %d", key, n, nt);
    for (int i = 0; i < nt; i++)
        if (strcmp(types[i], want))
            return err_setc(e, EXIT_USAGE, "%s[%d] = \"%s\": not supported yet (only %s)", key, i, types[i], want);
    return 0;
}

static int flux_vae_build(Vae *v, const cJSON *cfg, Err *e) {
    int in_ch, out_ch, z, lpb, groups, mid_attn, use_q, use_pq, nb;
    double boc_d[FLUX_VAE_MAX_LEVELS], scaling, shift;
    if (vae_cfg_int(cfg, "in_channels", 3, &in_ch, e) || vae_cfg_int(cfg, "out_channels", 3, &out_ch, e) ||
        vae_cfg_int(cfg, "latent_channels", 4, &z, e) || vae_cfg_int(cfg, "layers_per_block", 1, &lpb, e) ||
        vae_cfg_int(cfg, "norm_num_groups", 32, &groups, e) ||
        vae_cfg_bool(cfg, "mid_block_add_attention", 1, &mid_attn, e) ||
        vae_cfg_bool(cfg, "use_quant_conv", 1, &use_q, e) || vae_cfg_bool(cfg, "use_post_quant_conv", 1, &use_pq, e) ||
        vae_cfg_numbers(cfg, "block_out_channels", boc_d, FLUX_VAE_MAX_LEVELS, &nb, e) ||
        vae_cfg_number(cfg, "scaling_factor", 0.18215, &scaling, NULL, e) ||
        vae_cfg_number(cfg, "shift_factor", 0.0, &shift, NULL, e))
        return -1;
    if (nb == 0) { boc_d[0] = 64; nb = 1; }
    if (check_block_types(cfg, "down_block_types", "DownEncoderBlock2D", nb, e) ||
        check_block_types(cfg, "up_block_types", "UpDecoderBlock2D", nb, e))
        return -1;
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(cfg, "act_fn");
    if (act && !(cJSON_IsString(act) && !strcmp(act->valuestring, "silu")))
        return err_setc(e, EXIT_USAGE, "act_fn: not supported yet (only \"silu\")");
    if (in_ch < 1 || out_ch < 1 || z < 1 || lpb < 1 || groups < 1)
        return err_setc(e, EXIT_USAGE, "in/out/latent channels, layers_per_block and norm_num_groups must be positive");
    if (!(scaling != 0.0)) return err_setc(e, EXIT_USAGE, "scaling_factor: expected a nonzero number");
    int boc[FLUX_VAE_MAX_LEVELS];
    for (int i = 0; i < nb; i++) {
        boc[i] = (int)boc_d[i];
        if (boc[i] < 1 || boc[i] % groups)
            return err_setc(e, EXIT_USAGE, "block_out_channels[%d] = %d: expected a positive multiple of norm_num_groups (%d)", i, boc[i], groups);
    }

    VaeModel *m = &v->net;
    vae_model_init(m, VAE_NORM_GROUP, VAE_W_CONV2D);
    m->groups = groups;
    m->in_ch = in_ch; m->out_ch = out_ch; m->z_ch = z;
    m->factor = 1 << (nb - 1);
    char name[256];

    /* encoder */
    VaeOp op = { .kind = VAE_OP_CONV };
    op.c1 = vae_conv_declare(m, "encoder.conv_in", VAE_W_CONV2D, in_ch, boc[0], 3);
    vae_net_push(&m->enc, &op);
    int cur = boc[0];
    for (int i = 0; i < nb; i++) {
        for (int r = 0; r < lpb; r++) {
            snprintf(name, sizeof name, "encoder.down_blocks.%d.resnets.%d", i, r);
            vae_net_push_res(m, &m->enc, name, cur, boc[i]);
            cur = boc[i];
        }
        if (i != nb - 1) {
            snprintf(name, sizeof name, "encoder.down_blocks.%d.downsamplers.0.conv", i);
            VaeOp d = { .kind = VAE_OP_DOWN };
            d.c1 = vae_conv_declare(m, name, VAE_W_CONV2D, cur, cur, 3);
            vae_net_push(&m->enc, &d);
        }
    }
    push_mid(m, &m->enc, "encoder.mid_block", cur, mid_attn);
    VaeOp ns = { .kind = VAE_OP_NORM_SILU };
    ns.n1 = vae_norm_declare(m, "encoder.conv_norm_out", cur, 1);
    vae_net_push(&m->enc, &ns);
    op.c1 = vae_conv_declare(m, "encoder.conv_out", VAE_W_CONV2D, cur, 2 * z, 3);
    vae_net_push(&m->enc, &op);
    if (use_q) m->quant = vae_conv_declare(m, "quant_conv", VAE_W_CONV2D, 2 * z, 2 * z, 1);
    if (use_pq) m->post_quant = vae_conv_declare(m, "post_quant_conv", VAE_W_CONV2D, z, z, 1);

    /* decoder */
    cur = boc[nb - 1];
    op.c1 = vae_conv_declare(m, "decoder.conv_in", VAE_W_CONV2D, z, cur, 3);
    vae_net_push(&m->dec, &op);
    push_mid(m, &m->dec, "decoder.mid_block", cur, mid_attn);
    for (int i = 0; i < nb; i++) {
        int out = boc[nb - 1 - i];
        for (int r = 0; r < lpb + 1; r++) {
            snprintf(name, sizeof name, "decoder.up_blocks.%d.resnets.%d", i, r);
            vae_net_push_res(m, &m->dec, name, cur, out);
            cur = out;
        }
        if (i != nb - 1) {
            snprintf(name, sizeof name, "decoder.up_blocks.%d.upsamplers.0.conv", i);
            VaeOp u = { .kind = VAE_OP_UP };
            u.c1 = vae_conv_declare(m, name, VAE_W_CONV2D, cur, cur, 3);
            vae_net_push(&m->dec, &u);
        }
    }
    ns.n1 = vae_norm_declare(m, "decoder.conv_norm_out", cur, 1);
    vae_net_push(&m->dec, &ns);
    op.c1 = vae_conv_declare(m, "decoder.conv_out", VAE_W_CONV2D, cur, out_ch, 3);
    vae_net_push(&m->dec, &op);

    v->latent_shift = xmalloc((size_t)z * sizeof(float));
    v->latent_scale = xmalloc((size_t)z * sizeof(float));
    for (int c = 0; c < z; c++) { v->latent_shift[c] = (float)shift; v->latent_scale[c] = (float)scaling; }
    v->clamp_output = 0;
    return 0;
}

/* block_out_channels, layers_per_block, norm_num_groups (the builder checks that the groups divide
 * every level) */
static int flux_vae_set_widths(cJSON *cfg, const int dims[4], int blocks, int groups, Err *e) {
    (void)e;
    cJSON_ReplaceItemInObjectCaseSensitive(cfg, "block_out_channels", cJSON_CreateIntArray(dims, 4));
    cJSON_ReplaceItemInObjectCaseSensitive(cfg, "layers_per_block", cJSON_CreateNumber(blocks));
    cJSON_ReplaceItemInObjectCaseSensitive(cfg, "norm_num_groups", cJSON_CreateNumber(groups));
    return 0;
}

/* one shift_factor / scaling_factor over every channel (FLUX's scalar normalisation) */
static void flux_vae_set_latent_stats(cJSON *cfg, const double *sum, const double *sq, double n, int zc) {
    double ts = 0.0, tq = 0.0;
    for (int c = 0; c < zc; c++) { ts += sum[c]; tq += sq[c]; }
    double m = ts / (n * zc), sd = sqrt(fmax(tq / (n * zc) - m * m, 1e-12));
    cJSON_ReplaceItemInObjectCaseSensitive(cfg, "shift_factor", cJSON_CreateNumber(round(m * 1e4) / 1e4));
    cJSON_ReplaceItemInObjectCaseSensitive(cfg, "scaling_factor", cJSON_CreateNumber(round(1e4 / sd) / 1e4));
}

const VaeFamily FLUX_VAE_FAMILY = { "AutoencoderKL", flux_vae_build, 0, flux_vae_set_widths, flux_vae_set_latent_stats };
