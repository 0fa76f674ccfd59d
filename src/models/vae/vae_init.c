/* vae_init.c — the two families' VAE config.json files that init-model writes: the published ones
 * at size full, narrower for tiny and small (the latent statistics stay the real ones). */
#include "models/model_init.h"
#include "models/vae/vae.h"

/* Qwen-Image's Wan-2.1 VAE with the real latent statistics. */
cJSON *vae_init_qwen_config(ModelSize s) {
    static const int BASE[] = {4, 8, 96}, MULT[] = {1, 2, 4, 4};
    static const double MEAN[16] = {-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
                                    0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921};
    static const double STD[16] = {2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
                                   3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.916};
    cJSON *j = cJSON_CreateObject();
    model_init_config_header(j, "AutoencoderKLQwenImage");
    cJSON_AddItemToObject(j, "attn_scales", cJSON_CreateArray());
    cJSON_AddNumberToObject(j, "base_dim", BASE[s]);
    cJSON_AddItemToObject(j, "dim_mult", cJSON_CreateIntArray(MULT, 4));
    cJSON_AddNumberToObject(j, "dropout", 0.0);
    cJSON_AddNumberToObject(j, "input_channels", 3);
    cJSON_AddItemToObject(j, "latents_mean", cJSON_CreateDoubleArray(MEAN, 16));
    cJSON_AddItemToObject(j, "latents_std", cJSON_CreateDoubleArray(STD, 16));
    cJSON_AddNumberToObject(j, "num_res_blocks", 2);
    cJSON *td = cJSON_CreateArray();
    cJSON_AddItemToArray(td, cJSON_CreateFalse()); cJSON_AddItemToArray(td, cJSON_CreateTrue()); cJSON_AddItemToArray(td, cJSON_CreateTrue());
    cJSON_AddItemToObject(j, "temperal_downsample", td);
    cJSON_AddNumberToObject(j, "z_dim", 16);
    return j;
}

/* LongCat's FLUX-layout AutoencoderKL (16 latent channels, no quant convs, real shift/scale). */
cJSON *vae_init_flux_config(ModelSize s) {
    static const int CH[3][4] = {{8, 16, 16, 16}, {16, 32, 32, 32}, {128, 256, 512, 512}}, GROUPS[] = {4, 8, 32};
    cJSON *j = cJSON_CreateObject();
    model_init_config_header(j, "AutoencoderKL");
    cJSON_AddStringToObject(j, "act_fn", "silu");
    cJSON_AddItemToObject(j, "block_out_channels", cJSON_CreateIntArray(CH[s], 4));
    const char *down[4] = {"DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"};
    const char *up[4] = {"UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"};
    cJSON_AddItemToObject(j, "down_block_types", cJSON_CreateStringArray(down, 4));
    cJSON_AddBoolToObject(j, "force_upcast", 1);
    cJSON_AddNumberToObject(j, "in_channels", 3);
    cJSON_AddNumberToObject(j, "latent_channels", 16);
    cJSON_AddNumberToObject(j, "layers_per_block", 2);
    cJSON_AddBoolToObject(j, "mid_block_add_attention", 1);
    cJSON_AddNumberToObject(j, "norm_num_groups", GROUPS[s]);
    cJSON_AddNumberToObject(j, "out_channels", 3);
    cJSON_AddNumberToObject(j, "sample_size", s == SIZE_FULL ? 1024 : 32);
    cJSON_AddNumberToObject(j, "scaling_factor", 0.3611);
    cJSON_AddNumberToObject(j, "shift_factor", 0.1159);
    cJSON_AddItemToObject(j, "up_block_types", cJSON_CreateStringArray(up, 4));
    cJSON_AddBoolToObject(j, "use_post_quant_conv", 0);
    cJSON_AddBoolToObject(j, "use_quant_conv", 0);
    return j;
}
