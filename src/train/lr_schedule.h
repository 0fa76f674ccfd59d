/* lr_schedule.h — SimpleTuner's learning-rate schedules as pure functions of the step.
 *
 * lr_schedule_at(s, k) is the learning rate of the optimizer step that follows k completed steps
 * (k = global_step before the step; the first step uses k = 0). Upstream the scheduler is built before
 * step 1 (which sets λ(0)) and stepped after every optimizer step, so step k+1 runs at λ(k). Because it
 * is a function of k alone, resume needs no scheduler state.
 *
 * W = lr_warmup_steps, T = max_train_steps, base = learning rate, end = lr_end:
 *   constant              base                                           (diffusers)
 *   constant_with_warmup  base·k/max(1,W) for k < W, else base            (diffusers)
 *   linear                warmup as above, then base·max(0, (T−k)/max(1, T−W))   (diffusers)
 *   polynomial            warmup as above; k > T: end; else (base−end)·(1 − (k−W)/(T−W))^power + end
 *                         (SimpleTuner's copy of the transformers formula; needs base > end)
 *   cosine                SimpleTuner's Cosine: no warmup; a cosine wave with half-period P = W
 *                         (1000 when W = 0): end + (base−end)·(1 + cos(π·k/P))/2, floored to 1e-9
 *   sine                  SimpleTuner's Sine: end + (base−end)·(1 + sin(π·k/W))/2, floored to 1e-9;
 *                         starts half-way, needs W > 0
 *   cosine_with_restarts  diffusers' hard restarts: warmup as above, then with
 *                         p = (k−W)/max(1, T−W): p ≥ 1 → 0, else base·(1 + cos(π·((cycles·p) mod 1)))/2.
 *                         (SimpleTuner's own class keeps the lr at base — it warns that it is
 *                         "misbehaving" — so this follows the documented intent and lr_num_cycles.)
 * The post-parse renames apply: constant with W > 0 → constant_with_warmup; cosine_with_warmup → cosine. */
#ifndef ST_TRAIN_LR_SCHEDULE_H
#define ST_TRAIN_LR_SCHEDULE_H
#include <stdint.h>
#include "base/error.h"

typedef enum {
    LR_CONSTANT, LR_CONSTANT_WITH_WARMUP, LR_LINEAR, LR_COSINE, LR_COSINE_WITH_RESTARTS, LR_POLYNOMIAL, LR_SINE
} LrKind;

typedef struct LrSchedule {
    LrKind kind;
    double base_lr;
    int64_t warmup_steps;   /* lr_warmup_steps */
    int64_t total_steps;    /* max_train_steps */
    double num_cycles;      /* lr_num_cycles */
    double power;           /* lr_power */
    double lr_end;          /* lr_end */
} LrSchedule;

typedef struct LrScheduleKeys {
    const char *lr_scheduler;   /* NULL = constant_with_warmup (SimpleTuner's default) */
    double learning_rate;
    int64_t lr_warmup_steps, max_train_steps;
    double lr_num_cycles, lr_power, lr_end;
} LrScheduleKeys;
/* SimpleTuner's defaults (constant_with_warmup; the numbers from the options table). */
void lr_schedule_keys_init(LrScheduleKeys *k);

const char *lr_schedule_supported_names(void);
/* Errors (EXIT_USAGE) name the key: unknown scheduler (listing the supported ones), negative steps,
 * polynomial with learning_rate <= lr_end, sine without warmup, schedules that need max_train_steps. */
int lr_schedule_init(LrSchedule *s, const LrScheduleKeys *k, Err *e);
double lr_schedule_at(const LrSchedule *s, int64_t k);

#endif
