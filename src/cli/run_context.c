#include "cli/run_context.h"
#include "base/files.h"
#include "base/hub.h"
#include "cli/tiny_assets.h"
#include "data/image_io.h"
#include "data/image_resize.h"
#include "infer/compose.h"
#include "models/latent_pack.h"
#include "models/qwen25vl/processor.h"
#include "train/train_setup.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static const char *const VALIDATE_FLAGS[] = {"--image", "--prompt", "--negative_prompt", "--seed", "--output", "--lora",
                                             "--lora_scale", "--latents", "--output-tensor", NULL};

static int read_json(const char *path, cJSON **out, Err *e) {
    char *txt = file_read_all(path, NULL, e);
    if (!txt) return -1;
    *out = cJSON_Parse(txt);
    free(txt);
    if (!*out) return err_set(e, "%s: not valid JSON", path);
    return 0;
}

static int load_scheduler(RunContext *r, Err *e) {
    const char *dir = model_dir_require(&r->md, "scheduler", e);
    if (!dir) return -1;
    char *p = path_join(dir, "scheduler_config.json");
    cJSON *j = NULL;
    int rc = read_json(p, &j, e);
    if (!rc) rc = flowmatch_config_from_json(j, &r->sched, p, e);
    cJSON_Delete(j); free(p);
    return rc;
}

/* peft_lora_target_modules as module-name suffixes (0 = the family's defaults). */
static int lora_targets(const Config *c, const char **out, int cap) {
    const cJSON *tm = config_json(c, "peft_lora_target_modules");
    int n = 0;
    if (cJSON_IsArray(tm))
        for (const cJSON *it = tm->child; it && n < cap; it = it->next) if (cJSON_IsString(it)) out[n++] = it->valuestring;
    return n;
}

static int quantize_base(RunContext *r, Err *e) {
    QuantKind k;
    if (quant_parse(config_str(r->cfg, "base_model_precision"), &k, e)) return -1;
    const char *mt = config_str(r->cfg, "model_type");
    if (k == QUANT_NONE || (r->mode == RUN_TRAIN && mt && !strcmp(mt, "full"))) return 0;
    if (!r->quiet) log_info("quantising the transformer base to %s (base_model_precision=%s)", quant_name(k), config_str(r->cfg, "base_model_precision"));
    if (r->have_qi) return qi_quantize_base(&r->qi, k, e);
    r->lc_qs = xcalloc((size_t)r->lc.np, sizeof *r->lc_qs);
    r->n_lc_qs = r->lc.np;
    for (int i = 0; i < r->lc.np; i++)
        if (r->lc.p[i].role == LC_ROLE_LINEAR && weight_quantize_mapped(&r->lc.p[i].w, k, &r->lc_qs[i], r->lc.own_set ? &r->lc.set : NULL, e)) return err_prefix(e, "%s", r->lc.p[i].name);
    return 0;
}

static int setup_longcat(RunContext *r, const char *dir, Err *e) {
    if (lc_load(&r->lc, dir, e)) return -1;
    r->have_lc = 1;
    r->lc.checkpointing = config_bool(r->cfg, "gradient_checkpointing");
    if (quantize_base(r, e)) return -1;
    if (r->mode == RUN_TRAIN) {
        const char *mt = config_str(r->cfg, "model_type");
        if (mt && !strcmp(mt, "full")) lc_enable_full_grads(&r->lc);
        else {
            const char *targets[64];
            int nt = lora_targets(r->cfg, targets, 64);
            int rank = (int)config_int(r->cfg, "lora_rank");
            float alpha = config_has(r->cfg, "lora_alpha") ? (float)config_num(r->cfg, "lora_alpha") : (float)rank;
            if (lc_lora_add(&r->lc, nt ? targets : NULL, nt, rank, alpha, config_has(r->cfg, "seed") ? (uint64_t)config_int(r->cfg, "seed") : 42, e)) return -1;
            r->lc.lora_dropout = (float)config_num(r->cfg, "lora_dropout");
            const char *init = config_str(r->cfg, "init_lora");
            if (init && *init) {
                if (lc_lora_init_from(&r->lc, init, e)) return -1;
                if (!r->quiet) log_info("LoRA initialised from %s (init_lora)", init);
            }
        }
    }
    lc_denoiser_init(&r->ld, &r->lc, &r->den);
    /* SimpleTuner's LongCat edit training: reference tokens at t = 0; the pipeline samples with one t */
    r->ld.per_token_refs = r->mode == RUN_TRAIN && !strcmp(r->flavour, "edit");
    return 0;
}

static int setup_transformer(RunContext *r, Err *e) {
    const char *dir = model_dir_require(&r->md, "transformer", e);
    if (!dir) return -1;
    if (!strcmp(r->family, "longcat_image")) return setup_longcat(r, dir, e);
    if (qi_load(&r->qi, dir, e)) return -1;
    r->have_qi = 1;
    if (quantize_base(r, e)) return -1;
    if (r->mode != RUN_TRAIN) { qi_denoiser_init(&r->qd, &r->qi, &r->den); return 0; }
    r->qi.checkpointing = config_bool(r->cfg, "gradient_checkpointing");
    const char *mt = config_str(r->cfg, "model_type");
    if (mt && !strcmp(mt, "full")) {
        if (qi_train_full(&r->qi, e)) return -1;
    } else {
        const char *targets[64];
        int nt = lora_targets(r->cfg, targets, 64);
        QiLoraSpec s = {(int)config_int(r->cfg, "lora_rank"), config_has(r->cfg, "lora_alpha") ? (float)config_num(r->cfg, "lora_alpha") : 0.0f,
                        (float)config_num(r->cfg, "lora_dropout"), targets, nt};
        Rng rng; rng_seed_stream(&rng, config_has(r->cfg, "seed") ? (uint64_t)config_int(r->cfg, "seed") : 42, 0x10a);
        if (qi_lora_attach(&r->qi, &s, &rng, e)) return -1;
        const char *init = config_str(r->cfg, "init_lora");
        if (init && *init) {
            if (qi_lora_init_from(&r->qi, init, e)) return -1;
            if (!r->quiet) log_info("LoRA initialised from %s (init_lora)", init);
        }
    }
    qi_denoiser_init(&r->qd, &r->qi, &r->den);
    return 0;
}

/* A component taken from another folder or hub id (SimpleTuner's pretrained_*_model_name_or_path):
 * its `sub` folder when it has one (a whole pipeline folder), else the folder itself. The
 * transformer's subfolder is pretrained_transformer_subfolder ("none" = the folder itself). */
static int override_component(RunContext *r, const char *name, const char *key, const char *sub, Err *e) {
    const char *v = config_str(r->cfg, key);
    if (!v || !*v) return 0;
    if (!strcmp(name, "transformer")) {
        const char *ts = config_str(r->cfg, "pretrained_transformer_subfolder");
        sub = ts && *ts && strcmp(ts, "none") ? ts : NULL;
    }
    char *d = NULL;
    if (model_locate(v, &d, e)) return err_prefix(e, "%s", key);
    char *in = sub ? path_join(d, sub) : NULL;
    int rc = model_dir_override(&r->md, name, in && dir_exists(in) ? in : d, e);
    free(in); free(d);
    return rc ? err_prefix(e, "%s", key) : 0;
}

int run_context_open(RunContext *r, int argc, char **argv, RunMode mode, Err *e) {
    return run_context_open_with(r, argc, argv, mode, NULL, e);
}

int run_context_open_with(RunContext *r, int argc, char **argv, RunMode mode, const RunOverrides *ov, Err *e) {
    memset(r, 0, sizeof *r);
    r->mode = mode;
    ConfigLoadOptions opt = {0};
    if (mode == RUN_VALIDATE) { opt.command_flags = VALIDATE_FLAGS; opt.allow_missing_required = 1; }
    if (ov && ov->args_only) { opt.args_only = 1; opt.skip_datasets = 1; opt.quiet = 1; }
    if (tiny_assets_ensure(tiny_example_in_args(argc, argv), e)) return -1;
    if (config_load_with(&r->cfg, argc, argv, &opt, e)) return -1;
    r->family = config_str(r->cfg, "model_family");
    r->flavour = config_str(r->cfg, "model_flavour");
    if (!r->family) return err_setc(e, EXIT_USAGE, "model_family is required (qwen_image or longcat_image)");
    if (strcmp(r->family, "qwen_image") && strcmp(r->family, "longcat_image"))
        return err_setc(e, EXIT_USAGE, "not supported yet: model_family=%s (supported: qwen_image, longcat_image)", r->family);
    if (!r->flavour) r->flavour = !strcmp(r->family, "qwen_image") ? "v1.0" : "final";
    const char *init_lora = config_str(r->cfg, "init_lora"), *mtype = config_str(r->cfg, "model_type");
    if (mode == RUN_TRAIN && init_lora && *init_lora && mtype && !strcmp(mtype, "full"))
        return err_setc(e, EXIT_USAGE, "init_lora starts LoRA training from a LoRA file; it does not apply to model_type=full");
    if (config_model_dir(r->cfg, &r->model_path, e)) return -1;
    if (model_dir_open(&r->md, r->model_path, e)) return -1;
    if (override_component(r, "transformer", "pretrained_transformer_model_name_or_path", "transformer", e) ||
        override_component(r, "vae", "pretrained_vae_model_name_or_path", "vae", e) ||
        override_component(r, "text_encoder", "qwen_text_encoder_model_name_or_path", "text_encoder", e)) return -1;
    for (int i = 0; ov && i < ov->n_components; i++)
        if (model_dir_override(&r->md, ov->component[i], ov->dir[i], e)) return -1;
    const char *vdir = model_dir_require(&r->md, "vae", e);
    if (!vdir || vae_load(&r->vae, vdir, e)) return -1;
    r->have_vae = 1;
    if (config_bool(r->cfg, "vae_enable_tiling")) r->vae.tiling.tile_px = VAE_TILE_PX_DEFAULT; /* less memory, slightly other latents */
    if (load_scheduler(r, e)) return -1;
    QuantKind tq;
    if (quant_parse(config_str(r->cfg, "text_encoder_1_precision"), &tq, e)) return err_prefix(e, "text_encoder_1_precision");
    if (tq != QUANT_NONE && !r->quiet) log_info("quantising the text encoder to %s (text_encoder_1_precision)", quant_name(tq));
    r->text_precision = tq;
    if (prompt_encoder_open(&r->pe, &r->md, r->family, r->flavour, tq, e)) return -1;
    return setup_transformer(r, e);
}

void run_context_close(RunContext *r) {
    if (r->have_data) { edit_data_free(&r->ed); data_free(&r->data); }
    if (r->have_specs) data_specs_free(&r->specs);
    free(r->cie_dir);
    if (r->have_qi) { qi_denoiser_free(&r->qd); qi_free(&r->qi); }
    if (r->have_lc) { lc_denoiser_free(&r->ld); lc_free(&r->lc); }
    for (int i = 0; i < r->n_lc_qs; i++) quant_storage_free(&r->lc_qs[i]);
    free(r->lc_qs);
    prompt_encoder_close(r->pe);
    if (r->have_vae) vae_free(&r->vae);
    model_dir_close(&r->md);
    free(r->model_path);
    config_free(r->cfg);
    memset(r, 0, sizeof *r);
}

/* ---- validation rendering ---- */

int validation_size(const Config *c, int *w, int *h, Err *e) {
    const char *s = config_str(c, "validation_resolution");
    if (!s || !*s) s = "1024";
    char first[64];
    size_t n = strcspn(s, ",");
    if (n >= sizeof first) n = sizeof first - 1;
    memcpy(first, s, n); first[n] = 0;
    int a, b;
    double mp;
    if (sscanf(first, "%dx%d", &a, &b) == 2) { *w = a; *h = b; }
    else if (sscanf(first, "%lf", &mp) == 1) {
        if (mp < 128) { int side = (int)lrint(sqrt(mp * 1e6) / 16.0) * 16; *w = *h = side; }
        else *w = *h = (int)mp;
    } else return err_setc(e, EXIT_USAGE, "validation_resolution: expected WxH, a pixel edge or megapixels, got '%s'", s);
    *w = (*w / 16) * 16; *h = (*h / 16) * 16;
    if (*w < 16 || *h < 16) return err_setc(e, EXIT_USAGE, "validation_resolution '%s' is smaller than 16 pixels", s);
    return 0;
}

/* The size a pipeline VAE-encodes a reference at: ~1 MP with the reference's aspect, or the
 * target's area with model_kwargs {"match_target_res": true} (as the Qwen edit quickstart offers). */
static void reference_vae_size(const RunContext *r, const Image *ref, int W, int H, int *w, int *h) {
    double ratio = (double)ref->width / ref->height;
    const cJSON *mk = config_extra(r->cfg, "model_kwargs");
    double area = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(mk, "match_target_res")) ? (double)W * H : 1024.0 * 1024.0;
    if (!strcmp(r->family, "longcat_image")) longcat_calculate_dimensions(area, ratio, w, h);
    else qwenimage_calculate_dimensions(area, ratio, w, h);
}

typedef struct Predict {
    RunContext *r;
    float *tokens;              /* [N, C]: target tokens then reference tokens */
    size_t n_target, channels;
    DenoiseInput in;
    const float *pos, *neg;
    int pos_len, neg_len, dim;
    const Trace *trace;         /* the job's trace, scoped per step */
    const float *timesteps;     /* the schedule (tracing, previews) */
    const float *sigmas;
    const char *preview_prefix; /* validation_preview: "<prefix>step-<k>.png" every preview_every steps */
    int preview_every, latent_h, latent_w;
} Predict;

static int predict(void *ctx, const float *x, float timestep, int positive, float *v, Err *e) {
    Predict *p = ctx;
    memcpy(p->tokens, x, p->n_target * p->channels * sizeof(float));
    p->in.txt = positive ? p->pos : p->neg;
    p->in.txt_len = positive ? p->pos_len : p->neg_len;
    p->in.sigma = timestep / 1000.0f;
    return p->r->den.forward(p->r->den.self, &p->in, v, e);
}

/* After each step: the progress line, and (tracing) the step's predictions and latents under
 * the pipelines' names "step<i>.<what>". */
/* The pipelines' post-processing of a decoded image [3, H, W] in [-1, 1]: in place to [0, 1]
 * (output_type "pt"), and the 8-bit RGB image of that (round(x * 255)). */
static Image postprocess_image(float *chw, int W, int H) {
    size_t hw = (size_t)W * H;
    for (size_t i = 0; i < 3 * hw; i++) chw[i] = fminf(fmaxf(chw[i] * 0.5f + 0.5f, 0.0f), 1.0f);
    Image im = {W, H, 3, xmalloc(hw * 3)};
    for (size_t i = 0; i < hw; i++)
        for (int c = 0; c < 3; c++) im.data[i * 3 + c] = (uint8_t)lrintf(chw[c * hw + i] * 255.0f);
    return im;
}

/* validation_preview: the clean image the model predicts after this step, x0 = x - sigma_next * v
 * (exact for flow matching), decoded and written; a failure only warns, sampling goes on. */
static void write_preview(Predict *p, int step, const float *x, const float *v) {
    const int C = vae_latent_channels(&p->r->vae), h = p->latent_h, w = p->latent_w;
    size_t len = p->n_target * p->channels;
    float *x0 = xmalloc(len * sizeof(float)), *z = xmalloc(len * sizeof(float)), *img = xmalloc((size_t)3 * 64 * h * w * sizeof(float));
    for (size_t i = 0; i < len; i++) x0[i] = x[i] - p->sigmas[step + 1] * v[i];
    Err e = {0};
    char *path = xasprintf("%sstep-%02d.png", p->preview_prefix, step + 1);
    int rc = latent_unpack(x0, C, h, w, z, &e);
    if (!rc) rc = vae_decode(&p->r->vae, z, h, w, img, &e);
    if (!rc) {
        Image im = postprocess_image(img, 8 * w, 8 * h);
        rc = image_write_png(path, &im, &e);
        image_free(&im);
    }
    if (rc) log_warn("validation preview %s: %s", path, e.msg);
    free(path); free(x0); free(z); free(img);
}

static void on_step(void *ctx, int step, int n, const float *x, const float *vc, const float *vu, const float *v) {
    Predict *p = ctx;
    if (!p->r->quiet) { fprintf(stderr, "\r  sampling step %d/%d", step + 1, n); if (step + 1 == n) fputc('\n', stderr); }
    if (p->preview_prefix && ((step + 1) % p->preview_every == 0 || step + 1 == n)) write_preview(p, step, x, v);
    if (!trace_on(p->trace)) return;
    char scope[32];
    snprintf(scope, sizeof scope, "step%d", step);
    Trace t = trace_scope(p->trace, scope);
    int64_t sh[3] = {1, (int64_t)p->n_target, (int64_t)p->channels}, one = 1;
    float ts = p->timesteps[step] / 1000.0f;
    trace_f32(&t, "timestep", 1, &one, &ts);
    trace_f32(&t, "noise_pred_cond", 3, sh, vc);
    if (vu) trace_f32(&t, "noise_pred_uncond", 3, sh, vu);
    trace_f32(&t, "noise_pred", 3, sh, v);   /* the prediction the step used (= cond without CFG) */
    trace_f32(&t, "latents", 3, sh, x);
}

static float guidance_of(RunContext *r, CfgMode *mode) {
    if (!strcmp(r->family, "qwen_image")) {
        *mode = CFG_NORM_MATCH;
        double real = config_num(r->cfg, "validation_guidance_real");
        if (real > 1) return (float)real;
        if (config_is_set(r->cfg, "validation_guidance")) return (float)config_num(r->cfg, "validation_guidance");
        return 4.0f;
    }
    /* LongCat's text-to-image pipeline renormalises the guided prediction; its edit pipeline does not */
    *mode = strstr(r->flavour, "edit") ? CFG_PLAIN : CFG_RENORM_CLAMP;
    return (float)config_num(r->cfg, "validation_guidance");
}

void run_context_default_size(const RunContext *r, const Image *refs, int n_refs, int *w, int *h) {
    if (n_refs < 1) { *w = *h = 1024; return; }
    if (!strcmp(r->family, "longcat_image")) {
        longcat_calculate_dimensions(1024.0 * 1024.0, (double)refs[0].width / refs[0].height, w, h);
        return;
    }
    const Image *last = &refs[n_refs - 1];   /* QwenImageEditPlusPipeline sizes from the last image */
    qwenimage_calculate_dimensions(1024.0 * 1024.0, (double)last->width / last->height, w, h);
    *w = *w / 16 * 16; *h = *h / 16 * 16;
}

int run_context_render(RunContext *r, const ValidationJob *job, Image *result, float **tensor, Err *e) {
    int W = job->width, H = job->height;
    if (W <= 0 || H <= 0) run_context_default_size(r, job->refs, job->n_refs, &W, &H);
    const int C = vae_latent_channels(&r->vae), h = H / 8, w = W / 8;
    if (W % 16 || H % 16) return err_setc(e, EXIT_USAGE, "validation size %dx%d must be a multiple of 16", W, H);
    const Trace *tr = job->trace;
    /* sampling follows the pipelines, where every token gets the same t: LongCat's per-token
     * reference timesteps are SimpleTuner's training conditioning only, so in-training
     * validation shows what diffusers and ComfyUI will make of the LoRA */
    const int per_token_refs = r->ld.per_token_refs;
    r->ld.per_token_refs = 0;
    Predict p = {0};
    p.r = r; p.channels = (size_t)C * 4; p.n_target = (size_t)(h / 2) * (w / 2); p.trace = tr;
    float *pos = NULL, *neg = NULL, *ref_lat[3] = {0}, *noise = NULL, *x = NULL, *img = NULL;
    Trace tp = trace_scope(tr, "prompt"), tn = trace_scope(tr, "negative");
    int rc = prompt_encoder_embed(r->pe, job->prompt, job->refs, job->n_refs, &tp, &pos, &p.pos_len, &p.dim, e);
    CfgMode mode;
    float g = guidance_of(r, &mode);
    int use_uncond = g > 1.0f && !config_bool(r->cfg, "validation_disable_unconditional");
    if (!rc && use_uncond)
        rc = prompt_encoder_embed(r->pe, job->negative ? job->negative : "", job->refs, job->n_refs, &tn, &neg, &p.neg_len, &p.dim, e);
    size_t N = p.n_target;
    int rw[3], rh[3];
    for (int k = 0; k < job->n_refs && !rc; k++) {
        reference_vae_size(r, &job->refs[k], W, H, &rw[k], &rh[k]);
        Image rs = {0};
        if ((rc = image_resize_lanczos(&job->refs[k], rw[k], rh[k], &rs, e))) break;
        float *chw = xmalloc((size_t)3 * rw[k] * rh[k] * sizeof(float));
        image_to_chw(&rs, chw);
        ref_lat[k] = xmalloc((size_t)C * (rh[k] / 8) * (rw[k] / 8) * sizeof(float));
        rc = vae_encode(&r->vae, chw, rh[k], rw[k], VAE_LATENT_MODE, NULL, ref_lat[k], e);
        free(chw); image_free(&rs);
        N += (size_t)(rh[k] / 16) * (rw[k] / 16);
    }
    if (!rc) {
        p.tokens = xmalloc(N * p.channels * sizeof(float));
        size_t off = p.n_target * p.channels;
        p.in.n_img = 1 + job->n_refs;
        p.in.grid_h[0] = h / 2; p.in.grid_w[0] = w / 2;
        for (int k = 0; k < job->n_refs && !rc; k++) {
            rc = latent_pack(ref_lat[k], C, rh[k] / 8, rw[k] / 8, p.tokens + off, e);
            p.in.grid_h[k + 1] = rh[k] / 16; p.in.grid_w[k + 1] = rw[k] / 16;
            off += (size_t)(rh[k] / 16) * (rw[k] / 16) * p.channels;
        }
        int64_t sh[3] = {1, (int64_t)(N - p.n_target), (int64_t)p.channels};
        if (!rc && job->n_refs) trace_f32(tr, "image_latents", 3, sh, p.tokens + p.n_target * p.channels);
        p.in.channels = (int)p.channels; p.in.tokens = p.tokens; p.in.txt_dim = p.dim; p.in.training = 0;
        p.in.trace = tr;
        p.pos = pos; p.neg = neg;
    }
    if (!rc) {
        noise = xmalloc((size_t)C * h * w * sizeof(float));
        x = xmalloc(p.n_target * p.channels * sizeof(float));
        if (job->latents) memcpy(x, job->latents, p.n_target * p.channels * sizeof(float));
        else {
            Rng rng; rng_seed(&rng, job->seed);
            rng_fill_normal(&rng, noise, (size_t)C * h * w, 0, 1);
            rc = latent_pack(noise, C, h, w, x, e);
        }
    }
    float *sig = NULL, *ts = NULL;
    if (!rc) {
        SamplerConfig sc = {0};
        sc.sched = r->sched;
        sc.steps = (int)config_int(r->cfg, "validation_num_inference_steps");
        sc.mu = flowmatch_calculate_shift(&r->sched, (double)p.n_target);
        sc.guidance = g; sc.use_uncond = use_uncond; sc.cfg_mode = mode; sc.renorm_min = 0.0f;
        if ((trace_on(tr) || job->preview_prefix) && sc.steps > 0) {
            /* the schedule as the pipeline reports it (sampler_run derives the same one) */
            int n = sc.steps;
            double *sin = xmalloc((size_t)n * sizeof(double));
            sig = xmalloc((size_t)(n + 1) * sizeof(float)); ts = xmalloc((size_t)n * sizeof(float));
            flowmatch_default_sigmas(n, sin);
            flowmatch_set_timesteps(&r->sched, n, NULL, sc.mu, sig, ts);
            int64_t one = 1, sn = n, sn1 = n + 1;
            trace_f64(tr, "mu", 1, &one, &sc.mu);
            trace_f64(tr, "sigmas_in", 1, &sn, sin);
            trace_f32(tr, "sigmas", 1, &sn1, sig);
            trace_f32(tr, "timesteps", 1, &sn, ts);
            p.timesteps = ts; p.sigmas = sig;
            free(sin);
        }
        if (job->preview_prefix && sig) {
            p.preview_prefix = job->preview_prefix; p.latent_h = h; p.latent_w = w;
            p.preview_every = (int)config_int(r->cfg, "validation_preview_steps");
            if (p.preview_every < 1) p.preview_every = 1;
        }
        rc = sampler_run(&sc, predict, &p, on_step, &p, x, p.n_target, p.channels, e);
    }
    if (!rc) rc = latent_unpack(x, C, h, w, noise, e);
    if (!rc) {
        img = xmalloc((size_t)3 * W * H * sizeof(float));
        rc = vae_decode_traced(&r->vae, noise, h, w, tr, img, e);
    }
    if (!rc) {
        *result = postprocess_image(img, W, H);
        int64_t sh[4] = {1, 3, H, W};
        trace_f32(tr, "image", 4, sh, img);
        if (tensor) { *tensor = img; img = NULL; }
    }
    for (int k = 0; k < 3; k++) free(ref_lat[k]);
    free(pos); free(neg); free(noise); free(x); free(img); free(p.tokens); free(sig); free(ts);
    r->ld.per_token_refs = per_token_refs;
    return rc;
}

/* ---- in-training validation ---- */

static int find_eval_set(RunContext *r, Err *e);

int run_context_render_eval(RunContext *r, const char *dir, int64_t step, Err *e) {
    int W, H;
    if (validation_size(r->cfg, &W, &H, e)) return -1;
    if (!r->have_data) {
        if (!r->have_specs) { if (data_specs_from_config(r->cfg, 0, &r->specs, e)) return -1; r->have_specs = 1; }
        if (data_load(r->specs.specs, r->specs.n, &r->specs.opt, &r->data, e)) return -1;
        r->have_data = 1;
    }
    int set = find_eval_set(r, e);
    if (set < 0) return -1;
    const Dataset *ds = &r->data.sets[set];
    int n = (int)config_int(r->cfg, "num_eval_images");
    if (n > ds->n_items) n = ds->n_items;
    int rc = dir_make(dir, e);
    for (int i = 0; i < n && !rc; i++) {
        Image refs[3] = {{0}};
        int nr = 0;
        for (int k = 0; k < ds->n_cond && nr < 3 && !rc; k++) {
            const Dataset *cs = &r->data.sets[ds->cond[k]];
            if (cs->spec.conditioning_type == COND_MASK) continue;   /* a loss mask is no model input */
            char *p = path_join(cs->spec.instance_data_dir, cs->items[ds->items[i].refs[k].item].rel);
            rc = image_read(p, &refs[nr], e);
            free(p);
            if (!rc) nr++;
        }
        const char *prompt = config_has(r->cfg, "validation_prompt") && *config_str(r->cfg, "validation_prompt")
                                 ? config_str(r->cfg, "validation_prompt")
                                 : (ds->items[i].captions.n ? ds->items[i].captions.text[0] : "");
        char *preview = config_bool(r->cfg, "validation_preview") ? xasprintf("%s/preview/%02d.", dir, i) : NULL;
        if (preview && !rc) { char *pd = path_join(dir, "preview"); rc = dir_make(pd, e); free(pd); }
        ValidationJob job = {prompt, config_str(r->cfg, "validation_negative_prompt"), refs, nr, W, H,
                             config_has(r->cfg, "validation_seed") ? (uint64_t)config_int(r->cfg, "validation_seed") : 42, NULL, NULL,
                             preview};
        Image out = {0};
        if (!rc) {
            if (!r->quiet) fprintf(stderr, "validation step %lld, image %d/%d: %s\n", (long long)step, i + 1, n, prompt);
            rc = run_context_render(r, &job, &out, NULL, e);
        }
        free(preview);
        if (!rc) {
            Image row[4];
            for (int k = 0; k < nr; k++) row[k] = refs[k];
            row[nr] = out;
            Image sheet = compose_sheet(row, nr + 1, prompt);
            char *p = xasprintf("%s/%02d.png", dir, i);
            rc = image_write_png(p, &sheet, e);
            free(p); image_free(&sheet);
        }
        image_free(&out);
        for (int k = 0; k < nr; k++) image_free(&refs[k]);
    }
    return rc;
}

static int validate_step(void *ctx, int64_t step, const char *variant, Err *e) {
    RunContext *r = ctx;
    char *dir = xasprintf("%s/validation/step-%lld%s%s", config_str(r->cfg, "output_dir"), (long long)step, variant ? "/" : "",
                          variant ? variant : "");
    int rc = run_context_render_eval(r, dir, step, e);
    free(dir);
    return rc;
}

static int find_eval_set(RunContext *r, Err *e) {
    const char *id = config_str(r->cfg, "eval_dataset_id");
    for (int i = 0; i < r->data.n; i++) {
        const Dataset *d = &r->data.sets[i];
        if (d->spec.is_conditioning || d->spec.disabled) continue;
        if (!id || !*id || !strcmp(d->spec.id, id)) return i;
    }
    if (id && *id) return err_setc(e, EXIT_USAGE, "eval_dataset_id: no image dataset with id '%s'", id);
    return err_set(e, "no image dataset to validate with");
}

/* Where prompt embeddings are cached: the cache_dir of the default text_embeds dataset (as
 * SimpleTuner's multidatabackend.json names it), else cache_dir_text when set, else
 * <cache_dir>/text/<family>. */
static char *text_cache_dir(const RunContext *r) {
    const DatasetConfig *ds; int n = 0;
    config_datasets(r->cfg, &ds, &n);
    const DatasetConfig *pick = NULL;
    for (int i = 0; i < n; i++)
        if (ds[i].dataset_type && !strcmp(ds[i].dataset_type, "text_embeds") && !ds[i].disabled && ds[i].cache_dir && *ds[i].cache_dir)
            if (!pick || ds[i].is_default) pick = &ds[i];
    if (pick) return xstrdup(pick->cache_dir);
    if (config_is_set(r->cfg, "cache_dir_text")) return xstrdup(config_str(r->cfg, "cache_dir_text"));
    const char *cache_dir = config_str(r->cfg, "cache_dir");
    return xasprintf("%s/text/%s", cache_dir && *cache_dir ? cache_dir : "cache", r->family);
}

/* Where edit-v1's conditioning_image_embeds entries go: the cache_dir of a conditioning_image_embeds
 * dataset (SimpleTuner's layout), else a dataset's cache_dir_conditioning_image_embeds, else
 * <cache_dir>/conditioning_image_embeds; one subfolder per reference dataset. */
static char *cie_cache_dir(const RunContext *r) {
    const DatasetConfig *ds; int n = 0;
    config_datasets(r->cfg, &ds, &n);
    for (int i = 0; i < n; i++)
        if (!ds[i].disabled && ds[i].dataset_type && !strcmp(ds[i].dataset_type, "conditioning_image_embeds") && ds[i].cache_dir && *ds[i].cache_dir)
            return xstrdup(ds[i].cache_dir);
    for (int i = 0; i < n; i++)
        if (!ds[i].disabled && ds[i].cache_dir_conditioning_image_embeds && *ds[i].cache_dir_conditioning_image_embeds)
            return xstrdup(ds[i].cache_dir_conditioning_image_embeds);
    const char *cache_dir = config_str(r->cfg, "cache_dir");
    return xasprintf("%s/conditioning_image_embeds", cache_dir && *cache_dir ? cache_dir : "cache");
}

static int load_and_cache(RunContext *r, Err *e);

int run_context_cache(RunContext *r, Err *e) {
    int rc = load_and_cache(r, e);
    free((char *)r->ed.model_id); free((char *)r->ed.text_dir);
    r->ed.model_id = r->ed.text_dir = NULL;
    return rc;
}

static int load_and_cache(RunContext *r, Err *e) {
    if (data_specs_from_config(r->cfg, 0, &r->specs, e)) return -1;
    r->have_specs = 1;
    if (data_load(r->specs.specs, r->specs.n, &r->specs.opt, &r->data, e)) return -1;
    r->have_data = 1;
    data_summary_print(&r->data, stderr);
    char *text_dir = text_cache_dir(r);
    /* tiled VAE latents and a quantised text encoder's embeddings differ slightly: separate cache identities */
    char *model_id = xasprintf("%s/%s/%s%s%s%s", r->family, r->flavour, r->model_path, r->vae.tiling.tile_px > 0 ? "#vae-tiled" : "",
                               r->text_precision != QUANT_NONE ? "#te-" : "", r->text_precision != QUANT_NONE ? quant_name(r->text_precision) : "");
    r->ed = (EditData){.group = &r->data, .vae = &r->vae, .resize = image_resize_lanczos, .encode_prompt = prompt_encoder_to_writer,
                       .encode_ctx = r->pe, .model_id = model_id, .text_dir = text_dir,
                       .seed = config_has(r->cfg, "seed") ? (uint64_t)config_int(r->cfg, "seed") : 42, .quiet = r->quiet};
    /* Qwen edit-v1: references prepared for the text encoder once, in the conditioning_image_embeds cache */
    if (!strcmp(r->family, "qwen_image") && !strcmp(r->flavour, "edit-v1")) {
        r->cie_dir = cie_cache_dir(r);
        r->ed.cie_dir = r->cie_dir;
        r->ed.condition_pixels = prompt_encoder_condition_pixels;
        r->ed.encode_processed = prompt_encoder_processed_to_writer;
    }
    EditCacheStats cs;
    int rc = edit_data_cache_all(&r->ed, &cs, e);
    if (!rc) fprintf(stderr, "caches: %d VAE latents reused, %d computed; %d prompt embeddings reused, %d computed\n",
                     cs.vae_hit, cs.vae_built, cs.text_hit, cs.text_built);
    if (!rc && r->cie_dir) fprintf(stderr, "conditioning image embeds (%s): %d reused, %d computed\n", r->cie_dir, cs.cie_hit, cs.cie_built);
    return rc;
}

int run_context_train(RunContext *r, Err *e) {
    int rc = load_and_cache(r, e);
    char *text_dir = (char *)r->ed.text_dir, *model_id = (char *)r->ed.model_id;
    TrainerConfig tc;
    if (!rc) rc = trainer_config_from(r->cfg, &tc, e);
    if (!rc) {
        tc.max_train_steps = train_steps_from_epochs(r->cfg, sampler_batches_per_epoch(&r->data.sampler));
        tc.lr.total_steps = tc.max_train_steps;
        tc.quiet = r->quiet;
    }
    TrainerHooks hooks = {0};
    if (!rc && config_int(r->cfg, "num_eval_images") > 0 && !config_bool(r->cfg, "validation_disable")) {
        const char *ev = config_str(r->cfg, "ema_validation");
        EmaValidation emv = ev && !strcmp(ev, "none") ? EMA_VALIDATE_NONE : ev && !strcmp(ev, "ema_only") ? EMA_VALIDATE_ONLY
                                                                                                            : EMA_VALIDATE_COMPARISON;
        if (find_eval_set(r, e) < 0) rc = -1;
        else hooks = (TrainerHooks){validate_step, r, config_int(r->cfg, "validation_step_interval"), emv};
    }
    SampleSource src = edit_data_source(&r->ed);
    TrainResult res = {0};
    if (!rc) rc = trainer_run(&tc, &r->den, &src, &hooks, &res, e);
    if (!rc && res.interrupted)
        printf("interrupted at step %lld: checkpoint %s/checkpoint-%lld/ (resume_from_checkpoint=latest continues)\n",
               (long long)res.steps_done, tc.output_dir, (long long)res.steps_done);
    else if (!rc) {
        if (res.resumed_from == res.steps_done)
            printf("already trained: resumed at step %lld = max_train_steps, nothing to do\n", (long long)res.steps_done);
        else printf("trained %lld steps (loss %.4f -> %.4f)\n", (long long)res.steps_done, res.first_loss, res.last_loss);
        printf("weights:     %s\n", res.final_weights);
        printf("checkpoints: %s/checkpoint-<step>/\n", tc.output_dir);
        printf("validation:  %s/validation/\n", tc.output_dir);
        printf("loss log:    %s/training_log.jsonl (.csv), curve %s/loss_curve.png\n", tc.output_dir, tc.output_dir);
        struct rusage ru; getrusage(RUSAGE_SELF, &ru);
        printf("peak memory: %.1f MiB resident\n", ru.ru_maxrss / 1024.0);
    }
    train_result_free(&res);
    free(text_dir); free(model_id);
    r->ed.model_id = r->ed.text_dir = NULL;
    return rc;
}
