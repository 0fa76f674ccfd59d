/* flow_objective.h — the flow-matching training objective, model-independent (SimpleTuner §3 of
 * specs/simpletuner-features.md; H/models/common.py sample_flow_sigmas / loss, custom_schedule.py).
 *
 * σ sampling (per sample, before the shift):
 *   default       u ~ N(0,1); u += timestep_sampling_offset (of the sample's dataset); σ = sigmoid(k·u),
 *                 k = flow_sigmoid_scale
 *   uniform       σ ~ U(0,1)                        (flow_use_uniform_schedule; wins over beta)
 *   beta          σ ~ Beta(α, β)                    (flow_use_beta_schedule, flow_beta_schedule_alpha/beta)
 * Shift: s = flow_schedule_shift when > 0; else with flow_schedule_auto_shift
 *   L = (h/p)·(w/p) latent tokens (p = patch size 2), m = (max_shift − base_shift)/(L1 − L0),
 *   μ = base_shift + m·(L − L0), s = e^μ  (Qwen's training scheduler: L0 256, L1 8192, 0.5, 0.9);
 *   σ ← s·σ / (1 + (s − 1)·σ).  No shift when neither applies. Timestep t = 1000·σ.
 * Noising: x_σ = (1 − σ)·x0 + σ·ε̃, ε̃ = ε + p·ξ with input_perturbation p (scaled by 1 − g/steps
 *   while g < input_perturbation_steps, 0 after; constant without steps). Target v = ε − x0 (plain ε).
 * Loss on the target tokens, unpacked to (B, C, h·w), f32 inputs, accumulated in double:
 *   L = mean_b [ (1/(C·h·w)) Σ_i w_{b,i} · ℓ(v̂ − v) ]
 *   l2: d²   huber: 2c(√(d² + c²) − c)   smooth_l1: 2(√(d² + c²) − c)
 *   c per sample from huber_schedule: constant c = huber_c; exponential c = e^(−α·t), α = −ln(huber_c)/1000;
 *   snr: r = √((1 − σ)/(σ + 1e-4)), c = (1 − huber_c)/(1 + r)² + huber_c.
 *   w (optional) is the mask weight per (b, pixel), broadcast over channels: a mask image area-resized
 *   to h×w and mapped m → m/2 + 0.5 (flow_mask_weights). */
#ifndef ST_TRAIN_FLOW_OBJECTIVE_H
#define ST_TRAIN_FLOW_OBJECTIVE_H
#include <stddef.h>
#include <stdint.h>
#include "base/error.h"
#include "base/rng.h"

typedef enum { SIGMA_LOGIT_NORMAL, SIGMA_UNIFORM, SIGMA_BETA } SigmaDist;
typedef enum { LOSS_L2, LOSS_HUBER, LOSS_SMOOTH_L1 } LossType;
typedef enum { HUBER_SNR, HUBER_EXPONENTIAL, HUBER_CONSTANT } HuberSchedule;

typedef struct FlowConfig {
    SigmaDist dist;
    double sigmoid_scale;           /* flow_sigmoid_scale (1.0) */
    double beta_alpha, beta_beta;   /* flow_beta_schedule_alpha/beta (2.0, 2.0) */
    double shift;                   /* flow_schedule_shift (3.0); forced to 0 by auto_shift */
    int auto_shift;                 /* flow_schedule_auto_shift */
    int patch_size;                 /* 2 */
    double base_seq_len, max_seq_len, base_shift, max_shift; /* auto-shift line (Qwen: 256, 8192, 0.5, 0.9) */
    LossType loss_type;             /* l2 */
    double huber_c;                 /* 0.1 */
    HuberSchedule huber_schedule;   /* snr */
    double input_perturbation;      /* 0 */
    int64_t input_perturbation_steps; /* 0 = no decay */
    double masked_loss_probability; /* 1: a sample's mask always weights its loss */
} FlowConfig;

/* SimpleTuner's defaults with Qwen's auto-shift constants. */
void flow_config_init(FlowConfig *c);

/* The user-facing switches; strings may be NULL (= default). Applies the post-parse rule
 * (auto shift forces flow_schedule_shift = 0) and checks ranges; errors (EXIT_USAGE) name the key. */
typedef struct FlowUserKeys {
    int flow_use_uniform_schedule, flow_use_beta_schedule, flow_schedule_auto_shift;
    const char *loss_type, *huber_schedule;
} FlowUserKeys;
int flow_config_apply(FlowConfig *c, const FlowUserKeys *k, Err *e);

/* One unshifted σ for a sample of a dataset with the given timestep_sampling_offset. */
double flow_sigma_draw(const FlowConfig *c, double dataset_offset, Rng *rng);
/* The shift factor for a latent of h×w (0 = no shift). */
double flow_shift_factor(const FlowConfig *c, int latent_h, int latent_w);
/* μ of the auto shift for L tokens: base + (max − base)/(L1 − L0)·(L − L0). */
double flow_auto_shift_mu(const FlowConfig *c, double seq_len);
double flow_sigma_shift(double sigma, double shift);
/* Draws and shifts B sigmas (offsets: per sample, NULL = 0). */
void flow_sample_sigmas(const FlowConfig *c, int B, const double *offsets, int latent_h, int latent_w,
                        Rng *rng, float *sigmas);
/* Beta(a, b) via two Gamma draws (Marsaglia–Tsang). */
double rng_beta(Rng *rng, double a, double b);

/* input_perturbation scale at global step g. */
double flow_input_perturbation_at(const FlowConfig *c, int64_t global_step);
/* x_σ = (1 − σ)·x0 + σ·noise, n elements of one sample. */
void flow_noisy_input(const float *x0, const float *noise, float sigma, size_t n, float *x_sigma);
/* v = ε − x0. */
void flow_target(const float *x0, const float *eps, size_t n, float *v);

double flow_huber_c(const FlowConfig *c, double sigma);
/* The loss above for pred/target of shape (B, C, plane); weight (B, plane) or NULL; sigmas (B,) used by
 * the scheduled Huber c. Writes dL/dpred into dpred (same shape) when non-NULL. */
double flow_loss(const FlowConfig *c, int B, int C, size_t plane, const float *pred, const float *target,
                 const float *weight, const float *sigmas, float *dpred);
/* Mask loss weights for one sample: mask channel (H, W) in [−1, 1] → area-resized to (h, w) → m/2 + 0.5. */
void flow_mask_weights(const float *mask, int H, int W, int h, int w, float *out);

#endif
