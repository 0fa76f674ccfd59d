/* test_vae_fixtures.h — tiny configs of both VAE families for the unit tests (random weights). */
#ifndef TEST_VAE_FIXTURES_H
#define TEST_VAE_FIXTURES_H
#include <cjson/cJSON.h>

static const char *TINY_QWEN_VAE_CONFIG =
    "{\"_class_name\": \"AutoencoderKLQwenImage\", \"attn_scales\": [], \"base_dim\": 4,"
    " \"dim_mult\": [1, 2, 4, 4], \"dropout\": 0.0, \"num_res_blocks\": 1,"
    " \"temperal_downsample\": [false, true, true], \"z_dim\": 4,"
    " \"latents_mean\": [-0.5, 0.25, 0.0, 1.0], \"latents_std\": [2.0, 1.5, 0.5, 1.0]}";

static const char *TINY_FLUX_VAE_CONFIG =
    "{\"_class_name\": \"AutoencoderKL\", \"act_fn\": \"silu\", \"block_out_channels\": [8, 16, 16, 16],"
    " \"down_block_types\": [\"DownEncoderBlock2D\", \"DownEncoderBlock2D\", \"DownEncoderBlock2D\", \"DownEncoderBlock2D\"],"
    " \"up_block_types\": [\"UpDecoderBlock2D\", \"UpDecoderBlock2D\", \"UpDecoderBlock2D\", \"UpDecoderBlock2D\"],"
    " \"in_channels\": 3, \"out_channels\": 3, \"latent_channels\": 4, \"layers_per_block\": 1,"
    " \"norm_num_groups\": 4, \"scaling_factor\": 0.3611, \"shift_factor\": 0.1159,"
    " \"use_quant_conv\": true, \"use_post_quant_conv\": true}";

#endif
