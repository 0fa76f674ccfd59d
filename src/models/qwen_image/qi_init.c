/* qi_init.c — the QwenImageTransformer2DModel config.json that init-model writes: the published
 * one (60 layers of 24 heads x 128) at size full, shrunk for tiny and small. */
#include "models/model_init.h"
#include "models/qwen_image/qwen_image.h"

cJSON *qi_init_config(const ModelInitSpec *spec, int zero_cond_t, int text_hidden) {
    const ModelSize s = spec->size;
    static const int LAYERS[] = {2, 4, 60}, HEADS[] = {2, 4, 24}, HEAD_DIM[] = {16, 32, 128};
    static const int AXES[3][3] = {{4, 6, 6}, {8, 12, 12}, {16, 56, 56}};
    cJSON *j = cJSON_CreateObject();
    model_init_config_header(j, "QwenImageTransformer2DModel");
    cJSON_AddNumberToObject(j, "attention_head_dim", HEAD_DIM[s]);
    cJSON_AddItemToObject(j, "axes_dims_rope", cJSON_CreateIntArray(AXES[s], 3));
    cJSON_AddBoolToObject(j, "guidance_embeds", 0);
    cJSON_AddNumberToObject(j, "in_channels", 64);
    cJSON_AddNumberToObject(j, "joint_attention_dim", text_hidden);
    cJSON_AddNumberToObject(j, "num_attention_heads", HEADS[s]);
    cJSON_AddNumberToObject(j, "num_layers", spec->layers ? spec->layers : LAYERS[s]);
    cJSON_AddNumberToObject(j, "out_channels", 16);
    cJSON_AddNumberToObject(j, "patch_size", 2);
    cJSON_AddBoolToObject(j, "zero_cond_t", zero_cond_t);
    return j;
}
