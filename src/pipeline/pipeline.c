/* pipeline.c — opening a pipeline from a configuration (model folder, components, transformer with
 * its adapters), events and the default printer, adapters for inference (see pipeline.h). */
#include "pipeline/pipeline_internal.h"
#include "base/files.h"
#include "base/hub.h"
#include "base/interrupt.h"
#include "config/lycoris_config.h"
#include "models/adapter/lycoris_file.h"
#include "train/checkpoint.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- events ---- */

void pipeline_on_event(Pipeline *p, PipelineEventFn fn, void *ctx) { p->on_event = fn; p->event_ctx = ctx; }
void pipeline_set_parallel(Pipeline *p, const Parallel *par) { p->par = par; }

void pipeline_emit(Pipeline *p, const PipelineEvent *ev) {
    if (p->on_event) p->on_event(p->event_ctx, ev);
    else if (!p->quiet) pipeline_print_event(&p->progress, ev);
}

void pipeline_emitf(Pipeline *p, PipelineEventKind kind, const char *fmt, ...) {
    char msg[1024];
    va_list ap; va_start(ap, fmt); vsnprintf(msg, sizeof msg, fmt, ap); va_end(ap);
    pipeline_emit(p, &(PipelineEvent){.kind = kind, .message = msg});
}

/* " (ETA 1m02s)" into buf, or "" when unknown. */
static const char *eta_text(double eta, char *buf, size_t cap) {
    char d[32];
    if (!(eta >= 0)) { buf[0] = 0; return buf; }
    progress_format_duration(eta, d, sizeof d);
    snprintf(buf, cap, ", ETA %s", d);
    return buf;
}

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Cache progress without a terminal: a line at every tenth of the work and at least once a minute,
 * never one per entry. */
static int cache_line_due(Progress *pr, const PipelineEvent *ev) {
    if (ev->done >= ev->total || ev->done <= 1) return 1;
    int64_t tenth = ev->total / 10 > 0 ? ev->total / 10 : 1;
    if (ev->done % tenth == 0) return 1;
    return now_seconds() - pr->last_line >= 60.0;
}

void pipeline_print_event(void *ctx, const PipelineEvent *ev) {
    Progress *pr = ctx;
    if (!pr->out) progress_init(pr, stderr, 0, 0);
    FILE *f = pr->out;
    char eta[48];
    switch (ev->kind) {
    case PEV_TRAIN_START: progress_init(pr, stderr, ev->step, ev->total); return;
    case PEV_STEP: progress_step(pr, ev->step, ev->loss, ev->lr, ev->grad_norm); return;
    case PEV_SAMPLING_STEP:
        /* a redrawn counter on a terminal only: logs get one line per image (PEV_VALIDATION_IMAGE) */
        if (!pr->tty) return;
        fprintf(f, "\r  sampling step %lld/%lld  %.2f s/step%s\033[K", (long long)ev->done, (long long)ev->total,
                ev->done > 0 ? ev->seconds / (double)ev->done : 0.0, eta_text(ev->eta, eta, sizeof eta));
        pr->open_line = ev->done < ev->total;
        if (!pr->open_line) fputc('\n', f);
        fflush(f);
        return;
    case PEV_CACHE_PROGRESS: {
        double rate = ev->seconds > 0 && ev->done > 0 ? (double)ev->done / ev->seconds : 0;
        eta_text(rate > 0 ? (double)(ev->total - ev->done) / rate : -1, eta, sizeof eta);
        if (pr->tty) {
            fprintf(f, "\r%s %lld/%lld%s\033[K", ev->message, (long long)ev->done, (long long)ev->total, eta);
            pr->open_line = ev->done < ev->total;
            if (!pr->open_line) fputc('\n', f);
            fflush(f);
            return;
        }
        if (!cache_line_due(pr, ev)) return;
        pr->last_line = now_seconds();
        progress_break(pr);
        fprintf(f, "%s %lld/%lld%s\n", ev->message, (long long)ev->done, (long long)ev->total, eta);
        fflush(f);
        return;
    }
    default: break;
    }
    progress_break(pr);
    switch (ev->kind) {
    case PEV_INFO: case PEV_CACHE_DONE: fprintf(f, "%s\n", ev->message); break;
    case PEV_WARNING: fprintf(f, "warning: %s\n", ev->message); break;
    case PEV_CHECKPOINT: fprintf(f, "saved checkpoint %s\n", ev->path); break;
    case PEV_VALIDATION_START:
        if (ev->step >= 0) fprintf(f, "validation step %lld, ", (long long)ev->step);
        else fputs("validation, ", f);   /* validate with a LoRA of unknown step */
        fprintf(f, "image %lld/%lld: %s\n", (long long)ev->done + 1, (long long)ev->total, ev->message);
        break;
    case PEV_VALIDATION_IMAGE: {
        char took[32];
        progress_format_duration(ev->seconds, took, sizeof took);
        fprintf(f, "  wrote %s (%lld/%lld, %s so far%s)\n", ev->path, (long long)ev->done + 1, (long long)ev->total, took,
                ev->done + 1 < ev->total ? eta_text(ev->eta, eta, sizeof eta) : "");
        break;
    }
    case PEV_PREVIEW: break;
    case PEV_INTERRUPTED:
        if (ev->done) fprintf(f, "interrupted: saving a checkpoint at step %lld (resume_from_checkpoint=latest continues)\n", (long long)ev->step);
        else fprintf(f, "interrupted: stopping at step %lld\n", (long long)ev->step);
        break;
    case PEV_DONE: if (ev->message) fprintf(f, "%s\n", ev->message); break;
    case PEV_FAILED: break;   /* the caller reports its error once */
    default: break;
    }
    fflush(f);
}

/* ---- opening ---- */

const Config *pipeline_config(const Pipeline *p) { return p->cfg; }
const ModelFamily *pipeline_family(const Pipeline *p) { return p->fam; }
const FamilyFlavour *pipeline_flavour(const Pipeline *p) { return p->flavour; }
const char *pipeline_model_path(const Pipeline *p) { return p->model_path; }
int pipeline_latent_channels(const Pipeline *p) { return vae_latent_channels(&p->vae); }

static int read_json(const char *path, cJSON **out, Err *e) {
    char *txt = file_read_all(path, NULL, e);
    if (!txt) return -1;
    *out = cJSON_Parse(txt);
    free(txt);
    if (!*out) return err_set(e, "%s: not valid JSON", path);
    return 0;
}

static int load_scheduler(Pipeline *p, Err *e) {
    const char *dir = model_dir_require(&p->md, "scheduler", e);
    if (!dir) return -1;
    char *path = path_join(dir, "scheduler_config.json");
    cJSON *j = NULL;
    int rc = read_json(path, &j, e);
    if (!rc) rc = flowmatch_config_from_json(j, &p->sched, path, e);
    cJSON_Delete(j); free(path);
    return rc;
}

/* lora_type=lycoris: LyCORIS adapters where the lycoris_config selects them (or, with init_lora,
 * those of the file, as SimpleTuner's create_lycoris_from_weights), init_lokr_norm. */
static int setup_lycoris(Pipeline *p, Err *e) {
    LinearSet *ls = p->tr.linears;
    const char *path = config_str(p->cfg, "lycoris_config");
    LycorisConfig lc;
    if (lycoris_config_load(path, &lc, e)) return -1;
    if (lc.warnings) pipeline_emitf(p, PEV_WARNING, "lycoris_config %s: %s", path, lc.warnings);
    if (config_is_set(p->cfg, "lora_dropout") && config_num(p->cfg, "lora_dropout") > 0)
        pipeline_emitf(p, PEV_WARNING, "lora_dropout applies to lora_type=standard; LyCORIS takes dropout, rank_dropout and module_dropout from lycoris_config");
    if (config_is_set(p->cfg, "peft_lora_target_modules"))
        pipeline_emitf(p, PEV_WARNING, "peft_lora_target_modules applies to lora_type=standard; LyCORIS selects modules by lycoris_config's apply_preset");
    const char *init = config_str(p->cfg, "init_lora");
    int rc;
    if (init && *init) {
        rc = linear_set_init_lycoris(ls, init, (float)lc.multiplier, &lc, e);
        if (!rc)
            pipeline_emitf(p, PEV_INFO, "LyCORIS: %d modules from %s (init_lora: the file's modules and kinds, as SimpleTuner's "
                           "create_lycoris_from_weights; lycoris_config's selection and dropouts do not apply)", linear_set_n_adapters(ls), init);
    } else {
        const char *prec = config_str(p->cfg, "base_model_precision");
        LycorisModel m = {p->fam->transformer_class, p->fam->module_classes, NULL, 0, prec && strstr(prec, "quanto") != NULL};
        int counts[3];
        rc = linear_set_attach_lycoris(ls, &lc, m, config_run_seed(p->cfg), counts, e);
        if (!rc) {
            int np = 0;
            const TrainParam *tp = linear_set_params(ls, &np);
            size_t total = 0;
            for (int i = 0; i < np; i++) total += tp[i].numel;
            pipeline_emitf(p, PEV_INFO, "LyCORIS (%s): %d layers (lokr %d, loha %d, lora %d), %zu trainable parameters",
                           path, counts[LYCO_LOKR] + counts[LYCO_LOHA] + counts[LYCO_LORA], counts[LYCO_LOKR], counts[LYCO_LOHA],
                           counts[LYCO_LORA], total);
        }
        if (!rc && config_has(p->cfg, "init_lokr_norm"))
            rc = linear_set_init_lokr_norm(ls, (float)config_num(p->cfg, "init_lokr_norm"), config_run_seed(p->cfg), e);
    }
    if (!rc) p->lycoris_multiplier = (float)lc.multiplier;
    lycoris_config_free(&lc);
    return rc;
}

/* The trainable part: adapters by peft_lora_target_modules (default to_k/q/v/out.0), their PEFT
 * init from the seed, init_lora; LyCORIS adapters (lora_type=lycoris); or every weight with
 * model_type=full. */
static int setup_training(Pipeline *p, Err *e) {
    Transformer *t = &p->tr;
    t->checkpointing = config_bool(p->cfg, "gradient_checkpointing");
    if (!t->checkpointing)
        pipeline_emitf(p, PEV_INFO, "gradient_checkpointing off: every block keeps its activations for the backward pass "
                                    "(more memory, the same numbers)");
    /* the references' training timestep (the config layer refuses the key for other models); sampling
     * always gives every token the same t */
    const char *rt = p->fam->reference_timestep_key;
    t->refs_t0_in_training = rt && p->flavour->max_refs > 0 && !strcmp(config_str(p->cfg, rt), "zero");
    if (rt && p->flavour->max_refs > 0)
        pipeline_emitf(p, PEV_INFO, "%s=%s: training gives the reference tokens %s", rt, config_str(p->cfg, rt),
                       t->refs_t0_in_training ? "t = 0 (SimpleTuner's scheme)" : "the sample's t (as the pipeline samples)");
    const char *mt = config_str(p->cfg, "model_type");
    if (mt && !strcmp(mt, "full")) { p->adapters = PIPELINE_ADAPTERS_FULL; return transformer_enable_full_training(t, e); }
    p->adapters = PIPELINE_ADAPTERS_LORA;
    p->lora_scale = 1.0f;
    const char *lt = config_str(p->cfg, "lora_type");
    if (lt && !strcmp(lt, "lycoris")) return setup_lycoris(p, e);
    const char *targets[64];
    int nt = 0;
    const cJSON *tm = config_json(p->cfg, "peft_lora_target_modules");
    if (cJSON_IsArray(tm))
        for (const cJSON *it = tm->child; it && nt < 64; it = it->next) if (cJSON_IsString(it)) targets[nt++] = it->valuestring;
    int rank = (int)config_int(p->cfg, "lora_rank");
    LoraSpec s = {rank, config_has(p->cfg, "lora_alpha") ? (float)config_num(p->cfg, "lora_alpha") : (float)rank,
                  (float)config_num(p->cfg, "lora_dropout"), nt ? targets : NULL, nt, config_run_seed(p->cfg)};
    if (linear_set_attach_lora(t->linears, &s, e)) return -1;
    const char *init = config_str(p->cfg, "init_lora");
    if (init && *init) {
        if (linear_set_init_adapters(t->linears, init, e)) return -1;
        pipeline_emitf(p, PEV_INFO, "LoRA initialised from %s (init_lora)", init);
    }
    return 0;
}

int pipeline_quantize_base(Pipeline *p, Err *e) {
    QuantKind k = p->pending_quant;
    p->pending_quant = QUANT_NONE;
    if (k == QUANT_NONE || !p->have_tr) return 0;
    pipeline_emitf(p, PEV_INFO, "quantising the transformer base to %s (base_model_precision=%s)", quant_name(k),
                   config_str(p->cfg, "base_model_precision"));
    return linear_set_quantize(p->tr.linears, k, e);
}

static int setup_transformer(Pipeline *p, Err *e) {
    const char *dir = model_dir_require(&p->md, "transformer", e);
    if (!dir || transformer_load(&p->tr, p->fam->transformer, dir, e)) return -1;
    p->have_tr = 1;
    p->tr.linears->model_class = p->fam->transformer_class;   /* recorded in the LoRA files it writes */
    if (interrupt_check(e, "while loading the model")) return -1;
    QuantKind k;
    if (quant_parse(config_str(p->cfg, "base_model_precision"), &k, e)) return -1;
    const char *mt = config_str(p->cfg, "model_type");
    int full = p->mode == PIPELINE_TRAIN && mt && !strcmp(mt, "full");
    if (k != QUANT_NONE && full)
        return err_setc(e, EXIT_USAGE, "base_model_precision=%s quantises the frozen base, but model_type=full trains every weight in f32: "
                        "set base_model_precision=no_change or model_type=lora", config_str(p->cfg, "base_model_precision"));
    /* training quantises after caching (pipeline_train), once the text encoder is released */
    p->pending_quant = k;
    if (p->mode != PIPELINE_TRAIN && pipeline_quantize_base(p, e)) return -1;
    if (p->mode == PIPELINE_TRAIN && setup_training(p, e)) return -1;
    transformer_bind_denoiser(&p->tr);
    return 0;
}

int pipeline_locate_model(const Config *c, char **dir_out, Err *e) {
    const char *name = config_str(c, "pretrained_model_name_or_path");
    if (!name) {
        const ModelFamily *f = family_require(config_str(c, "model_family"), e);
        const FamilyFlavour *fl = f ? family_flavour(f, config_str(c, "model_flavour")) : NULL;
        if (!f) return -1;
        if (!fl) return err_setc(e, EXIT_USAGE, "no model: set pretrained_model_name_or_path (model_flavour %s is not a flavour of %s)",
                                 config_str(c, "model_flavour"), f->name);
        name = fl->hub_id;
    }
    return model_locate_revision(name, config_str(c, "revision"), dir_out, e);
}

/* The model folder's pipeline class (model_index.json "_class_name"), malloc'd; NULL without one. */
static char *folder_pipeline_class(const char *dir) {
    char *idx = path_join(dir, "model_index.json"), *cls = NULL;
    Err ignore = {0};
    char *txt = file_exists(idx) ? file_read_all(idx, NULL, &ignore) : NULL;
    cJSON *j = txt ? cJSON_Parse(txt) : NULL;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "_class_name");
    if (cJSON_IsString(c)) cls = xstrdup(c->valuestring);
    cJSON_Delete(j); free(txt); free(idx);
    return cls;
}

/* "a, b and c": the family's flavours sampled by pipeline class cls. */
static void flavours_of_class(const ModelFamily *f, const char *cls, char *buf, size_t cap) {
    size_t k = 0;
    int n = 0;
    buf[0] = 0;
    for (const FamilyFlavour *v = f->flavours; v->name; v++) n += !strcmp(v->pipeline_class, cls);
    for (const FamilyFlavour *v = f->flavours; v->name && k < cap; v++) {
        if (strcmp(v->pipeline_class, cls)) continue;
        n--;
        k += (size_t)snprintf(buf + k, cap - k, "%s%s", v->name, n > 1 ? ", " : n == 1 ? " or " : "");
    }
}

int pipeline_resolve_flavour(Config *cfg, char **note, Err *e) {
    *note = NULL;
    const ModelFamily *fam = family_require(config_str(cfg, "model_family"), e);
    if (!fam) return -1;
    const char *name = config_str(cfg, "pretrained_model_name_or_path");
    if (!name || !*name) return 0;   /* the flavour's own hub id is the model */
    char *dir = NULL;
    if (model_locate_revision(name, config_str(cfg, "revision"), &dir, e)) return 1;   /* loading reports it */
    char *cls = folder_pipeline_class(dir);
    const FamilyFlavour *fl = NULL;
    const ModelFamily *f = cls ? family_by_pipeline(cls, &fl) : NULL;
    int rc = 0;
    char same[128];
    if (!f) {
        if (!config_is_set(cfg, "model_flavour"))
            *note = xasprintf("model_flavour not set and %s names no pipeline this program knows (%s): the default %s applies", dir,
                              cls ? cls : "no model_index.json", config_str(cfg, "model_flavour"));
    } else if (f != fam) {
        rc = err_setc(e, EXIT_USAGE, "model_family=%s, but %s/model_index.json names %s, a %s model (set model_family=%s, or point "
                      "pretrained_model_name_or_path at a %s folder)", fam->name, dir, cls, f->name, f->name, fam->name);
    } else if (config_is_set(cfg, "model_flavour")) {
        const char *want = config_str(cfg, "model_flavour");
        const FamilyFlavour *mine = family_flavour(fam, want);
        flavours_of_class(fam, cls, same, sizeof same);
        if (mine && strcmp(mine->pipeline_class, cls)) {
            if (!config_bool(cfg, "i_know_what_i_am_doing"))
                rc = err_setc(e, EXIT_USAGE, "model_flavour=%s samples with %s, but %s/model_index.json names %s (model_flavour %s): "
                              "set model_flavour to match the folder (or leave it out), point pretrained_model_name_or_path at a %s "
                              "folder, or set i_know_what_i_am_doing=true to use these weights as %s",
                              want, mine->pipeline_class, dir, cls, same, mine->pipeline_class, want);
            else
                *note = xasprintf("model_flavour=%s samples with %s although %s/model_index.json names %s (i_know_what_i_am_doing)",
                                  want, mine->pipeline_class, dir, cls);
        }
    } else {
        flavours_of_class(fam, cls, same, sizeof same);
        char *why = xasprintf("%s/model_index.json (%s)", dir, cls);
        config_infer(cfg, "model_flavour", fl->name, why);
        *note = xasprintf("model_flavour not set: %s, from %s%s%s%s", fl->name, why, strchr(same, ' ') ? "; " : "",
                          strchr(same, ' ') ? same : "", strchr(same, ' ') ? " use this pipeline: set model_flavour to choose" : "");
        free(why);
    }
    free(cls); free(dir);
    return rc;
}

/* A component taken from another folder or hub id (SimpleTuner's pretrained_*_model_name_or_path):
 * its `sub` folder when it has one (a whole pipeline folder), else the folder itself. The
 * transformer's subfolder is pretrained_transformer_subfolder ("none" = the folder itself). */
static int override_component(Pipeline *p, const char *name, const char *key, const char *sub, Err *e) {
    const char *v = config_str(p->cfg, key);
    if (!v || !*v) return 0;
    if (!strcmp(name, "transformer")) {
        const char *ts = config_str(p->cfg, "pretrained_transformer_subfolder");
        sub = ts && *ts && strcmp(ts, "none") ? ts : NULL;
    }
    char *d = NULL;
    if (model_locate(v, &d, e)) return err_prefix(e, "%s", key);
    char *in = sub ? path_join(d, sub) : NULL;
    int rc = model_dir_override(&p->md, name, in && dir_exists(in) ? in : d, e);
    free(in); free(d);
    return rc ? err_prefix(e, "%s", key) : 0;
}

static int open_components(Pipeline *p, const PipelineOptions *opt, Err *e) {
    char *note = NULL;
    int found = pipeline_resolve_flavour(p->cfg, &note, e);
    if (found < 0) return -1;
    if (found > 0) err_clear(e);   /* no model folder: pipeline_locate_model below says so */
    if (note) pipeline_emitf(p, PEV_INFO, "%s", note);
    free(note);
    const char *family = config_str(p->cfg, "model_family"), *flavour = config_str(p->cfg, "model_flavour");
    if (!(p->fam = family_require(family, e))) return -1;
    if (!(p->flavour = family_flavour(p->fam, flavour))) {
        char list[256];
        return err_setc(e, EXIT_USAGE, "model_flavour=%s: not a flavour of %s (%s)", flavour, family, family_flavour_list(p->fam, list, sizeof list));
    }
    const char *init_lora = config_str(p->cfg, "init_lora"), *mtype = config_str(p->cfg, "model_type");
    if (p->mode == PIPELINE_TRAIN && init_lora && *init_lora && mtype && !strcmp(mtype, "full"))
        return err_setc(e, EXIT_USAGE, "init_lora starts LoRA training from a LoRA file; it does not apply to model_type=full");
    if (pipeline_locate_model(p->cfg, &p->model_path, e) || model_dir_open(&p->md, p->model_path, e)) return -1;
    if (override_component(p, "transformer", "pretrained_transformer_model_name_or_path", "transformer", e) ||
        override_component(p, "vae", "pretrained_vae_model_name_or_path", "vae", e) ||
        override_component(p, "text_encoder", "qwen_text_encoder_model_name_or_path", "text_encoder", e)) return -1;
    for (int i = 0; opt && i < opt->n_components; i++)
        if (model_dir_override(&p->md, opt->component[i], opt->component_dir[i], e)) return -1;
    const char *vdir = model_dir_require(&p->md, "vae", e);
    if (!vdir || vae_load(&p->vae, vdir, e)) return -1;
    /* Ctrl-C while loading: stop between components (nothing is written yet) */
    if (interrupt_check(e, "while loading the model")) return -1;
    p->have_vae = 1;
    if (config_bool(p->cfg, "vae_enable_tiling")) p->vae.tiling.tile_px = VAE_TILE_PX_DEFAULT; /* less memory, slightly other latents */
    if (load_scheduler(p, e)) return -1;
    if (quant_parse(config_str(p->cfg, "text_encoder_1_precision"), &p->text_precision, e)) return err_prefix(e, "text_encoder_1_precision");
    if (p->text_precision != QUANT_NONE)
        pipeline_emitf(p, PEV_INFO, "quantising the text encoder to %s (text_encoder_1_precision)", quant_name(p->text_precision));
    if (prompt_encoder_open(&p->pe, &p->md, p->flavour->prompt, p->text_precision, e)) return -1;
    if (interrupt_check(e, "while loading the model")) return -1;
    return p->mode == PIPELINE_CACHE ? 0 : setup_transformer(p, e);
}

int pipeline_check_datasets(const Config *c, Err *e) {
    const DatasetConfig *ds;
    int n = 0;
    config_datasets(c, &ds, &n);
    char *missing = NULL;
    int images = 0;
    for (int i = 0; i < n; i++) {
        const DatasetConfig *d = &ds[i];
        const char *t = d->dataset_type;
        if (d->disabled || !t || (strcmp(t, "image") && strcmp(t, "conditioning") && strcmp(t, "eval"))) continue;
        images += strcmp(t, "conditioning") != 0;
        const char *dir = d->instance_data_dir;
        char *item = NULL;
        if (!dir || !*dir) item = xasprintf("dataset \"%s\" has no instance_data_dir", d->id);
        else if (!dir_exists(dir)) item = xasprintf("dataset \"%s\": instance_data_dir %s %s", d->id, dir,
                                                    file_exists(dir) ? "is a file, not a folder" : "does not exist");
        if (!item) continue;
        char *joined = missing ? xasprintf("%s; %s", missing, item) : xstrdup(item);
        free(missing); free(item);
        missing = joined;
    }
    if (!missing) return images;
    err_setc(e, EXIT_USAGE, "%s: %s (checked before loading the model)", config_data_file(c), missing);
    free(missing);
    return -1;
}

int pipeline_open(Pipeline **out, Config *cfg, const PipelineOptions *opt, Err *e) {
    Pipeline *p = xcalloc(1, sizeof *p);
    p->cfg = cfg;
    p->mode = opt ? opt->mode : PIPELINE_INFER;
    p->quiet = opt && opt->quiet;
    int uses = opt ? opt->uses_datasets : PIPELINE_DATA_NONE;
    if (uses) {
        int images = pipeline_check_datasets(cfg, e);
        if (images == 0 && uses == PIPELINE_DATA_EVAL)
            err_setc(e, EXIT_USAGE, "nothing to validate: give --image REF and --prompt TEXT (only --prompt for a text-to-image "
                                    "flavour), or an eval dataset (an edit dataset in data_backend_config; eval_dataset_id chooses it)");
        else if (images == 0)
            err_setc(e, EXIT_USAGE, "no image dataset to %s: data_backend_config%s%s lists none (enabled)", p->mode == PIPELINE_TRAIN ? "train on" : "cache",
                     config_data_file(cfg)[0] ? " " : "", config_data_file(cfg));
        if (images <= 0) { pipeline_close(p); *out = NULL; return -1; }
    }
    if (open_components(p, opt, e)) { pipeline_close(p); *out = NULL; return -1; }
    *out = p;
    return 0;
}

void pipeline_close(Pipeline *p) {
    if (!p) return;
    free((char *)p->ed.model_id); free((char *)p->ed.vae_id); free((char *)p->ed.text_dir);
    if (p->have_data) { edit_data_free(&p->ed); data_free(&p->data); }
    if (p->have_specs) data_specs_free(&p->specs);
    free(p->cie_dir);
    for (int i = 0; i < p->n_embed_dirs; i++) free(p->embed_dirs[i]);
    free(p->embed_dirs);
    pipeline_free_eval_embeds(p);
    if (p->have_tr) transformer_free(&p->tr);
    prompt_encoder_close(p->pe);
    if (p->have_vae) vae_free(&p->vae);
    model_dir_close(&p->md);
    free(p->model_path);
    config_free(p->cfg);
    free(p);
}

/* ---- adapters for inference ---- */

int pipeline_load_adapters(Pipeline *p, const char *path, float scale, Err *e) {
    if (!p->have_tr) return err_set(e, "%s: this pipeline was opened without a transformer", path);
    int lyco = lycoris_file_detect(path, e);
    if (lyco < 0 || linear_set_load_adapters(p->tr.linears, path, scale, e)) return -1;
    p->adapters = PIPELINE_ADAPTERS_LORA;
    p->lycoris_loaded = lyco;
    p->lora_scale = scale;
    transformer_bind_denoiser(&p->tr);
    return 0;
}

char *pipeline_newest_adapters(const Pipeline *p) {
    const char *output_dir = config_str(p->cfg, "output_dir");
    if (!output_dir || !*output_dir) return NULL;
    char *final = path_join(output_dir, CKPT_LORA_FILE);
    if (file_exists(final)) return final;
    free(final);
    int64_t *steps = NULL;
    Err e = {0};
    int n = checkpoint_list(output_dir, &steps, &e);
    char *path = NULL;
    if (n > 0) path = xasprintf("%s/checkpoint-%lld/%s", output_dir, (long long)steps[n - 1], CKPT_LORA_FILE);
    free(steps);
    if (path && !file_exists(path)) { free(path); path = NULL; }
    return path;
}

char *pipeline_choose_adapters(const Pipeline *p, const char *lora) {
    if (!lora) return pipeline_newest_adapters(p);
    return strcmp(lora, "none") ? xstrdup(lora) : NULL;
}

/* ---- sizes ---- */

int pipeline_validation_sizes(Pipeline *p, int (*wh)[2], int max, Err *e) {
    int n = config_validation_resolutions(p->cfg, wh, max, e);
    if (n < 0) return -1;
    if (n == 0) { wh[0][0] = wh[0][1] = 1024; n = 1; }
    for (int i = 0; i < n; i++) {
        int w = wh[i][0] / 16 * 16, h = wh[i][1] / 16 * 16;
        if (w != wh[i][0] || h != wh[i][1])
            pipeline_emitf(p, PEV_WARNING, "validation_resolution %dx%d is not a multiple of 16: rendering %dx%d, as the diffusers pipelines do",
                           wh[i][0], wh[i][1], w, h);
        wh[i][0] = w; wh[i][1] = h;
    }
    return n;
}

void pipeline_default_size(const Pipeline *p, const Image *refs, int n_refs, int *w, int *h) {
    family_default_size(p->fam, refs, n_refs, w, h);
}

const char *pipeline_component_dir(const Pipeline *p, const char *name) { return model_dir_path(&p->md, name); }
