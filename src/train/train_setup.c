#include "train/train_setup.h"
#include "train/checkpoint.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *str_or_null(const Config *c, const char *k) {
    const char *s = config_str(c, k);
    return s && *s ? s : NULL;
}

int trainer_config_from(const Config *c, TrainerConfig *t, Err *e) {
    memset(t, 0, sizeof *t);
    t->output_dir = config_str(c, "output_dir");
    t->weights_file = strcmp(config_str(c, "model_type"), "full") ? CKPT_LORA_FILE : CKPT_FULL_FILE;
    t->max_train_steps = config_int(c, "max_train_steps");
    t->train_batch_size = (int)config_int(c, "train_batch_size");
    t->gradient_accumulation_steps = (int)config_int(c, "gradient_accumulation_steps");
    if (t->gradient_accumulation_steps < 1) t->gradient_accumulation_steps = 1;
    t->max_grad_norm = config_has(c, "max_grad_norm") ? config_num(c, "max_grad_norm") : 0;
    if (grad_clip_method_parse(str_or_null(c, "grad_clip_method"), &t->clip_method, e)) return -1;
    t->use_ema = config_bool(c, "use_ema");
    ema_config_init(&t->ema);
    if (config_has(c, "ema_decay")) t->ema.decay = config_num(c, "ema_decay");
    if (config_has(c, "ema_update_interval") && config_int(c, "ema_update_interval") > 0) t->ema.update_interval = config_int(c, "ema_update_interval");
    if (config_has(c, "ema_warmup_steps")) t->ema.warmup_steps = config_int(c, "ema_warmup_steps");
    t->checkpoint_every = config_has(c, "checkpoint_step_interval") ? config_int(c, "checkpoint_step_interval") : 0;
    t->checkpoints_total_limit = config_has(c, "checkpoints_total_limit") ? (int)config_int(c, "checkpoints_total_limit") : 0;
    t->resume_from = str_or_null(c, "resume_from_checkpoint");
    t->seed = config_run_seed(c);

    flow_config_init(&t->flow);
    if (config_has(c, "flow_sigmoid_scale")) t->flow.sigmoid_scale = config_num(c, "flow_sigmoid_scale");
    if (config_has(c, "flow_beta_schedule_alpha")) t->flow.beta_alpha = config_num(c, "flow_beta_schedule_alpha");
    if (config_has(c, "flow_beta_schedule_beta")) t->flow.beta_beta = config_num(c, "flow_beta_schedule_beta");
    if (config_has(c, "flow_schedule_shift")) t->flow.shift = config_num(c, "flow_schedule_shift");
    if (config_has(c, "huber_c")) t->flow.huber_c = config_num(c, "huber_c");
    if (config_has(c, "input_perturbation")) t->flow.input_perturbation = config_num(c, "input_perturbation");
    if (config_has(c, "input_perturbation_steps")) t->flow.input_perturbation_steps = config_int(c, "input_perturbation_steps");
    if (config_has(c, "masked_loss_probability")) {
        t->flow.masked_loss_probability = config_num(c, "masked_loss_probability");
        if (t->flow.masked_loss_probability < 0 || t->flow.masked_loss_probability > 1)
            return err_setc(e, EXIT_USAGE, "masked_loss_probability must be in [0, 1], got %g", t->flow.masked_loss_probability);
    }
    FlowUserKeys fk = {config_bool(c, "flow_use_uniform_schedule"), config_bool(c, "flow_use_beta_schedule"),
                       config_bool(c, "flow_schedule_auto_shift"), str_or_null(c, "loss_type"), str_or_null(c, "huber_schedule")};
    if (flow_config_apply(&t->flow, &fk, e)) return -1;

    OptimUserKeys ok;
    optim_user_keys_init(&ok);
    ok.optimizer = config_str(c, "optimizer");
    ok.optimizer_config = str_or_null(c, "optimizer_config");
    ok.learning_rate = config_num(c, "learning_rate");
    if (config_is_set(c, "optimizer_beta1")) ok.optimizer_beta1 = config_num(c, "optimizer_beta1");
    if (config_is_set(c, "optimizer_beta2")) ok.optimizer_beta2 = config_num(c, "optimizer_beta2");
    if (config_is_set(c, "adam_beta1")) ok.adam_beta1 = config_num(c, "adam_beta1");
    if (config_is_set(c, "adam_beta2")) ok.adam_beta2 = config_num(c, "adam_beta2");
    if (config_is_set(c, "adam_weight_decay")) ok.adam_weight_decay = config_num(c, "adam_weight_decay");
    if (config_is_set(c, "adam_epsilon")) ok.adam_epsilon = config_num(c, "adam_epsilon");
    if (optim_config_resolve(&ok, &t->optim, e)) return -1;

    LrScheduleKeys lk;
    lr_schedule_keys_init(&lk);
    lk.lr_scheduler = str_or_null(c, "lr_scheduler");
    lk.learning_rate = t->optim.lr;
    if (config_has(c, "lr_warmup_steps")) lk.lr_warmup_steps = config_int(c, "lr_warmup_steps");
    lk.max_train_steps = t->max_train_steps;
    if (config_has(c, "lr_num_cycles")) lk.lr_num_cycles = config_num(c, "lr_num_cycles");
    if (config_has(c, "lr_power")) lk.lr_power = config_num(c, "lr_power");
    if (config_has(c, "lr_end")) lk.lr_end = config_num(c, "lr_end");
    if (lr_schedule_init(&t->lr, &lk, e)) return -1;
    return 0;
}

int64_t train_steps_from_epochs(const Config *c, int batches_per_epoch) {
    int64_t steps = config_int(c, "max_train_steps");
    if (steps > 0) return steps;
    int64_t epochs = config_int(c, "num_train_epochs");
    int64_t ga = config_int(c, "gradient_accumulation_steps");
    if (ga < 1) ga = 1;
    return epochs * ((batches_per_epoch + ga - 1) / ga);
}
