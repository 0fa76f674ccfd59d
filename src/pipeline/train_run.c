/* train_run.c — a training run: the caches, then the trainer (src/train, which knows no model)
 * over the pipeline's denoiser and cached samples, with validation sheets as its hook and its
 * events forwarded as pipeline events. */
#include "pipeline/pipeline_internal.h"
#include "train/train_setup.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int validate_step(void *ctx, int64_t step, const char *variant, Err *e) {
    Pipeline *p = ctx;
    char *dir = xasprintf("%s/validation/step-%lld%s%s", config_str(p->cfg, "output_dir"), (long long)step, variant ? "/" : "",
                          variant ? variant : "");
    int rc = pipeline_render_eval(p, dir, step, e);
    free(dir);
    return rc;
}

static void forward_event(void *ctx, const TrainEvent *t) {
    static const PipelineEventKind KIND[] = {
        [TRAIN_EV_START] = PEV_TRAIN_START, [TRAIN_EV_RESUMED] = PEV_INFO, [TRAIN_EV_STEP] = PEV_STEP,
        [TRAIN_EV_CHECKPOINT] = PEV_CHECKPOINT, [TRAIN_EV_INTERRUPTED] = PEV_INTERRUPTED,
    };
    char msg[1200] = "";
    if (t->kind == TRAIN_EV_RESUMED) snprintf(msg, sizeof msg, "resumed from %s (step %lld)", t->path, (long long)t->step);
    PipelineEvent ev = {.kind = KIND[t->kind], .step = t->step, .total = t->total, .epoch = t->epoch, .loss = t->loss, .lr = t->lr,
                        .grad_norm = t->grad_norm, .seconds = t->seconds, .path = t->path, .message = msg[0] ? msg : NULL};
    pipeline_emit(ctx, &ev);
}

static EmaValidation ema_validation(const Config *c) {
    const char *ev = config_str(c, "ema_validation");
    if (ev && !strcmp(ev, "none")) return EMA_VALIDATE_NONE;
    if (ev && !strcmp(ev, "ema_only")) return EMA_VALIDATE_ONLY;
    return EMA_VALIDATE_COMPARISON;
}

int pipeline_train(Pipeline *p, TrainSummary *out, Err *e) {
    memset(out, 0, sizeof *out);
    if (p->mode != PIPELINE_TRAIN) return err_set(e, "pipeline_train: the pipeline was opened for inference");
    TrainerConfig tc;
    int rc = pipeline_fill_caches(p, NULL, e);
    const int validating = config_int(p->cfg, "num_eval_images") > 0 && !config_bool(p->cfg, "validation_disable");
    /* training needs no text encoder any more (SimpleTuner frees it too): the validation prompts are
     * encoded now, the encoder released, and only then is the base quantised (which reads all of it)
     * — the two large models are never resident together */
    if (!rc && validating) rc = pipeline_keep_eval_embeds(p, e);
    if (!rc && p->pe) {
        prompt_encoder_close(p->pe);
        p->pe = NULL;
        pipeline_emitf(p, PEV_INFO, "text encoder released after caching%s", validating ? " (validation prompts kept encoded)" : "");
    }
    if (!rc) rc = pipeline_quantize_base(p, e);
    if (!rc) transformer_bind_denoiser(&p->tr);
    if (!rc) rc = trainer_config_from(p->cfg, &tc, e);
    if (!rc) {
        tc.max_train_steps = train_steps_from_epochs(p->cfg, sampler_batches_per_epoch(&p->data.sampler));
        tc.lr.total_steps = tc.max_train_steps;
        tc.par = p->par;
    }
    TrainerHooks hooks = {forward_event, p, NULL, NULL, 0, EMA_VALIDATE_COMPARISON};
    if (!rc && validating) {
        if (pipeline_eval_set(p, e) < 0) rc = -1;
        else {
            hooks.validate = validate_step; hooks.validate_ctx = p;
            hooks.validate_every = config_int(p->cfg, "validation_step_interval");
            hooks.ema_validation = ema_validation(p->cfg);
        }
    }
    SampleSource src = edit_data_source(&p->ed);
    TrainResult res = {0};
    if (!rc) rc = trainer_run(&tc, &p->tr.den, &src, &hooks, &res, e);
    if (!rc) {
        out->steps_done = res.steps_done;
        out->resumed_from = res.resumed_from;
        out->first_loss = res.first_loss;
        out->last_loss = res.last_loss;
        out->interrupted = res.interrupted;
        snprintf(out->final_weights, sizeof out->final_weights, "%s", res.final_weights ? res.final_weights : "");
        snprintf(out->output_dir, sizeof out->output_dir, "%s", tc.output_dir);
        pipeline_emit(p, &(PipelineEvent){.kind = PEV_DONE, .step = res.steps_done, .total = tc.max_train_steps, .path = out->final_weights});
    } else {
        pipeline_emit(p, &(PipelineEvent){.kind = PEV_FAILED, .message = e->msg});
    }
    train_result_free(&res);
    return rc;
}
