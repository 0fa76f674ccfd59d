/* pipeline.c — opening a pipeline from a configuration (model folder, components, transformer with
 * its adapters), events and the default printer, adapters for inference (see pipeline.h). */
#include "pipeline/pipeline_internal.h"
#include "base/files.h"
#include "base/hub.h"
#include "train/checkpoint.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

void pipeline_print_event(void *ctx, const PipelineEvent *ev) {
    Progress *pr = ctx;
    if (!pr->out) progress_init(pr, stderr, 0, 0);
    FILE *f = pr->out;
    switch (ev->kind) {
    case PEV_TRAIN_START: progress_init(pr, stderr, ev->step, ev->total); return;
    case PEV_STEP: progress_step(pr, ev->step, ev->loss, ev->lr, ev->grad_norm); return;
    case PEV_SAMPLING_STEP:
        /* a redrawn counter on a terminal only: logs get no line per sampling step */
        if (!pr->tty) return;
        fprintf(f, "\r  sampling step %lld/%lld\033[K", (long long)ev->done, (long long)ev->total);
        pr->open_line = ev->done < ev->total;
        if (!pr->open_line) fputc('\n', f);
        fflush(f);
        return;
    case PEV_CACHE_PROGRESS:
        if (!pr->tty && ev->done != ev->total && ev->done % 100) return;
        if (pr->tty) { fprintf(f, "\r%s %lld/%lld\033[K", ev->message, (long long)ev->done, (long long)ev->total); pr->open_line = ev->done < ev->total; if (!pr->open_line) fputc('\n', f); fflush(f); return; }
        progress_break(pr);
        fprintf(f, "%s %lld/%lld\n", ev->message, (long long)ev->done, (long long)ev->total);
        return;
    default: break;
    }
    progress_break(pr);
    switch (ev->kind) {
    case PEV_INFO: case PEV_CACHE_DONE: fprintf(f, "%s\n", ev->message); break;
    case PEV_WARNING: fprintf(f, "warning: %s\n", ev->message); break;
    case PEV_CHECKPOINT: fprintf(f, "saved checkpoint %s\n", ev->path); break;
    case PEV_VALIDATION_START:
        fprintf(f, "validation step %lld, image %lld/%lld: %s\n", (long long)ev->step, (long long)ev->done + 1, (long long)ev->total, ev->message);
        break;
    case PEV_VALIDATION_IMAGE: fprintf(f, "  wrote %s\n", ev->path); break;
    case PEV_PREVIEW: break;
    case PEV_INTERRUPTED:
        fprintf(f, "interrupted: saving a checkpoint at step %lld (resume_from_checkpoint=latest continues)\n", (long long)ev->step);
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

/* The trainable part: adapters by peft_lora_target_modules (default to_k/q/v/out.0), their PEFT
 * init from the seed, init_lora; or every weight with model_type=full. */
static int setup_training(Pipeline *p, Err *e) {
    Transformer *t = &p->tr;
    t->checkpointing = config_bool(p->cfg, "gradient_checkpointing");
    t->refs_t0_in_training = p->fam->edit_refs_t0_in_training && p->flavour->max_refs > 0;
    const char *mt = config_str(p->cfg, "model_type");
    if (mt && !strcmp(mt, "full")) return transformer_enable_full_training(t, e);
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
    p->have_vae = 1;
    if (config_bool(p->cfg, "vae_enable_tiling")) p->vae.tiling.tile_px = VAE_TILE_PX_DEFAULT; /* less memory, slightly other latents */
    if (load_scheduler(p, e)) return -1;
    if (quant_parse(config_str(p->cfg, "text_encoder_1_precision"), &p->text_precision, e)) return err_prefix(e, "text_encoder_1_precision");
    if (p->text_precision != QUANT_NONE)
        pipeline_emitf(p, PEV_INFO, "quantising the text encoder to %s (text_encoder_1_precision)", quant_name(p->text_precision));
    if (prompt_encoder_open(&p->pe, &p->md, p->flavour->prompt, p->text_precision, e)) return -1;
    return p->mode == PIPELINE_CACHE ? 0 : setup_transformer(p, e);
}

int pipeline_open(Pipeline **out, Config *cfg, const PipelineOptions *opt, Err *e) {
    Pipeline *p = xcalloc(1, sizeof *p);
    p->cfg = cfg;
    p->mode = opt ? opt->mode : PIPELINE_INFER;
    p->quiet = opt && opt->quiet;
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
    if (linear_set_load_adapters(p->tr.linears, path, scale, e)) return -1;
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
