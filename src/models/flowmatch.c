#include "models/flowmatch.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static double num_or(const cJSON *j, const char *k, double d) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    return cJSON_IsNumber(v) ? v->valuedouble : d;
}
static int bool_or(const cJSON *j, const char *k, int d) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : d;
}

int flowmatch_config_from_json(const cJSON *j, FlowMatchConfig *c, const char *source, Err *e) {
    c->num_train_timesteps = (int)num_or(j, "num_train_timesteps", 1000);
    c->shift = num_or(j, "shift", 1.0);
    c->use_dynamic_shifting = bool_or(j, "use_dynamic_shifting", 0);
    c->base_shift = num_or(j, "base_shift", 0.5);
    c->max_shift = num_or(j, "max_shift", 1.15);
    c->base_image_seq_len = (int)num_or(j, "base_image_seq_len", 256);
    c->max_image_seq_len = (int)num_or(j, "max_image_seq_len", 4096);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "shift_terminal");
    c->shift_terminal = cJSON_IsNumber(st) ? st->valuedouble : 0.0;
    c->invert_sigmas = bool_or(j, "invert_sigmas", 0);
    const cJSON *tt = cJSON_GetObjectItemCaseSensitive(j, "time_shift_type");
    c->time_shift_exponential = 1;
    if (cJSON_IsString(tt)) {
        if (!strcmp(tt->valuestring, "linear")) c->time_shift_exponential = 0;
        else if (strcmp(tt->valuestring, "exponential"))
            return err_set(e, "%s: time_shift_type '%s' is not one of exponential, linear", source, tt->valuestring);
    }
    static const char *unsupported[] = {"use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "stochastic_sampling", NULL};
    for (int i = 0; unsupported[i]; i++)
        if (bool_or(j, unsupported[i], 0)) return err_set(e, "%s: not supported yet: %s=true", source, unsupported[i]);
    if (c->invert_sigmas) return err_set(e, "%s: not supported yet: invert_sigmas=true", source);
    if (c->num_train_timesteps <= 0) return err_set(e, "%s: num_train_timesteps must be positive", source);
    return 0;
}

double flowmatch_calculate_shift(const FlowMatchConfig *c, double image_seq_len) {
    double m = (c->max_shift - c->base_shift) / (double)(c->max_image_seq_len - c->base_image_seq_len);
    double b = c->base_shift - m * c->base_image_seq_len;
    return image_seq_len * m + b;
}

void flowmatch_default_sigmas(int n, double *sigmas) {
    for (int i = 0; i < n; i++) sigmas[i] = n > 1 ? 1.0 + (1.0 / n - 1.0) * i / (n - 1) : 1.0;
}

void flowmatch_set_timesteps(const FlowMatchConfig *c, int n, const double *sigmas_in, double mu,
                             float *sigmas, float *timesteps) {
    /* Upstream casts the input sigmas to float32 first, then shifts in float32. */
    double *dflt = sigmas_in ? NULL : xmalloc((size_t)(n > 0 ? n : 1) * sizeof(double));
    if (dflt) flowmatch_default_sigmas(n, dflt);
    for (int i = 0; i < n; i++) sigmas[i] = (float)(sigmas_in ? sigmas_in[i] : dflt[i]);
    free(dflt);
    if (c->use_dynamic_shifting) {
        float em = (float)exp(mu);
        for (int i = 0; i < n; i++) {
            float t = sigmas[i];
            if (c->time_shift_exponential) sigmas[i] = em / (em + (1.0f / t - 1.0f));
            else sigmas[i] = (float)mu / ((float)mu + (1.0f / t - 1.0f));
        }
    } else {
        float s = (float)c->shift;
        for (int i = 0; i < n; i++) sigmas[i] = s * sigmas[i] / (1.0f + (s - 1.0f) * sigmas[i]);
    }
    if (c->shift_terminal > 0 && n > 0) {
        /* one_minus_z / scale_factor with scale_factor = (1 - z[-1]) / (1 - shift_terminal):
         * the scalar is computed in float64 and applied to the float32 array in float32. */
        float omz_last = 1.0f - sigmas[n - 1];
        float scale = (float)((double)omz_last / (1.0 - c->shift_terminal));
        for (int i = 0; i < n; i++) sigmas[i] = 1.0f - (1.0f - sigmas[i]) / scale;
    }
    for (int i = 0; i < n; i++) timesteps[i] = sigmas[i] * (float)c->num_train_timesteps;
    sigmas[n] = 0.0f;
}

void flowmatch_step(float *x, const float *v, size_t n, float sigma, float sigma_next) {
    float dt = sigma_next - sigma;
    for (size_t i = 0; i < n; i++) x[i] = x[i] + dt * v[i];
}
