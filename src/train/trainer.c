#include "train/trainer.h"
#include "base/crash_point.h"
#include "base/interrupt.h"
#include "base/temp_files.h"
#include "train/loss_plot.h"
#include "train/train_log.h"
#include "base/files.h"
#include "models/latent_pack.h"
#include "train/checkpoint.h"
#include "train/grad_clip.h"
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Growable scratch for one sample's tensors (sizes vary between buckets). */
typedef struct Scratch {
    size_t cap_lat, cap_tok;
    float *eps, *x_sigma, *v, *tokens, *target, *pred, *dpred, *weight;
} Scratch;

static void scratch_fit(Scratch *s, size_t n_lat, size_t n_tok) {
    if (n_lat > s->cap_lat) {
        s->cap_lat = n_lat;
        s->eps = xrealloc(s->eps, n_lat * sizeof(float));
        s->x_sigma = xrealloc(s->x_sigma, n_lat * sizeof(float));
        s->v = xrealloc(s->v, n_lat * sizeof(float));
        s->target = xrealloc(s->target, n_lat * sizeof(float));
        s->pred = xrealloc(s->pred, n_lat * sizeof(float));
        s->dpred = xrealloc(s->dpred, n_lat * sizeof(float));
        s->weight = xrealloc(s->weight, n_lat * sizeof(float));
    }
    if (n_tok > s->cap_tok) { s->cap_tok = n_tok; s->tokens = xrealloc(s->tokens, n_tok * sizeof(float)); }
}

static void scratch_free(Scratch *s) {
    free(s->eps); free(s->x_sigma); free(s->v); free(s->tokens); free(s->target); free(s->pred); free(s->dpred); free(s->weight);
}

/* Forward + backward of one sample; returns its loss through *loss. `scale` multiplies dL/dpred
 * (1 / samples per optimizer step). */
static int train_sample(const TrainerConfig *cfg, Denoiser *m, const TrainSample *s, Rng *rng, int64_t step,
                        double scale, Scratch *sc, double *loss, float *sigma_out, Err *e) {
    if (s->h % 2 || s->w % 2) return err_set(e, "latent %dx%d is not divisible by the 2x2 patch", s->h, s->w);
    if (s->n_refs > DENOISE_MAX_IMAGES - 1) return err_set(e, "%d references; at most %d are supported", s->n_refs, DENOISE_MAX_IMAGES - 1);
    const int C = s->c * 4;
    size_t n_lat = (size_t)s->c * s->h * s->w, n_tok = n_lat;
    for (int r = 0; r < s->n_refs; r++) n_tok += (size_t)s->c * s->ref_h[r] * s->ref_w[r];
    scratch_fit(sc, n_lat, n_tok);

    float sigma;
    flow_sample_sigmas(&cfg->flow, 1, &s->timestep_offset, s->h, s->w, rng, &sigma);
    *sigma_out = sigma;
    rng_fill_normal(rng, sc->eps, n_lat, 0.0f, 1.0f);
    double p = flow_input_perturbation_at(&cfg->flow, step);
    const float *noise = sc->eps;
    if (p > 0) { /* ε̃ = ε + p·ξ for the input only; the target keeps the plain ε */
        rng_fill_normal(rng, sc->v, n_lat, 0.0f, 1.0f);
        for (size_t i = 0; i < n_lat; i++) sc->v[i] = sc->eps[i] + (float)p * sc->v[i];
        noise = sc->v;
    }
    flow_noisy_input(s->x0, noise, sigma, n_lat, sc->x_sigma);
    if (latent_pack(sc->x_sigma, s->c, s->h, s->w, sc->tokens, e)) return -1;
    DenoiseInput in = {0};
    in.n_img = 1 + s->n_refs;
    in.grid_h[0] = s->h / 2; in.grid_w[0] = s->w / 2;
    size_t off = n_lat;
    for (int r = 0; r < s->n_refs; r++) {
        if (latent_pack(s->refs[r], s->c, s->ref_h[r], s->ref_w[r], sc->tokens + off, e)) return -1;
        in.grid_h[r + 1] = s->ref_h[r] / 2; in.grid_w[r + 1] = s->ref_w[r] / 2;
        off += (size_t)s->c * s->ref_h[r] * s->ref_w[r];
    }
    in.channels = C; in.tokens = sc->tokens;
    in.txt_len = s->txt_len; in.txt_dim = s->txt_dim; in.txt = s->txt;
    in.sigma = sigma; in.training = 1; in.rng = rng;
    if (m->forward(m->self, &in, sc->pred, e)) return -1;
    /* the target in token layout: pack(ε − x0) (packing is a permutation, so the mean is unchanged) */
    flow_target(s->x0, sc->eps, n_lat, sc->v);
    if (latent_pack(sc->v, s->c, s->h, s->w, sc->target, e)) return -1;
    size_t plane = (size_t)in.grid_h[0] * in.grid_w[0];
    /* a mask dataset weights each latent cell; the weights follow the packing of the prediction.
     * masked_loss_probability in (0, 1) draws per sample whether the mask applies (no draw at 0 or 1,
     * so those runs keep the random stream of a run without masks) */
    const float *weight = NULL;
    const double mp = cfg->flow.masked_loss_probability;
    if (s->mask && (mp >= 1.0 || (mp > 0.0 && rng_uniform(rng) < mp))) {
        /* sc->v held the unpacked target, already packed: free to hold the mask broadcast over channels */
        for (int ch = 0; ch < s->c; ch++) memcpy(sc->v + (size_t)ch * s->h * s->w, s->mask, (size_t)s->h * s->w * sizeof(float));
        if (latent_pack(sc->v, s->c, s->h, s->w, sc->weight, e)) return -1;
        weight = sc->weight;
    }
    *loss = flow_loss(&cfg->flow, 1, 1, plane * C, sc->pred, sc->target, weight, &sigma, sc->dpred);
    if (!isfinite(*loss))
        return err_set(e, "step %lld: the loss is %g (sigma %.4f): training diverged (learning_rate too high?); stopped "
                          "before the optimizer step, nothing of step %lld is logged or checkpointed",
                       (long long)step + 1, *loss, sigma, (long long)step + 1);
    for (size_t i = 0; i < n_lat; i++) sc->dpred[i] *= (float)scale;
    crash_point("step %lld backward", (long long)step + 1);
    return m->backward(m->self, sc->dpred, e);
}

typedef struct SaveCtx { const TrainerConfig *cfg; Denoiser *m; Ema *ema; } SaveCtx;

#define TRAINABLE_FILE "trainable_parameters.safetensors"

static const char *weights_file(const TrainerConfig *cfg) { return cfg->weights_file ? cfg->weights_file : CKPT_LORA_FILE; }

/* The weights users load, at dir/<weights_file> (its folder made), with the config.json their
 * loaders need beside them when there is one (model_type=full). The path written goes to *path_out
 * when asked for. */
static int export_weights(const TrainerConfig *cfg, Denoiser *m, const char *dir, char **path_out, Err *e) {
    char *path = path_join(dir, weights_file(cfg)), *folder = path_dirname(path);
    int rc = dir_make(folder, e);
    if (!rc) rc = m->save(m->self, path, e);
    if (!rc && cfg->weights_config) {
        size_t n = 0;
        char *text = file_read_all(cfg->weights_config, &n, e), *cfg_path = path_join(folder, "config.json");
        rc = text ? file_write_atomic(cfg_path, text, n, e) : -1;
        free(text); free(cfg_path);
    }
    free(folder);
    if (!rc && path_out) *path_out = path;
    else free(path);
    return rc;
}

/* The exported weights (diffusers LoRA keys, scale folded; or the whole transformer) for users, and
 * the raw trainable parameters under their own names for an exact resume. */
static int write_weights(void *ctx, const char *dir, Err *e) {
    SaveCtx *s = ctx;
    if (export_weights(s->cfg, s->m, dir, NULL, e)) return -1;
    StWriter w; stw_init(&w);
    for (int i = 0; i < s->m->n_params; i++) {
        int64_t n = (int64_t)s->m->params[i].numel;
        stw_add_f32(&w, s->m->params[i].name, 1, &n, s->m->params[i].value);
    }
    char *path = path_join(dir, TRAINABLE_FILE);
    int rc = stw_write(&w, path, e);
    free(path); stw_free(&w);
    return rc;
}

static void emit(const TrainerHooks *h, const TrainEvent *ev) {
    if (h && h->on_event) h->on_event(h->event_ctx, ev);
}

static int save_checkpoint(const TrainerConfig *cfg, const TrainerHooks *h, Denoiser *m, Optimizer *o, Ema *ema, SampleSource *src,
                           const Rng *rng, int64_t step, Err *e) {
    TrainingState ts = {0};
    ts.global_step = step;
    ts.epoch = src->epoch ? src->epoch(src->self) : 0;
    SaveCtx sc = {cfg, m, ema};
    char *sampler = src->state_save ? src->state_save(src->self) : xstrdup("");
    CheckpointBlob rng_blob = {"rng_state", rng, sizeof *rng};
    CheckpointBlob samp_blob = {"sampler_state", sampler, strlen(sampler)};
    CheckpointPart parts[5];
    int n = 0;
    parts[n++] = (CheckpointPart){"trainable weights", write_weights, &sc};
    parts[n++] = checkpoint_part_optimizer(o);
    if (ema) parts[n++] = checkpoint_part_ema(ema);
    parts[n++] = checkpoint_part_blob(&rng_blob);
    parts[n++] = checkpoint_part_blob(&samp_blob);
    char *where = NULL;
    int rc = checkpoint_save(cfg->output_dir, &ts, parts, n, cfg->checkpoints_total_limit, &where, e);
    if (!rc) emit(h, &(TrainEvent){.kind = TRAIN_EV_CHECKPOINT, .step = step, .total = cfg->max_train_steps, .path = where});
    free(where); free(sampler);
    return rc;
}

/* The trainable parameters of a checkpoint, checked whole (every name, size and value finite)
 * before any is copied in. */
static int load_params(Denoiser *m, const char *dir, Err *e) {
    char *wpath = path_join(dir, TRAINABLE_FILE);
    StFile f;
    int rc = st_open(&f, wpath, e), opened = !rc;
    for (int i = 0; i < m->n_params && !rc; i++) {
        const StTensor *t = st_find(&f, m->params[i].name);
        if (!t) rc = err_set(e, "%s: parameter '%s' missing from the checkpoint", wpath, m->params[i].name);
        else if (t->numel != m->params[i].numel || t->dtype != DT_F32)
            rc = err_set(e, "%s: parameter '%s' has %zu %s values, expected %zu F32", wpath, t->name, t->numel, dtype_name(t->dtype), m->params[i].numel);
        else {
            const char *v = t->data;   /* may be unaligned in a damaged file: read by memcpy */
            for (size_t j = 0; j < t->numel && !rc; j++) {
                float x;
                memcpy(&x, v + j * sizeof x, sizeof x);
                if (!isfinite(x)) rc = err_set(e, "%s: parameter '%s' has a non-finite value (%g) at index %zu", wpath, t->name, x, j);
            }
        }
    }
    for (int i = 0; i < m->n_params && !rc; i++)
        memcpy(m->params[i].value, st_find(&f, m->params[i].name)->data, m->params[i].numel * sizeof(float));
    if (opened) st_close(&f);
    free(wpath);
    return rc;
}

/* The checkpoint's exported weights (pytorch_lora_weights.safetensors or transformer/, what users load) must be what
 * its trainable parameters give: the model saves the restored parameters to a temp file and the two
 * are compared tensor by tensor (names, dtypes, shapes, bytes). A damaged, truncated or foreign file
 * is caught here instead of being handed on. */
static int check_exported(const TrainerConfig *cfg, Denoiser *m, const char *dir, Err *e) {
    char *theirs = path_join(dir, weights_file(cfg));
    char *mine = xasprintf("%s/exported-weights-check.tmp.%ld", cfg->output_dir, (long)getpid());
    StFile a, b;
    int rc = m->save(m->self, mine, e), open_a = 0, open_b = 0;
    if (!rc) rc = st_open(&a, mine, e), open_a = !rc;
    if (!rc) rc = st_open(&b, theirs, e), open_b = !rc;
    if (!rc && a.n != b.n) rc = err_set(e, "%s: %d tensors, the checkpoint's parameters give %d", theirs, b.n, a.n);
    for (int i = 0; i < a.n && !rc; i++) {
        const StTensor *x = &a.t[i], *y = st_find(&b, x->name);
        if (!y) rc = err_set(e, "%s: tensor '%s' is missing", theirs, x->name);
        else if (y->dtype != x->dtype || y->ndim != x->ndim || y->nbytes != x->nbytes || memcmp(y->shape, x->shape, (size_t)x->ndim * sizeof *x->shape))
            rc = err_set(e, "%s: tensor '%s' has another dtype or shape than the checkpoint's parameters give", theirs, x->name);
        else if (memcmp(y->data, x->data, x->nbytes))
            rc = err_set(e, "%s: tensor '%s' differs from the checkpoint's trainable parameters", theirs, x->name);
    }
    if (open_a) st_close(&a);
    if (open_b) st_close(&b);
    unlink(mine);
    free(mine); free(theirs);
    return rc;
}

/* Restores weights, optimizer, EMA, RNG and sampler from one checkpoint directory, checking every
 * file; any failure means the checkpoint cannot be used. */
static int resume_from_dir(const TrainerConfig *cfg, Denoiser *m, Optimizer *o, Ema *ema, SampleSource *src, Rng *rng,
                           const char *dir, int64_t *step, Err *e) {
    TrainingState ts = {0};
    if (training_state_read(dir, &ts, e)) return -1;
    int64_t at = ts.global_step;
    training_state_free(&ts);
    if (load_params(m, dir, e) || check_exported(cfg, m, dir, e)) return -1;
    if (checkpoint_load_optimizer(dir, o, e)) return -1;
    if (ema && checkpoint_load_ema(dir, ema, e)) return -1;
    size_t len = 0;
    void *r = checkpoint_read_blob(dir, "rng_state", &len, e);
    if (!r) return -1;
    if (len != sizeof *rng) { free(r); return err_set(e, "%s/rng_state.bin: %zu bytes, expected %zu", dir, len, sizeof *rng); }
    memcpy(rng, r, sizeof *rng);
    free(r);
    char *s = checkpoint_read_blob(dir, "sampler_state", &len, e);
    if (!s) return -1;
    char *txt = xmalloc(len + 1); memcpy(txt, s, len); txt[len] = 0; free(s);
    int rc = src->state_load ? src->state_load(src->self, txt, e) : 0;
    free(txt);
    if (!rc) *step = at;
    return rc;
}

/* resume_from_checkpoint: "latest" takes the highest checkpoint that loads whole, warning about each
 * damaged one it passes over (a kill can only leave complete ones, but disks and users damage files);
 * a named checkpoint must load whole. Every load overwrites all the state, so a failed attempt leaves
 * nothing behind once a later one succeeds. *dir_out is NULL when there is nothing to resume. */
static int resume(const TrainerConfig *cfg, Denoiser *m, Optimizer *o, Ema *ema, SampleSource *src, Rng *rng,
                  int64_t *step, char **dir_out, Err *e) {
    *dir_out = NULL;
    if (strcmp(cfg->resume_from, "latest")) {
        char *dir = NULL;
        if (checkpoint_resolve(cfg->output_dir, cfg->resume_from, &dir, e)) return -1;
        if (resume_from_dir(cfg, m, o, ema, src, rng, dir, step, e)) { free(dir); return err_prefix(e, "resume_from_checkpoint"); }
        *dir_out = dir;
        return 0;
    }
    int64_t *steps;
    int n = checkpoint_list(cfg->output_dir, &steps, e);
    if (n < 0) return -1;
    for (int i = n - 1; i >= 0 && !*dir_out; i--) {
        char *dir = xasprintf("%s/checkpoint-%" PRId64, cfg->output_dir, steps[i]);
        Err why = {0};
        if (!resume_from_dir(cfg, m, o, ema, src, rng, dir, step, &why)) { *dir_out = dir; break; }
        log_warn("%s is damaged and is not resumed from: %s%s", dir, why.msg, i ? "; trying the previous checkpoint" : "");
        free(dir);
    }
    free(steps);
    if (n > 0 && !*dir_out)
        return err_set(e, "resume_from_checkpoint=latest: no checkpoint in %s can be resumed (each one is damaged, see the "
                          "warnings above); move them away to start afresh", cfg->output_dir);
    return 0;
}

/* Temp files of killed runs in output_dir (final weights, loss curve, validation sheets, the logs'
 * rewrite) and unfinished checkpoint directories: nobody will finish them. */
static int clean_leftovers(const char *output_dir, Err *e) {
    int64_t *steps = NULL;
    if (checkpoint_list(output_dir, &steps, e) < 0) return -1;
    free(steps);
    int removed = 0;
    if (temp_files_clean(output_dir, 1, &removed, e)) return -1;
    if (removed) log_warn("removed %d temp file%s left in %s by killed runs", removed, removed == 1 ? "" : "s", output_dir);
    return 0;
}

/* Validation with the weights ema_validation asks for (the EMA ones swapped in and back out). */
static int validate_with_ema(const TrainerHooks *h, Ema *ema, int64_t step, Err *e) {
    if (!ema || h->ema_validation == EMA_VALIDATE_NONE) return h->validate(h->validate_ctx, step, NULL, e);
    int rc = 0;
    if (h->ema_validation == EMA_VALIDATE_COMPARISON) rc = h->validate(h->validate_ctx, step, NULL, e);
    if (rc) return rc;
    ema_swap(ema);
    rc = h->validate(h->validate_ctx, step, h->ema_validation == EMA_VALIDATE_COMPARISON ? "ema" : NULL, e);
    ema_swap(ema);
    return rc;
}

int trainer_run(const TrainerConfig *cfg, Denoiser *m, SampleSource *src, const TrainerHooks *hooks,
                TrainResult *out, Err *e) {
    memset(out, 0, sizeof *out);
    out->resumed_from = -1;
    if (cfg->train_batch_size < 1 || cfg->gradient_accumulation_steps < 1)
        return err_setc(e, EXIT_USAGE, "train_batch_size and gradient_accumulation_steps must be at least 1");
    if (cfg->max_train_steps < 1) return err_setc(e, EXIT_USAGE, "max_train_steps must be at least 1 (got %lld)", (long long)cfg->max_train_steps);
    if (dir_make(cfg->output_dir, e)) return -1;
    Optimizer opt;
    if (optim_init(&opt, &cfg->optim, m->params, m->n_params, cfg->seed, e)) return -1;
    Ema ema_s, *ema = NULL;
    if (cfg->use_ema) {
        if (ema_init(&ema_s, &cfg->ema, m->params, m->n_params, e)) { optim_free(&opt); return -1; }
        ema = &ema_s;
    }
    Rng rng;
    rng_seed_stream(&rng, cfg->seed, 0x7452);
    int64_t step = 0;
    /* data parallel: every rank runs this loop; rank 0 alone writes (logs, checkpoints, sheets, weights) */
    const Parallel *par = cfg->par;
    const int writer = !par || par->rank == 0, ranks = par ? par->size : 1;
    int rc = writer ? clean_leftovers(cfg->output_dir, e) : 0;
    char *resumed_dir = NULL;
    if (!rc && cfg->resume_from && *cfg->resume_from) {
        rc = resume(cfg, m, &opt, ema, src, &rng, &step, &resumed_dir, e);
        if (!rc && resumed_dir) {
            out->resumed_from = step;
            emit(hooks, &(TrainEvent){.kind = TRAIN_EV_RESUMED, .step = step, .total = cfg->max_train_steps, .path = resumed_dir});
        }
    }
    free(resumed_dir);
    /* the steps after the one resumed (or all, when starting afresh) will be trained and logged again */
    TrainLog log = {0};
    if (!rc && writer) rc = train_log_open(&log, cfg->output_dir, step, e);

    /* the step's global batch: train_batch_size per rank */
    const int B = cfg->train_batch_size * ranks, A = cfg->gradient_accumulation_steps;
    TrainSample *batch = xcalloc((size_t)B, sizeof *batch);
    Scratch sc = {0};
    /* one flat buffer for the all-reduce: every gradient, then loss sum, sigma sum, samples, stop */
    size_t n_grad = 0;
    for (int i = 0; i < m->n_params; i++) n_grad += m->params[i].numel;
    float *flat = ranks > 1 ? xmalloc((n_grad + 4) * sizeof(float)) : NULL;
    int stopped = 0;   /* Ctrl-C / SIGTERM before this run's first step: nothing new to checkpoint */
    if (!rc && writer && hooks && hooks->validate && hooks->validate_every > 0 &&
        ((step == 0 && !hooks->no_base_validation) || hooks->validate_on_startup) && !interrupt_requested()) {
        crash_point("validate %lld", (long long)step);
        /* step 0: the untrained weights (the EMA equals them); a resumed step as the interval renders it */
        rc = step == 0 ? hooks->validate(hooks->validate_ctx, 0, NULL, e) : validate_with_ema(hooks, ema, step, e);
        if (rc && e->code == EXIT_INTERRUPTED) { err_clear(e); rc = 0; }   /* the sheet was dropped */
    }
    /* (several ranks stop together after a step, when they have agreed) */
    if (!rc && ranks == 1 && interrupt_requested()) {
        emit(hooks, &(TrainEvent){.kind = TRAIN_EV_INTERRUPTED, .step = step, .total = cfg->max_train_steps, .checkpointing = 0});
        out->interrupted = 1;
        stopped = 1;
    }
    int64_t start_step = step;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (!stopped) emit(hooks, &(TrainEvent){.kind = TRAIN_EV_START, .step = start_step, .total = cfg->max_train_steps});
    char *jsonl_path = path_join(cfg->output_dir, TRAIN_LOG_JSONL), *plot_path = path_join(cfg->output_dir, "loss_curve.png");
    while (!rc && !stopped && step < cfg->max_train_steps) {
        for (int i = 0; i < m->n_params; i++) memset(m->params[i].grad, 0, m->params[i].numel * sizeof(float));
        double loss_sum = 0, sigma_sum = 0;
        int count = 0;
        /* each sample draws its noise from its own stream (step seed, the sample's index among the
         * step's samples): the same numbers whichever rank computes it, and k micro-batches of one
         * equal one batch of k */
        const uint64_t step_seed = rng_u64(&rng);
        uint64_t first = 0;
        for (int a = 0; a < A && !rc; a++) {
            int n = 0;
            if ((rc = src->next_batch(src->self, batch, B, &n, e))) break;
            if (n < 1) { rc = err_set(e, "the dataset produced an empty batch"); break; }
            const double bscale = 1.0 / ((double)n * A);
            int lo, hi;
            parallel_share(par, n, &lo, &hi);
            for (int s = lo; s < hi && !rc; s++) {
                double l = 0; float sig = 0;
                Rng srng;
                rng_seed_stream(&srng, step_seed, first + (uint64_t)s);
                rc = train_sample(cfg, m, &batch[s], &srng, step, bscale, &sc, &l, &sig, e);
                loss_sum += l; sigma_sum += sig; count++;
            }
            first += (uint64_t)n;
        }
        if (rc) break;
        int stop_agreed = 0;
        if (ranks > 1) {
            /* the gradients summed over ranks, and with them the step's statistics and a stop request
             * (Ctrl-C reaches the ranks at different moments; they must stop after the same step) */
            size_t off = 0;
            for (int i = 0; i < m->n_params; i++) { memcpy(flat + off, m->params[i].grad, m->params[i].numel * sizeof(float)); off += m->params[i].numel; }
            int stop_here = interrupt_requested();
            flat[off] = (float)loss_sum; flat[off + 1] = (float)sigma_sum; flat[off + 2] = (float)count; flat[off + 3] = (float)stop_here;
            if ((rc = parallel_sum_floats(par, flat, n_grad + 4, e))) break;
            off = 0;
            for (int i = 0; i < m->n_params; i++) { memcpy(m->params[i].grad, flat + off, m->params[i].numel * sizeof(float)); off += m->params[i].numel; }
            loss_sum = flat[off]; sigma_sum = flat[off + 1]; count = (int)lrintf(flat[off + 2]); stop_agreed = flat[off + 3] > 0;
        }
        double gnorm = cfg->max_grad_norm > 0 ? grad_clip(m->params, m->n_params, cfg->clip_method, cfg->max_grad_norm)
                                              : grad_global_norm(m->params, m->n_params);
        if (!isfinite(gnorm)) {   /* a NaN/Inf gradient would turn every weight into NaN: stop before it lands */
            rc = err_set(e, "step %lld: the gradient norm is %g (loss %g): training diverged (learning_rate too high?); stopped "
                            "before the optimizer step, nothing of step %lld is logged or checkpointed",
                         (long long)step + 1, gnorm, loss_sum / count, (long long)step + 1);
            break;
        }
        double lr = lr_schedule_at(&cfg->lr, step);
        crash_point("step %lld optimizer", (long long)step + 1);
        optim_step(&opt, lr);
        step++;
        if (ema) ema_step(ema, step);
        double loss = loss_sum / count;
        if (out->steps_done == 0 && step == start_step + 1) out->first_loss = loss;
        out->last_loss = loss;
        int64_t epoch = src->epoch ? src->epoch(src->self) : 0;
        TrainLogEntry le = {step, epoch, loss, lr, gnorm, sigma_sum / count};
        if (writer && (rc = train_log_step(&log, &le, e))) break;
        crash_point("step %lld checkpoint", (long long)step);
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        emit(hooks, &(TrainEvent){.kind = TRAIN_EV_STEP, .step = step, .total = cfg->max_train_steps, .epoch = epoch, .loss = loss,
                                  .lr = lr, .grad_norm = gnorm, .seconds = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec)});
        /* validation before the checkpoint of the same step: a run stopped while rendering resumes from
         * the checkpoint before, trains this step again (bit for bit) and renders it again, so a
         * checkpoint's step always has its validation sheets */
        if (writer && hooks && hooks->validate && hooks->validate_every > 0 &&
            (step % hooks->validate_every == 0 || step == cfg->max_train_steps) && !interrupt_requested()) {
            crash_point("validate %lld", (long long)step);
            rc = validate_with_ema(hooks, ema, step, e);
            /* Ctrl-C while rendering: the sheet is dropped, the step is checkpointed below */
            if (rc && e->code == EXIT_INTERRUPTED) { err_clear(e); rc = 0; }
        }
        int ckpt = cfg->checkpoint_every > 0 && step % cfg->checkpoint_every == 0;
        if (!rc && writer && (ckpt || step == cfg->max_train_steps)) {
            rc = train_log_sync(&log, e);
            if (!rc) rc = save_checkpoint(cfg, hooks, m, &opt, ema, src, &rng, step, e);
            if (!rc) rc = loss_plot_write(jsonl_path, plot_path, e);
        }
        /* Ctrl-C / SIGTERM (held pending by main): keep this step in a checkpoint and stop cleanly */
        if (!rc && step < cfg->max_train_steps && (ranks > 1 ? stop_agreed : interrupt_requested())) {
            emit(hooks, &(TrainEvent){.kind = TRAIN_EV_INTERRUPTED, .step = step, .total = cfg->max_train_steps, .checkpointing = !ckpt});
            if (writer && !ckpt) rc = train_log_sync(&log, e);
            if (writer && !ckpt && !rc) rc = save_checkpoint(cfg, hooks, m, &opt, ema, src, &rng, step, e);
            if (writer && !rc) rc = loss_plot_write(jsonl_path, plot_path, e);
            out->interrupted = 1;
            break;
        }
    }
    /* a run resumed at its last step trains nothing: the curve is still drawn from the log */
    if (!rc && writer && step == start_step && file_exists(jsonl_path)) rc = loss_plot_write(jsonl_path, plot_path, e);
    free(jsonl_path); free(plot_path);
    out->steps_done = step;
    if (!rc && !out->interrupted && writer) {
        /* the final weights, as diffusers and ComfyUI load them (EMA weights when EMA is on) */
        crash_point("final-save");
        if (ema) ema_swap(ema);
        rc = export_weights(cfg, m, cfg->output_dir, &out->final_weights, e);
        if (ema) ema_swap(ema);
        /* a kill during the last step's rotation leaves more checkpoints than the limit */
        if (!rc) rc = checkpoint_rotate(cfg->output_dir, step, cfg->checkpoints_total_limit, e);
    }
    if (writer) train_log_close(&log);
    free(batch); free(flat);
    scratch_free(&sc);
    if (ema) ema_free(ema);
    optim_free(&opt);
    return rc;
}

void train_result_free(TrainResult *r) { free(r->final_weights); r->final_weights = NULL; }
