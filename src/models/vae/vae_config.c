/* vae_config.c — see vae_config.h. */
#include "models/vae/vae_config.h"
#include <math.h>

static const cJSON *item(const cJSON *cfg, const char *key) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(cfg, key);
    return (!it || cJSON_IsNull(it)) ? NULL : it;
}

int vae_cfg_int(const cJSON *cfg, const char *key, int def, int *out, Err *e) {
    const cJSON *it = item(cfg, key);
    if (!it) { *out = def; return 0; }
    if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble))
        return err_setc(e, EXIT_USAGE, "config key \"%s\": expected an integer", key);
    *out = (int)it->valuedouble;
    return 0;
}

int vae_cfg_number(const cJSON *cfg, const char *key, double def, double *out, int *present, Err *e) {
    const cJSON *it = item(cfg, key);
    if (present) *present = it != NULL;
    if (!it) { *out = def; return 0; }
    if (!cJSON_IsNumber(it)) return err_setc(e, EXIT_USAGE, "config key \"%s\": expected a number", key);
    *out = it->valuedouble;
    return 0;
}

int vae_cfg_bool(const cJSON *cfg, const char *key, int def, int *out, Err *e) {
    const cJSON *it = item(cfg, key);
    if (!it) { *out = def; return 0; }
    if (!cJSON_IsBool(it)) return err_setc(e, EXIT_USAGE, "config key \"%s\": expected true or false", key);
    *out = cJSON_IsTrue(it);
    return 0;
}

int vae_cfg_numbers(const cJSON *cfg, const char *key, double *out, int cap, int *n, Err *e) {
    const cJSON *it = item(cfg, key);
    *n = 0;
    if (!it) return 0;
    if (!cJSON_IsArray(it)) return err_setc(e, EXIT_USAGE, "config key \"%s\": expected an array of numbers", key);
    const cJSON *x;
    cJSON_ArrayForEach(x, it) {
        if (!cJSON_IsNumber(x) && !cJSON_IsBool(x))
            return err_setc(e, EXIT_USAGE, "config key \"%s\": expected an array of numbers", key);
        if (*n >= cap) return err_setc(e, EXIT_USAGE, "config key \"%s\": more than %d entries", key, cap);
        out[(*n)++] = cJSON_IsBool(x) ? (double)cJSON_IsTrue(x) : x->valuedouble;
    }
    return 0;
}

int vae_cfg_strings(const cJSON *cfg, const char *key, const char **out, int cap, int *n, Err *e) {
    const cJSON *it = item(cfg, key);
    *n = 0;
    if (!it) return 0;
    if (!cJSON_IsArray(it)) return err_setc(e, EXIT_USAGE, "config key \"%s\": expected an array of strings", key);
    const cJSON *x;
    cJSON_ArrayForEach(x, it) {
        if (!cJSON_IsString(x)) return err_setc(e, EXIT_USAGE, "config key \"%s\": expected an array of strings", key);
        if (*n >= cap) return err_setc(e, EXIT_USAGE, "config key \"%s\": more than %d entries", key, cap);
        out[(*n)++] = x->valuestring;
    }
    return 0;
}
