/* vae_config.h — typed reads of a VAE config.json with defaults; errors name the key and what was expected. */
#ifndef ST_MODELS_VAE_CONFIG_H
#define ST_MODELS_VAE_CONFIG_H
#include <cjson/cJSON.h>
#include "base/error.h"

/* Integer key (absent or null: def). */
int vae_cfg_int(const cJSON *cfg, const char *key, int def, int *out, Err *e);
/* Number key (absent or null: def; *present set to 0 then, when present is not NULL). */
int vae_cfg_number(const cJSON *cfg, const char *key, double def, double *out, int *present, Err *e);
/* Boolean key (absent or null: def). */
int vae_cfg_bool(const cJSON *cfg, const char *key, int def, int *out, Err *e);
/* Array of numbers; *n receives its length (absent or null: *n = 0). At most cap values. */
int vae_cfg_numbers(const cJSON *cfg, const char *key, double *out, int cap, int *n, Err *e);
/* Array of strings; pointers into cfg. */
int vae_cfg_strings(const cJSON *cfg, const char *key, const char **out, int cap, int *n, Err *e);

#endif
