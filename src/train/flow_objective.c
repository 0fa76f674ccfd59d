/* flow_objective.c — the formulas listed in flow_objective.h. */
#include <math.h>
#include <string.h>
#include "train/flow_objective.h"

void flow_config_init(FlowConfig *c) {
    memset(c, 0, sizeof *c);
    c->dist = SIGMA_LOGIT_NORMAL;
    c->sigmoid_scale = 1.0;
    c->beta_alpha = c->beta_beta = 2.0;
    c->shift = 3.0;
    c->patch_size = 2;
    c->base_seq_len = 256; c->max_seq_len = 8192; c->base_shift = 0.5; c->max_shift = 0.9;
    c->loss_type = LOSS_L2;
    c->huber_c = 0.1;
    c->huber_schedule = HUBER_SNR;
    c->masked_loss_probability = 1.0;
}

static int parse_choice(const char *key, const char *s, const char *const *names, int n, const char *supported,
                        int *out, Err *e) {
    for (int i = 0; i < n; i++) if (!strcmp(s, names[i])) { *out = i; return 0; }
    return err_setc(e, EXIT_USAGE, "%s '%s' is not supported; supported: %s", key, s, supported);
}

int flow_config_apply(FlowConfig *c, const FlowUserKeys *k, Err *e) {
    static const char *const LOSSES[] = { "l2", "huber", "smooth_l1" };
    static const char *const SCHEDULES[] = { "snr", "exponential", "constant" };
    int v = 0;
    if (k->loss_type) { if (parse_choice("loss_type", k->loss_type, LOSSES, 3, "l2, huber, smooth_l1", &v, e)) return -1; c->loss_type = (LossType)v; }
    if (k->huber_schedule) {
        if (parse_choice("huber_schedule", k->huber_schedule, SCHEDULES, 3, "snr, exponential, constant", &v, e)) return -1;
        c->huber_schedule = (HuberSchedule)v;
    }
    c->dist = k->flow_use_uniform_schedule ? SIGMA_UNIFORM : k->flow_use_beta_schedule ? SIGMA_BETA : SIGMA_LOGIT_NORMAL;
    if (k->flow_schedule_auto_shift) { c->auto_shift = 1; c->shift = 0; }
    if (c->dist == SIGMA_BETA && !(c->beta_alpha > 0 && c->beta_beta > 0))
        return err_setc(e, EXIT_USAGE, "flow_beta_schedule_alpha/beta must be > 0 (got %g, %g)", c->beta_alpha, c->beta_beta);
    if (c->shift < 0) return err_setc(e, EXIT_USAGE, "flow_schedule_shift must be >= 0 (got %g)", c->shift);
    if (c->loss_type != LOSS_L2 && !(c->huber_c > 0))
        return err_setc(e, EXIT_USAGE, "huber_c must be > 0 for loss_type %s (got %g)", LOSSES[c->loss_type], c->huber_c);
    if (c->auto_shift && !(c->max_seq_len > c->base_seq_len))
        return err_setc(e, EXIT_USAGE, "auto shift needs max_image_seq_len > base_image_seq_len (got %g, %g)",
                        c->max_seq_len, c->base_seq_len);
    return 0;
}

/* Gamma(a, 1): Marsaglia & Tsang (2000); for a < 1 boost to a + 1 and scale by U^(1/a). */
static double rng_gamma(Rng *rng, double a) {
    if (a < 1.0) return rng_gamma(rng, a + 1.0) * pow(1.0 - rng_uniform(rng), 1.0 / a);
    const double d = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = rng_normal(rng), v = 1.0 + c * x;
        if (v <= 0) continue;
        v = v * v * v;
        double u = 1.0 - rng_uniform(rng); /* (0, 1] so log(u) is finite */
        if (log(u) < 0.5 * x * x + d - d * v + d * log(v)) return d * v;
    }
}

double rng_beta(Rng *rng, double a, double b) {
    double x = rng_gamma(rng, a), y = rng_gamma(rng, b);
    return x / (x + y);
}

double flow_sigma_draw(const FlowConfig *c, double dataset_offset, Rng *rng) {
    switch (c->dist) {
    case SIGMA_UNIFORM: return rng_uniform(rng);
    case SIGMA_BETA:    return rng_beta(rng, c->beta_alpha, c->beta_beta);
    case SIGMA_LOGIT_NORMAL: break;
    }
    double u = rng_normal(rng) + dataset_offset;
    return 1.0 / (1.0 + exp(-c->sigmoid_scale * u));
}

double flow_auto_shift_mu(const FlowConfig *c, double seq_len) {
    double m = (c->max_shift - c->base_shift) / (c->max_seq_len - c->base_seq_len);
    return c->base_shift + m * (seq_len - c->base_seq_len);
}

double flow_shift_factor(const FlowConfig *c, int latent_h, int latent_w) {
    if (c->shift > 0) return c->shift;
    if (!c->auto_shift) return 0;
    int p = c->patch_size > 0 ? c->patch_size : 2;
    double seq_len = (double)(latent_h / p) * (double)(latent_w / p);
    return exp(flow_auto_shift_mu(c, seq_len));
}

double flow_sigma_shift(double sigma, double shift) {
    return shift * sigma / (1.0 + (shift - 1.0) * sigma);
}

void flow_sample_sigmas(const FlowConfig *c, int B, const double *offsets, int latent_h, int latent_w,
                        Rng *rng, float *sigmas) {
    double s = flow_shift_factor(c, latent_h, latent_w);
    for (int b = 0; b < B; b++) {
        double sigma = flow_sigma_draw(c, offsets ? offsets[b] : 0.0, rng);
        sigmas[b] = (float)(s > 0 ? flow_sigma_shift(sigma, s) : sigma);
    }
}

double flow_input_perturbation_at(const FlowConfig *c, int64_t global_step) {
    if (c->input_perturbation == 0) return 0;
    if (c->input_perturbation_steps <= 0) return c->input_perturbation;
    if (global_step >= c->input_perturbation_steps) return 0;
    return c->input_perturbation * (1.0 - (double)global_step / (double)c->input_perturbation_steps);
}

void flow_noisy_input(const float *x0, const float *noise, float sigma, size_t n, float *x_sigma) {
    const float keep = 1.0f - sigma;
    for (size_t i = 0; i < n; i++) x_sigma[i] = keep * x0[i] + sigma * noise[i];
}

void flow_target(const float *x0, const float *eps, size_t n, float *v) {
    for (size_t i = 0; i < n; i++) v[i] = eps[i] - x0[i];
}

double flow_huber_c(const FlowConfig *c, double sigma) {
    switch (c->huber_schedule) {
    case HUBER_CONSTANT: return c->huber_c;
    case HUBER_EXPONENTIAL: {
        double alpha = -log(c->huber_c) / 1000.0;
        return exp(-alpha * 1000.0 * sigma);
    }
    case HUBER_SNR: {
        double r = sqrt((1.0 - sigma) / (sigma + 1e-4));
        return (1.0 - c->huber_c) / ((1.0 + r) * (1.0 + r)) + c->huber_c;
    }
    }
    return c->huber_c;
}

/* ℓ(d) and dℓ/dd for one element. */
static double elem_loss(LossType t, double d, double c, double *grad) {
    if (t == LOSS_L2) { *grad = 2.0 * d; return d * d; }
    double root = sqrt(d * d + c * c);
    double scale = t == LOSS_HUBER ? 2.0 * c : 2.0;
    *grad = scale * d / root;
    return scale * (root - c);
}

double flow_loss(const FlowConfig *c, int B, int C, size_t plane, const float *pred, const float *target,
                 const float *weight, const float *sigmas, float *dpred) {
    const size_t per = (size_t)C * plane;
    const double inv_n = 1.0 / ((double)per * (double)B);
    double total = 0;
    for (int b = 0; b < B; b++) {
        double hc = c->loss_type == LOSS_L2 ? 0 : c->huber_schedule == HUBER_CONSTANT ? c->huber_c : flow_huber_c(c, sigmas[b]);
        const float *wb = weight ? weight + (size_t)b * plane : NULL;
        double sample = 0;
        #pragma omp parallel for reduction(+ : sample) schedule(static) if (per >= 65536)
        for (size_t i = 0; i < per; i++) {
            size_t at = (size_t)b * per + i;
            double g, l = elem_loss(c->loss_type, (double)pred[at] - (double)target[at], hc, &g);
            double w = wb ? wb[i % plane] : 1.0;
            sample += w * l;
            if (dpred) dpred[at] = (float)(w * g * inv_n);
        }
        total += sample;
    }
    return total * inv_n;
}

/* Area resize = adaptive average pooling: output cell (i, j) averages rows [⌊iH/h⌋, ⌈(i+1)H/h⌉)
 * and columns likewise. */
void flow_mask_weights(const float *mask, int H, int W, int h, int w, float *out) {
    for (int i = 0; i < h; i++) {
        int r0 = (int)((long)i * H / h), r1 = (int)(((long)(i + 1) * H + h - 1) / h);
        for (int j = 0; j < w; j++) {
            int c0 = (int)((long)j * W / w), c1 = (int)(((long)(j + 1) * W + w - 1) / w);
            double sum = 0;
            for (int r = r0; r < r1; r++)
                for (int q = c0; q < c1; q++) sum += mask[(size_t)r * W + q];
            double m = sum / ((double)(r1 - r0) * (double)(c1 - c0));
            out[(size_t)i * w + j] = (float)(m / 2.0 + 0.5);
        }
    }
}
