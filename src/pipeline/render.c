/* render.c — one edit sampled exactly as the family's diffusers pipeline does: the prompt encoded
 * with the references, the references VAE-encoded at the pipeline's size and packed after the target
 * tokens (every token at the same t, as the pipelines sample), flow-match Euler with the family's CFG
 * rule, VAE decode and post-processing; optionally a trace of every intermediate under upstream's
 * names and predicted-x0 previews (validation_preview). */
#include "pipeline/pipeline_internal.h"
#include "image/image_io.h"
#include "image/image_resize.h"
#include "models/latent_pack.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The size a pipeline VAE-encodes a reference at: ~1 MP with the reference's aspect, or the
 * target's area with model_kwargs {"match_target_res": true} (as the Qwen edit quickstart offers). */
static void reference_vae_size(const Pipeline *pl, const Image *ref, int W, int H, int *w, int *h) {
    double ratio = (double)ref->width / ref->height;
    const cJSON *mk = config_extra(pl->cfg, "model_kwargs");
    double area = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(mk, "match_target_res")) ? (double)W * H : 1024.0 * 1024.0;
    pl->fam->calculate_dimensions(area, ratio, w, h);
}

typedef struct Predict {
    Pipeline *pl;
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
    return p->pl->tr.den.forward(p->pl->tr.den.self, &p->in, v, e);
}

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
    const int C = vae_latent_channels(&p->pl->vae), h = p->latent_h, w = p->latent_w;
    size_t len = p->n_target * p->channels;
    float *x0 = xmalloc(len * sizeof(float)), *z = xmalloc(len * sizeof(float)), *img = xmalloc((size_t)3 * 64 * h * w * sizeof(float));
    for (size_t i = 0; i < len; i++) x0[i] = x[i] - p->sigmas[step + 1] * v[i];
    Err e = {0};
    char *path = xasprintf("%sstep-%02d.png", p->preview_prefix, step + 1);
    int rc = latent_unpack(x0, C, h, w, z, &e);
    if (!rc) rc = vae_decode(&p->pl->vae, z, h, w, img, &e);
    if (!rc) {
        Image im = postprocess_image(img, 8 * w, 8 * h);
        rc = image_write_png(path, &im, &e);
        image_free(&im);
    }
    if (rc) pipeline_emitf(p->pl, PEV_WARNING, "validation preview %s: %s", path, e.msg);
    else pipeline_emit(p->pl, &(PipelineEvent){.kind = PEV_PREVIEW, .step = step + 1, .path = path});
    free(path); free(x0); free(z); free(img);
}

/* After each step: the progress event, previews, and (tracing) the step's predictions and latents
 * under the pipelines' names "step<i>.<what>". */
static void on_step(void *ctx, int step, int n, const float *x, const float *vc, const float *vu, const float *v) {
    Predict *p = ctx;
    pipeline_emit(p->pl, &(PipelineEvent){.kind = PEV_SAMPLING_STEP, .done = step + 1, .total = n});
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

/* The CFG rule and scale: the family's rule for edit or text-to-image flavours; the scale as the
 * family table says (models/family.h). */
static float guidance_of(const Pipeline *pl, CfgMode *mode) {
    const ModelFamily *f = pl->fam;
    *mode = pl->flavour->max_refs > 0 ? f->edit_guidance : f->t2i_guidance;
    double real = config_num(pl->cfg, "validation_guidance_real");
    if (f->reads_guidance_real && real > 1) return (float)real;
    if (config_is_set(pl->cfg, "validation_guidance") || f->guidance_when_unset <= 0) return (float)config_num(pl->cfg, "validation_guidance");
    return (float)f->guidance_when_unset;
}

int pipeline_render(Pipeline *pl, const EditRequest *job, Image *result, float **tensor, Err *e) {
    int W = job->width, H = job->height;
    if (W <= 0 || H <= 0) pipeline_default_size(pl, job->refs, job->n_refs, &W, &H);
    const int C = vae_latent_channels(&pl->vae), h = H / 8, w = W / 8;
    if (W % 16 || H % 16) return err_setc(e, EXIT_USAGE, "validation size %dx%d must be a multiple of 16", W, H);
    const Trace *tr = job->trace;
    Predict p = {0};
    p.pl = pl; p.channels = (size_t)C * 4; p.n_target = (size_t)(h / 2) * (w / 2); p.trace = tr;
    float *pos = NULL, *neg = NULL, *ref_lat[3] = {0}, *noise = NULL, *x = NULL, *img = NULL;
    Trace tp = trace_scope(tr, "prompt"), tn = trace_scope(tr, "negative");
    CfgMode mode;
    float g = guidance_of(pl, &mode);
    int use_uncond = g > 1.0f && !config_bool(pl->cfg, "validation_disable_unconditional");
    int rc = 0;
    if (job->prompt_embeds) {   /* encoded earlier (training keeps its validation prompts' embeddings) */
        p.pos_len = job->prompt_len; p.dim = job->embed_dim;
        pos = xmalloc((size_t)p.pos_len * p.dim * sizeof(float));
        memcpy(pos, job->prompt_embeds, (size_t)p.pos_len * p.dim * sizeof(float));
    } else if (!pl->pe) rc = err_set(e, "the text encoder was released after caching and this prompt was not encoded before");
    else rc = prompt_encoder_embed(pl->pe, job->prompt, job->refs, job->n_refs, &tp, &pos, &p.pos_len, &p.dim, e);
    if (!rc && use_uncond && job->negative_embeds) {
        p.neg_len = job->negative_len;
        neg = xmalloc((size_t)p.neg_len * p.dim * sizeof(float));
        memcpy(neg, job->negative_embeds, (size_t)p.neg_len * p.dim * sizeof(float));
    } else if (!rc && use_uncond && !pl->pe) rc = err_set(e, "the text encoder was released after caching and the negative prompt was not encoded before");
    else if (!rc && use_uncond)
        rc = prompt_encoder_embed(pl->pe, job->negative ? job->negative : "", job->refs, job->n_refs, &tn, &neg, &p.neg_len, &p.dim, e);
    size_t N = p.n_target;
    int rw[3], rh[3];
    for (int k = 0; k < job->n_refs && !rc; k++) {
        reference_vae_size(pl, &job->refs[k], W, H, &rw[k], &rh[k]);
        Image rs = {0};
        if ((rc = image_resize_lanczos(&job->refs[k], rw[k], rh[k], &rs, e))) break;
        float *chw = xmalloc((size_t)3 * rw[k] * rh[k] * sizeof(float));
        image_to_chw(&rs, chw);
        ref_lat[k] = xmalloc((size_t)C * (rh[k] / 8) * (rw[k] / 8) * sizeof(float));
        rc = vae_encode(&pl->vae, chw, rh[k], rw[k], VAE_LATENT_MODE, NULL, ref_lat[k], e);
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
        sc.sched = pl->sched;
        sc.steps = (int)config_int(pl->cfg, "validation_num_inference_steps");
        sc.mu = flowmatch_calculate_shift(&pl->sched, (double)p.n_target);
        sc.guidance = g; sc.use_uncond = use_uncond; sc.cfg_mode = mode; sc.renorm_min = 0.0f;
        if ((trace_on(tr) || job->preview_prefix) && sc.steps > 0) {
            /* the schedule as the pipeline reports it (sampler_run derives the same one) */
            int n = sc.steps;
            double *sin = xmalloc((size_t)n * sizeof(double));
            sig = xmalloc((size_t)(n + 1) * sizeof(float)); ts = xmalloc((size_t)n * sizeof(float));
            flowmatch_default_sigmas(n, sin);
            flowmatch_set_timesteps(&pl->sched, n, NULL, sc.mu, sig, ts);
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
            p.preview_every = (int)config_int(pl->cfg, "validation_preview_steps");
            if (p.preview_every < 1) p.preview_every = 1;
        }
        rc = sampler_run(&sc, predict, &p, on_step, &p, x, p.n_target, p.channels, e);
    }
    if (!rc) rc = latent_unpack(x, C, h, w, noise, e);
    if (!rc) {
        img = xmalloc((size_t)3 * W * H * sizeof(float));
        rc = vae_decode_traced(&pl->vae, noise, h, w, tr, img, e);
    }
    if (!rc) {
        *result = postprocess_image(img, W, H);
        int64_t sh[4] = {1, 3, H, W};
        trace_f32(tr, "image", 4, sh, img);
        if (tensor) { *tensor = img; img = NULL; }
    }
    for (int k = 0; k < 3; k++) free(ref_lat[k]);
    free(pos); free(neg); free(noise); free(x); free(img); free(p.tokens); free(sig); free(ts);
    return rc;
}
