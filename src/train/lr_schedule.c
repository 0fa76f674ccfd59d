/* lr_schedule.c — the formulas listed in lr_schedule.h, one small function each. */
#include <math.h>
#include <string.h>
#include "train/lr_schedule.h"
#include "config/config.h"

static const struct { LrKind kind; const char *name; } NAMES[] = {
    { LR_CONSTANT, "constant" }, { LR_CONSTANT_WITH_WARMUP, "constant_with_warmup" }, { LR_LINEAR, "linear" },
    { LR_COSINE, "cosine" }, { LR_COSINE_WITH_RESTARTS, "cosine_with_restarts" },
    { LR_POLYNOMIAL, "polynomial" }, { LR_SINE, "sine" },
};

const char *lr_schedule_supported_names(void) {
    return "constant, constant_with_warmup, linear, cosine, cosine_with_restarts, polynomial, sine";
}

void lr_schedule_keys_init(LrScheduleKeys *k) {
    memset(k, 0, sizeof *k);
    /* SimpleTuner's defaults, as the options table holds them */
    k->lr_scheduler = "constant_with_warmup";
    k->learning_rate = option_default_num("learning_rate");
    k->lr_num_cycles = option_default_num("lr_num_cycles");
    k->lr_power = option_default_num("lr_power");
    k->lr_end = option_default_num("lr_end");
}

int lr_schedule_init(LrSchedule *s, const LrScheduleKeys *k, Err *e) {
    const char *name = k->lr_scheduler ? k->lr_scheduler : "constant_with_warmup";
    if (!strcmp(name, "cosine_with_warmup")) name = "cosine";
    if (!strcmp(name, "constant") && k->lr_warmup_steps > 0) name = "constant_with_warmup";
    int kind = -1;
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++) if (!strcmp(NAMES[i].name, name)) kind = (int)NAMES[i].kind;
    if (kind < 0)
        return err_setc(e, EXIT_USAGE, "lr_scheduler '%s' is not supported; supported: %s", name, lr_schedule_supported_names());
    if (k->lr_warmup_steps < 0) return err_setc(e, EXIT_USAGE, "lr_warmup_steps must be >= 0 (got %lld)", (long long)k->lr_warmup_steps);
    if (!(k->learning_rate >= 0)) return err_setc(e, EXIT_USAGE, "learning_rate must be >= 0 (got %g)", k->learning_rate);
    *s = (LrSchedule){ (LrKind)kind, k->learning_rate, k->lr_warmup_steps, k->max_train_steps,
                       k->lr_num_cycles, k->lr_power, k->lr_end };
    int needs_total = kind == LR_LINEAR || kind == LR_POLYNOMIAL || kind == LR_COSINE_WITH_RESTARTS;
    if (needs_total && k->max_train_steps <= 0)
        return err_setc(e, EXIT_USAGE, "lr_scheduler %s needs max_train_steps > 0 (got %lld)", name, (long long)k->max_train_steps);
    if (kind == LR_POLYNOMIAL && !(k->learning_rate > k->lr_end))
        return err_setc(e, EXIT_USAGE, "lr_scheduler polynomial: lr_end (%g) must be smaller than learning_rate (%g)",
                        k->lr_end, k->learning_rate);
    if (kind == LR_POLYNOMIAL && k->max_train_steps <= k->lr_warmup_steps)
        return err_setc(e, EXIT_USAGE, "lr_scheduler polynomial: max_train_steps (%lld) must exceed lr_warmup_steps (%lld)",
                        (long long)k->max_train_steps, (long long)k->lr_warmup_steps);
    if (kind == LR_SINE && k->lr_warmup_steps <= 0)
        return err_setc(e, EXIT_USAGE, "lr_scheduler sine uses lr_warmup_steps as its interval; set lr_warmup_steps > 0");
    if (kind == LR_COSINE && k->lr_warmup_steps <= 0)
        log_warn("lr_scheduler cosine uses lr_warmup_steps as its interval; with 0 it uses 1000 steps (as SimpleTuner does)");
    return 0;
}

/* Linear warmup factor k/max(1,W) for k < W, else 1. */
static double warmup(const LrSchedule *s, int64_t k) {
    if (k < s->warmup_steps) return (double)k / (double)(s->warmup_steps > 1 ? s->warmup_steps : 1);
    return 1.0;
}

/* SimpleTuner's Cosine and Sine store math.floor(lr·1e9)/1e9. */
static double floor_nano(double lr) { return floor(lr * 1e9) / 1e9; }

static double linear_at(const LrSchedule *s, int64_t k) {
    if (k < s->warmup_steps) return s->base_lr * warmup(s, k);
    int64_t span = s->total_steps - s->warmup_steps;
    double f = (double)(s->total_steps - k) / (double)(span > 1 ? span : 1);
    return s->base_lr * (f > 0 ? f : 0);
}

static double polynomial_at(const LrSchedule *s, int64_t k) {
    if (k < s->warmup_steps) return s->base_lr * warmup(s, k);
    if (k > s->total_steps) return s->lr_end;
    double remaining = 1.0 - (double)(k - s->warmup_steps) / (double)(s->total_steps - s->warmup_steps);
    return (s->base_lr - s->lr_end) * pow(remaining, s->power) + s->lr_end;
}

static double cosine_wave_at(const LrSchedule *s, int64_t k) {
    double period = s->warmup_steps > 0 ? (double)s->warmup_steps : 1000.0;
    return floor_nano(s->lr_end + (s->base_lr - s->lr_end) * (1.0 + cos(M_PI * (double)k / period)) / 2.0);
}

static double sine_wave_at(const LrSchedule *s, int64_t k) {
    return floor_nano(s->lr_end + (s->base_lr - s->lr_end) * 0.5 * (1.0 + sin(M_PI * (double)k / (double)s->warmup_steps)));
}

static double hard_restarts_at(const LrSchedule *s, int64_t k) {
    if (k < s->warmup_steps) return s->base_lr * warmup(s, k);
    int64_t span = s->total_steps - s->warmup_steps;
    double progress = (double)(k - s->warmup_steps) / (double)(span > 1 ? span : 1);
    if (progress >= 1.0) return 0.0;
    return s->base_lr * 0.5 * (1.0 + cos(M_PI * fmod(s->num_cycles * progress, 1.0)));
}

double lr_schedule_at(const LrSchedule *s, int64_t k) {
    if (k < 0) k = 0;
    switch (s->kind) {
    case LR_CONSTANT:             return s->base_lr;
    case LR_CONSTANT_WITH_WARMUP: return s->base_lr * warmup(s, k);
    case LR_LINEAR:               return linear_at(s, k);
    case LR_POLYNOMIAL:           return polynomial_at(s, k);
    case LR_COSINE:               return cosine_wave_at(s, k);
    case LR_SINE:                 return sine_wave_at(s, k);
    case LR_COSINE_WITH_RESTARTS: return hard_restarts_at(s, k);
    }
    return s->base_lr;
}
