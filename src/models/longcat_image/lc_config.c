/* config.c — LongCat transformer config.json (see longcat.h). */
#include "models/longcat_image/longcat.h"
#include "models/vae/vae_config.h"
#include <string.h>

static int require_int(const cJSON *cfg, const char *key, int *out, Err *e) {
    if (!cJSON_GetObjectItemCaseSensitive(cfg, key))
        return err_setc(e, EXIT_USAGE, "transformer config: missing key \"%s\" (the class default is FLUX's, not LongCat's)", key);
    return vae_cfg_int(cfg, key, 0, out, e);
}

int lc_config_parse(const cJSON *cfg, LcConfig *c, Err *e) {
    memset(c, 0, sizeof *c);
    if (!cJSON_IsObject(cfg)) return err_setc(e, EXIT_USAGE, "transformer config: expected a JSON object");
    int patch;
    if (require_int(cfg, "num_layers", &c->layers, e) || require_int(cfg, "num_single_layers", &c->single_layers, e) ||
        vae_cfg_int(cfg, "in_channels", 64, &c->in_ch, e) || vae_cfg_int(cfg, "attention_head_dim", 128, &c->head_dim, e) ||
        vae_cfg_int(cfg, "num_attention_heads", 24, &c->heads, e) || vae_cfg_int(cfg, "joint_attention_dim", 3584, &c->joint_dim, e) ||
        vae_cfg_int(cfg, "patch_size", 1, &patch, e))
        return -1;
    const cJSON *oc = cJSON_GetObjectItemCaseSensitive(cfg, "out_channels");
    if (oc && !cJSON_IsNull(oc)) { if (vae_cfg_int(cfg, "out_channels", 0, &c->out_ch, e)) return -1; }
    else c->out_ch = c->in_ch;
    if (patch != 1) return err_setc(e, EXIT_USAGE, "transformer config: patch_size %d not supported yet (LongCat uses 1)", patch);
    double ax[4]; int na = 0;
    if (vae_cfg_numbers(cfg, "axes_dims_rope", ax, 4, &na, e)) return -1;
    if (na == 0) { ax[0] = 16; ax[1] = 56; ax[2] = 56; na = 3; }
    if (na != 3) return err_setc(e, EXIT_USAGE, "transformer config key \"axes_dims_rope\": expected 3 integers");
    int sum = 0;
    for (int i = 0; i < 3; i++) {
        c->axes[i] = (int)ax[i];
        if (c->axes[i] <= 0 || c->axes[i] % 2) return err_setc(e, EXIT_USAGE, "transformer config key \"axes_dims_rope\": each entry must be a positive even number");
        sum += c->axes[i];
    }
    if (c->layers < 0 || c->single_layers < 0 || c->in_ch <= 0 || c->out_ch <= 0 || c->head_dim <= 0 || c->heads <= 0 || c->joint_dim <= 0)
        return err_setc(e, EXIT_USAGE, "transformer config: sizes must be positive");
    if (sum != c->head_dim)
        return err_setc(e, EXIT_USAGE, "transformer config: axes_dims_rope sum %d must equal attention_head_dim %d", sum, c->head_dim);
    c->dim = c->heads * c->head_dim;
    c->ff = 4 * c->dim;
    return 0;
}
