/* lc_init.c — the LongCatImageTransformer2DModel config.json that init-model writes: the published
 * one (10 double and 20 single blocks of 24 heads x 128) at size full, shrunk for tiny and small. */
#include "models/model_init.h"
#include "models/longcat_image/longcat.h"

cJSON *lc_init_config(const ModelInitSpec *spec, int zero_cond_t, int text_hidden) {
    (void)zero_cond_t;
    const ModelSize s = spec->size;
    static const int LAYERS[] = {2, 2, 10}, SINGLE[] = {2, 4, 20}, HEADS[] = {2, 4, 24}, HEAD_DIM[] = {16, 32, 128};
    static const int AXES[3][3] = {{4, 6, 6}, {8, 12, 12}, {16, 56, 56}};
    cJSON *j = cJSON_CreateObject();
    model_init_config_header(j, "LongCatImageTransformer2DModel");
    cJSON_AddNumberToObject(j, "attention_head_dim", HEAD_DIM[s]);
    cJSON_AddItemToObject(j, "axes_dims_rope", cJSON_CreateIntArray(AXES[s], 3));
    cJSON_AddNumberToObject(j, "in_channels", 64);
    cJSON_AddNumberToObject(j, "joint_attention_dim", text_hidden);
    cJSON_AddNumberToObject(j, "num_attention_heads", HEADS[s]);
    cJSON_AddNumberToObject(j, "num_layers", spec->layers ? spec->layers : LAYERS[s]);
    cJSON_AddNumberToObject(j, "num_single_layers", spec->single_layers ? spec->single_layers : spec->layers ? 2 * spec->layers : SINGLE[s]);
    cJSON_AddNumberToObject(j, "patch_size", 1);
    cJSON_AddNumberToObject(j, "pooled_projection_dim", text_hidden);
    return j;
}
