/* flowmatch.h — FlowMatchEulerDiscreteScheduler as the Qwen-Image and LongCat pipelines use it:
 * dynamic shifting (mu from the image token count), exponential or linear time shift, terminal
 * stretch, and the Euler step. Arithmetic order and precision follow the upstream float32 numpy code. */
#ifndef ST_FLOWMATCH_H
#define ST_FLOWMATCH_H
#include <stddef.h>
#include <cjson/cJSON.h>
#include "base/error.h"

typedef struct FlowMatchConfig {
    int num_train_timesteps;     /* 1000 */
    double shift;                /* static shift when use_dynamic_shifting is false */
    int use_dynamic_shifting;
    double base_shift, max_shift;
    int base_image_seq_len, max_image_seq_len;
    double shift_terminal;       /* 0 = off */
    int time_shift_exponential;  /* time_shift_type: "exponential" (1) or "linear" (0) */
    int invert_sigmas;
} FlowMatchConfig;

/* Defaults of the diffusers class, overridden by every key present in scheduler_config.json.
 * Unsupported options that change the schedule (karras/beta/exponential sigmas, stochastic
 * sampling) are an error naming the key. */
int flowmatch_config_from_json(const cJSON *j, FlowMatchConfig *c, const char *source, Err *e);

/* mu = m*seq_len + b through (base_seq, base_shift) and (max_seq, max_shift). */
double flowmatch_calculate_shift(const FlowMatchConfig *c, double image_seq_len);

/* The pipelines' input sigmas: linspace(1, 1/n, n) in float64. */
void flowmatch_default_sigmas(int n, double *sigmas);

/* Fills sigmas[n+1] (n shifted sigmas + terminal 0) and timesteps[n] (= sigmas*num_train_timesteps).
 * sigmas_in: n input sigmas (NULL → linspace(1, 1/n, n) as the pipelines pass). */
void flowmatch_set_timesteps(const FlowMatchConfig *c, int n, const double *sigmas_in, double mu,
                             float *sigmas, float *timesteps);

/* x[n] += (sigma_next - sigma) * v[n]  (the Euler step, fp32). */
void flowmatch_step(float *x, const float *v, size_t n, float sigma, float sigma_next);

#endif
