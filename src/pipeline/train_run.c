/* train_run.c — a training run: the caches, then the trainer (src/train, which knows no model)
 * over the pipeline's denoiser and cached samples, with validation sheets as its hook and its
 * events forwarded as pipeline events. */
#include "pipeline/pipeline_internal.h"
#include "base/files.h"
#include "train/checkpoint.h"
#include "train/train_setup.h"
#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* What a run's validation costs: told before it starts (counts), and measured after the first one
 * (seconds per sampling step, the time the rest will take). */
typedef struct ValidationPlan {
    Pipeline *p;
    int64_t every, max_steps;
    int renders;              /* renders per validation: 2 with use_ema and ema_validation=comparison */
    int base, on_startup;     /* a validation before the first step: at step 0 unless disable_benchmark
                               * (base), at any start with validation_on_startup */
    int announced, measured;
    int64_t done;             /* validations finished in this run */
} ValidationPlan;

static int at_start(const ValidationPlan *v, int64_t from) { return (from == 0 && v->base) || v->on_startup; }

/* Validations from `from` (one before the first step: at_start) to the last step: every `every`
 * steps and at the last. */
static int64_t validations_left(const ValidationPlan *v, int64_t from) {
    int64_t n = at_start(v, from);
    if (v->max_steps > from) n += v->max_steps / v->every - from / v->every + (v->max_steps % v->every ? 1 : 0);
    return n;
}

/* Sheets per validation render and the sampling steps of each. */
static void validation_size(const ValidationPlan *v, int *sheets, int *n_sizes, char *sizes, size_t cap, int64_t *steps) {
    Pipeline *p = v->p;
    int wh[PIPELINE_MAX_SIZES][2];
    Err ignore = {0};
    int n = config_validation_resolutions(p->cfg, wh, PIPELINE_MAX_SIZES, &ignore);
    if (n <= 0) { wh[0][0] = wh[0][1] = 1024; n = 1; }
    size_t k = 0;
    sizes[0] = 0;
    for (int i = 0; i < n && k < cap; i++) k += (size_t)snprintf(sizes + k, cap - k, "%s%dx%d", i ? ", " : "", wh[i][0] / 16 * 16, wh[i][1] / 16 * 16);
    Err e = {0};
    int set = pipeline_eval_set(p, &e);
    int items = set >= 0 ? p->data.sets[set].n_items : 0, images = (int)config_int(p->cfg, "num_eval_images");
    if (images > items) images = items;
    *sheets = images * n * (int)config_int(p->cfg, "num_validation_images");
    *n_sizes = n;
    *steps = config_int(p->cfg, "validation_num_inference_steps");
}

static void announce_plan(ValidationPlan *v, int64_t from) {
    v->announced = 1;
    int sheets, n_sizes, cfg_on = 0;
    int64_t steps;
    char sizes[256];
    validation_size(v, &sheets, &n_sizes, sizes, sizeof sizes, &steps);
    pipeline_guidance_cfg(v->p, &cfg_on);
    int64_t count = validations_left(v, from), per = (int64_t)sheets * v->renders * steps;
    pipeline_emitf(v->p, PEV_INFO,
                   "validation: %lld time%s in this run (%severy %lld steps and at the last), each %d sheet%s (%d image%s x %d size%s: %s)%s "
                   "x %lld sampling steps (%d transformer pass%s each%s) = %lld sampling steps; %lld in all. Fewer with a larger "
                   "validation_step_interval or smaller num_eval_images, validation_num_inference_steps, validation_resolution "
                   "(validation_disable=true: none)",
                   (long long)count, count == 1 ? "" : "s", at_start(v, from) ? (from == 0 ? "step 0, " : "the start, ") : "", (long long)v->every, sheets,
                   sheets == 1 ? "" : "s", sheets / (n_sizes ? n_sizes : 1), sheets / (n_sizes ? n_sizes : 1) == 1 ? "" : "s", n_sizes,
                   n_sizes == 1 ? "" : "s", sizes, v->renders > 1 ? " x 2 (EMA comparison)" : "", (long long)steps, 1 + cfg_on,
                   cfg_on ? "es" : "", cfg_on ? ": CFG" : "", (long long)per, (long long)(per * count));
}

/* Validation images; LyCORIS adapters render at validation_lycoris_strength (SimpleTuner's
 * set_multiplier before validation) and train on at their multiplier. */
static int validate_step(void *ctx, int64_t step, const char *variant, Err *e) {
    ValidationPlan *v = ctx;
    Pipeline *p = v->p;
    if (!v->announced) announce_plan(v, step);
    char *dir = xasprintf("%s/validation/step-%lld%s%s", config_str(p->cfg, "output_dir"), (long long)step, variant ? "/" : "",
                          variant ? variant : "");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (p->lycoris_multiplier) linear_set_lycoris_multiplier(p->tr.linears, (float)config_num(p->cfg, "validation_lycoris_strength"));
    int rc = pipeline_render_eval(p, dir, step, e);
    if (p->lycoris_multiplier) linear_set_lycoris_multiplier(p->tr.linears, p->lycoris_multiplier);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    free(dir);
    if (rc) return rc;
    /* the first finished validation measures what the rest cost */
    int last_render = !variant || v->renders == 1 || !strcmp(variant, "ema");
    if (last_render) v->done++;
    if (!v->measured && last_render) {
        v->measured = 1;
        int sheets, n_sizes;
        int64_t steps;
        char sizes[256];
        validation_size(v, &sheets, &n_sizes, sizes, sizeof sizes, &steps);
        double took = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        int64_t sampled = (int64_t)sheets * steps;
        int64_t rest = validations_left(v, step + 1);
        char a[32], b[32];
        progress_format_duration(took * v->renders, a, sizeof a);
        progress_format_duration(took * v->renders * (double)rest, b, sizeof b);
        pipeline_emitf(p, PEV_INFO, "validation at step %lld took %s (%.2f s per sampling step); the %lld left in this run: about %s",
                       (long long)step, a, sampled ? took / (double)sampled : 0.0, (long long)rest, b);
    }
    return 0;
}

static void forward_event(void *ctx, const TrainEvent *t) {
    ValidationPlan *plan = ctx;
    /* a resumed run validates first at an interval: the plan is told before its first step */
    if (t->kind == TRAIN_EV_START && plan->every > 0 && !plan->announced) announce_plan(plan, t->step);
    static const PipelineEventKind KIND[] = {
        [TRAIN_EV_START] = PEV_TRAIN_START, [TRAIN_EV_RESUMED] = PEV_INFO, [TRAIN_EV_STEP] = PEV_STEP,
        [TRAIN_EV_CHECKPOINT] = PEV_CHECKPOINT, [TRAIN_EV_INTERRUPTED] = PEV_INTERRUPTED,
    };
    char msg[1200] = "";
    if (t->kind == TRAIN_EV_RESUMED) snprintf(msg, sizeof msg, "resumed from %s (step %lld)", t->path, (long long)t->step);
    PipelineEvent ev = {.kind = KIND[t->kind], .step = t->step, .total = t->total, .epoch = t->epoch, .loss = t->loss, .lr = t->lr,
                        .grad_norm = t->grad_norm, .seconds = t->seconds, .path = t->path, .message = msg[0] ? msg : NULL,
                        .done = t->kind == TRAIN_EV_INTERRUPTED ? t->checkpointing : 0};
    pipeline_emit(plan->p, &ev);
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
    /* the VAE's checkpoint pages go too (validation faults back what it decodes with), and the heap
     * the encoders freed is returned to the system rather than kept by malloc for later */
    if (!rc && p->have_vae) vae_release_pages(&p->vae);
    if (!rc) malloc_trim(0);
    if (!rc) rc = pipeline_quantize_base(p, e);
    if (!rc) transformer_bind_denoiser(&p->tr);
    if (!rc) rc = trainer_config_from(p->cfg, &tc, e);
    if (!rc) {
        tc.max_train_steps = train_steps_from_epochs(p->cfg, sampler_batches_per_epoch(&p->data.sampler));
        tc.lr.total_steps = tc.max_train_steps;
        tc.par = p->par;
    }
    /* model_type=full exports a transformer folder: the base's config.json goes beside the weights */
    char *tr_config = NULL;
    if (!rc && !strcmp(tc.weights_file, CKPT_FULL_FILE)) {
        const char *tr_dir = model_dir_require(&p->md, "transformer", e);
        if (!tr_dir) rc = -1;
        else tc.weights_config = tr_config = path_join(tr_dir, "config.json");
    }
    ValidationPlan plan = {.p = p};
    TrainerHooks hooks = {.on_event = forward_event, .event_ctx = &plan, .ema_validation = EMA_VALIDATE_COMPARISON};
    if (!rc && validating) {
        if (pipeline_eval_set(p, e) < 0) rc = -1;
        else {
            hooks.validate = validate_step; hooks.validate_ctx = &plan;
            hooks.validate_every = config_int(p->cfg, "validation_step_interval");
            hooks.ema_validation = ema_validation(p->cfg);
            hooks.no_base_validation = config_bool(p->cfg, "disable_benchmark");
            hooks.validate_on_startup = config_bool(p->cfg, "validation_on_startup");
            plan.every = hooks.validate_every; plan.max_steps = tc.max_train_steps;
            plan.base = !hooks.no_base_validation; plan.on_startup = hooks.validate_on_startup;
            plan.renders = tc.use_ema && hooks.ema_validation == EMA_VALIDATE_COMPARISON ? 2 : 1;
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
    free(tr_config);
    return rc;
}
