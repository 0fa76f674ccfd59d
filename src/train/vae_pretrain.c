/* vae_pretrain.c — see vae_pretrain.h. */
#include "train/vae_pretrain.h"
#include "base/files.h"
#include "base/rng.h"
#include "image/image_metrics.h"
#include "data/synth.h"
#include "models/family.h"
#include "models/vae/vae.h"
#include "models/vae/vae_autoencoder.h"
#include "train/grad_clip.h"
#include "train/lr_schedule.h"
#include "train/optim.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* The held-out images come from another seed stream than any training sample. */
#define EVAL_SEED_OFFSET 1000003u
#define LATENT_CHANNELS 16   /* what both families' transformers take (in_channels 64 = 16 x 2x2) */

/* The trainable sizes, the same for both families' VAEs (groups: where the VAE has group norms). */
typedef struct SizeRow {
    const char *size;
    int dims[4];     /* channels per level */
    int blocks;      /* blocks per level */
    int groups;      /* norm groups (FLUX) */
} SizeRow;

static const SizeRow SIZES[] = {
    { "tiny", { 16, 32, 64, 64 }, 1, 8 },
    { "small", { 32, 64, 128, 128 }, 2, 16 },
};

void vae_pretrain_spec_init(VaePretrainSpec *s) {
    memset(s, 0, sizeof *s);
    s->family = MODEL_FAMILIES[0]->name;   /* the first family of the table */
    s->size = "tiny";
    s->steps = 3000;
    s->batch = 32;   /* batch 8 plateaued near 20 dB held-out; 32 reached 25.6 dB in 2500 steps (issue 22 notes) */
    s->resolution = 64;
    s->warmup = 100;
    s->big_every = 4;
    s->seed = 42;
    s->lr = 2e-3;
    s->weight_decay = 0.0;
    s->beta2 = 0.99;
    s->l1 = 1.0f;
    s->l2 = 1.0f;
    s->kl = 1e-6f;
    s->stat_images = 64;
    s->eval_images = 64;   /* 8 or 16 images gave figures 4 dB off the wider set's: too few to judge by */
    s->log_every = 50;
}

static const SizeRow *size_row(const char *size, Err *e) {
    for (size_t i = 0; i < sizeof SIZES / sizeof *SIZES; i++)
        if (!strcmp(SIZES[i].size, size)) return &SIZES[i];
    err_setc(e, EXIT_USAGE, "--size '%s': expected tiny or small", size);
    return NULL;
}

/* The family's init-model VAE config at the row's widths, its latent normalisation the identity
 * until training measures it. *vf receives the VAE family. */
static cJSON *config_json(const VaePretrainSpec *s, const VaeFamily **vf, Err *e) {
    const char *family = s->family, *size = s->size;
    const ModelFamily *fam = family_find(family);
    char names[128];
    if (!fam) { err_setc(e, EXIT_USAGE, "--family '%s': expected %s", family, family_name_list(names, sizeof names)); return NULL; }
    const SizeRow *base = size_row(size, e);
    if (!base) return NULL;
    SizeRow row = *base;   /* the spec's overrides of the size's widths */
    if (s->dims[0]) memcpy(row.dims, s->dims, sizeof row.dims);
    if (s->blocks) row.blocks = s->blocks;
    if (s->groups) row.groups = s->groups;
    cJSON *j = fam->init_vae_config(!strcmp(size, "small") ? SIZE_SMALL : SIZE_TINY);
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(j, "_class_name");
    *vf = vae_family_find(cJSON_IsString(cls) ? cls->valuestring : NULL);
    if (!*vf) { cJSON_Delete(j); err_set(e, "%s: no VAE family for its config", family); return NULL; }
    double zero[LATENT_CHANNELS] = {0}, one[LATENT_CHANNELS];
    for (int c = 0; c < LATENT_CHANNELS; c++) one[c] = 1.0;
    if ((*vf)->set_widths(j, row.dims, row.blocks, row.groups, e)) { cJSON_Delete(j); return NULL; }
    (*vf)->set_latent_stats(j, zero, one, 1.0, LATENT_CHANNELS);
    if (s->no_mid_attention) {
        cJSON *attn = cJSON_GetObjectItemCaseSensitive(j, "mid_block_add_attention");
        if (!attn) {
            cJSON_Delete(j);
            err_setc(e, EXIT_USAGE, "--no-mid-attention: the %s VAE (%s) always has its mid-block attention", family, (*vf)->class_name);
            return NULL;
        }
        cJSON_ReplaceItemInObjectCaseSensitive(j, "mid_block_add_attention", cJSON_CreateFalse());
    }
    return j;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* HWC 8-bit -> [3, H, W] in [-1, 1] */
static void to_chw(const Image *im, float *out) {
    const size_t hw = (size_t)im->width * im->height;
    for (size_t p = 0; p < hw; p++)
        for (int c = 0; c < 3; c++) out[c * hw + p] = im->data[p * 3 + c] / 127.5f - 1.0f;
}

static int is_every(int every, uint64_t k) { return every > 0 && k % (uint64_t)every == (uint64_t)every - 1; }

/* Training sample k: a whole 2·resolution² render (one in full_every), else a random crop² cut of
 * a synthetic image of resolution² (or 2·resolution², one in big_every). Returns its side. */
static int training_image(const VaePretrainSpec *s, uint64_t k, float *chw) {
    const int R = s->resolution, full = is_every(s->full_every, k), C = full ? 2 * R : s->crop ? s->crop : R;
    Rng r;
    rng_seed_stream(&r, s->seed ^ 0x5eed5eedULL, k);
    int S = full || is_every(s->big_every, k) ? 2 * R : R;
    Image im;
    synth_scene(s->seed, (int)k, S, S, &im);
    int x0 = (int)rng_below(&r, (uint64_t)(S - C) + 1), y0 = (int)rng_below(&r, (uint64_t)(S - C) + 1);
    const size_t hw = (size_t)C * C;
    for (int y = 0; y < C; y++)
        for (int x = 0; x < C; x++)
            for (int c = 0; c < 3; c++)
                chw[c * hw + (size_t)y * C + x] = im.data[(((size_t)(y0 + y)) * (size_t)S + (size_t)(x0 + x)) * 3 + (size_t)c] / 127.5f - 1.0f;
    image_free(&im);
    return C;
}

/* The Wan causal 3-D convs meet one frame through their last temporal slice only: the others
 * start (and stay) zero, so the saved weights are an image VAE inflated to 3-D. */
static void zero_unused_temporal_slices(VaeModel *m) {
    for (int i = 0; i < m->np; i++) {
        VaeParam *p = &m->p[i];
        if (p->ndim != 5 || p->dtype != DT_F32) continue;
        size_t kt = (size_t)p->shape[2], kk = (size_t)p->shape[3] * p->shape[4], rows = (size_t)p->shape[0] * p->shape[1];
        float *w = (float *)p->data;
        if (p->shape[3] == 1 && p->shape[4] == 1 && strstr(p->name, "time_conv")) continue;   /* never run */
        for (size_t r = 0; r < rows; r++)
            for (size_t t = 0; t + 1 < kt; t++) memset(w + (r * kt + t) * kk, 0, kk * sizeof(float));
    }
}

/* Skip-init: the last layer of every residual branch (a res block's second conv, an attention
 * block's output projection) starts at zero, so each block starts as the identity (or its
 * shortcut) and the signal reaches the output undistorted from the first step. Read from the ops
 * table both VAE kinds share, not from parameter names (which differ between the families). */
static void zero_param(VaeModel *m, int i) {
    if (i >= 0) memset((float *)m->p[i].data, 0, vae_param_numel(&m->p[i]) * sizeof(float));
}

static void zero_residual_branches(VaeModel *m) {
    const VaeNet *nets[2] = { &m->enc, &m->dec };
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < nets[k]->n; i++) {
            const VaeOp *op = &nets[k]->ops[i];
            const VaeConv *last = op->kind == VAE_OP_RES ? &op->c2 : op->kind == VAE_OP_ATTN ? &op->o : NULL;
            if (last) { zero_param(m, last->w); zero_param(m, last->b); }
        }
}

/* The posterior starts nearly deterministic: the bias of the logvar half of the distribution
 * parameters (quant_conv when the model has one, else the encoder's conv_out) at LOGVAR_INIT, so
 * the sampling noise does not drown the reconstruction signal while the encoder is still random
 * (with LDM's tiny KL weight nothing pulls logvar up again; trained VAEs end with tiny σ anyway). */
#define LOGVAR_INIT -8.0f
static void start_nearly_deterministic(VaeModel *m) {
    const VaeConv *c = m->quant.w >= 0 ? &m->quant : &m->enc.ops[m->enc.n - 1].c1;
    float *b = (float *)m->p[c->b].data;
    for (int i = m->z_ch; i < 2 * m->z_ch; i++) b[i] = LOGVAR_INIT;
}

/* Posterior means of n training images -> the latent normalisation written into the config. */
static int latent_stats(const VaePretrainSpec *s, Vae *v, cJSON *cfg, Err *e) {
    const int R = s->resolution, zc = v->net.z_ch, f = v->net.factor;
    const size_t hw = (size_t)(R / f) * (R / f);
    double *sum = xcalloc((size_t)zc, sizeof(double)), *sq = xcalloc((size_t)zc, sizeof(double));
    float *img = xmalloc(3 * (size_t)R * R * sizeof(float)), *params = xmalloc(2 * (size_t)zc * hw * sizeof(float));
    int rc = 0;
    for (int i = 0; i < s->stat_images && !rc; i++) {
        Image im;
        synth_scene(s->seed, (int)(0x40000000u + (unsigned)i), R, R, &im);
        to_chw(&im, img);
        image_free(&im);
        rc = vae_encode_params(v, img, R, R, NULL, params, e);
        for (int c = 0; c < zc && !rc; c++)
            for (size_t p = 0; p < hw; p++) { double z = params[(size_t)c * hw + p]; sum[c] += z; sq[c] += z * z; }
    }
    if (!rc) {
        const double n = (double)s->stat_images * (double)hw;
        v->family->set_latent_stats(cfg, sum, sq, n, zc);
    }
    free(sum); free(sq); free(img); free(params);
    return rc;
}

/* The pipelines' output: [-1, 1] -> [0, 1] clamped -> round(x·255). */
static void to_u8(const float *chw, int W, int H, Image *out) {
    const size_t hw = (size_t)W * H;
    *out = (Image){ W, H, 3, xmalloc(hw * 3) };
    for (size_t i = 0; i < hw; i++)
        for (int c = 0; c < 3; c++)
            out->data[i * 3 + c] = (uint8_t)lrintf(fminf(fmaxf(chw[c * hw + i] * 0.5f + 0.5f, 0.0f), 1.0f) * 255.0f);
}

/* One image through the VAE (encode to the latent mode, decode) as 8-bit, and its PSNR against the
 * original (an exact reconstruction counts as 99 dB). Buffers sized for res x res. */
static int reconstruct(const Vae *v, const Image *im, float *img, float *lat, float *out, Image *rec, double *psnr, Err *e) {
    const int f = vae_factor(v), W = im->width, H = im->height;
    to_chw(im, img);
    if (vae_encode(v, img, H, W, VAE_LATENT_MODE, NULL, lat, e) || vae_decode(v, lat, H / f, W / f, out, e)) return -1;
    to_u8(out, W, H, rec);
    double p = image_psnr(rec, im);
    *psnr = isinf(p) ? 99.0 : p;
    return 0;
}

/* Loads dir and checks res against its factor; the buffers of reconstruct. */
static int open_for_eval(const char *dir, int res, Vae *v, float **img, float **lat, float **out, Err *e) {
    if (vae_load(v, dir, e)) return -1;
    const int f = vae_factor(v), zc = vae_latent_channels(v);
    if (res % f) { vae_free(v); return err_setc(e, EXIT_USAGE, "eval resolution %d: not a multiple of %d", res, f); }
    const size_t hw = (size_t)res * res;
    *img = xmalloc(3 * hw * sizeof(float));
    *out = xmalloc(3 * hw * sizeof(float));
    *lat = xmalloc((size_t)zc * (hw / ((size_t)f * f)) * sizeof(float));
    return 0;
}

int vae_pretrain_eval_dir(const char *dir, uint64_t seed, int count, int res, double *psnr, double *ssim, Err *e) {
    Vae v;
    float *img, *lat, *out;
    if (open_for_eval(dir, res, &v, &img, &lat, &out, e)) return -1;
    double ps = 0.0, ss = 0.0;
    int rc = 0;
    for (int i = 0; i < count && !rc; i++) {
        Image im, rec;
        double p;
        synth_scene(seed + EVAL_SEED_OFFSET, i, res, res, &im);
        rc = reconstruct(&v, &im, img, lat, out, &rec, &p, e);
        if (!rc) {
            ps += p;
            ss += image_ssim(&rec, &im);
            image_free(&rec);
        }
        image_free(&im);
    }
    free(img); free(out); free(lat);
    vae_free(&v);
    if (rc) return -1;
    *psnr = ps / count;
    *ssim = ss / count;
    return 0;
}

int vae_pretrain_eval_flat(const char *dir, int res, VaeFlatReport *r, Err *e) {
    SynthColor pal[32];
    const int n = synth_backgrounds(pal, 32);
    Vae v;
    float *img, *lat, *out;
    if (open_for_eval(dir, res, &v, &img, &lat, &out, e)) return -1;
    *r = (VaeFlatReport){.res = res, .colours = n, .worst_psnr = 1e9};
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        Image im = {res, res, 3, xmalloc((size_t)res * res * 3)}, rec;
        for (size_t p = 0; p < (size_t)res * res; p++) memcpy(im.data + 3 * p, pal[i].rgb, 3);
        double p;
        rc = reconstruct(&v, &im, img, lat, out, &rec, &p, e);
        if (!rc) {
            r->mean_psnr += p / n;
            if (p < r->worst_psnr) { r->worst_psnr = p; r->worst_name = pal[i].name; }
            image_free(&rec);
        }
        image_free(&im);
    }
    free(img); free(out); free(lat);
    vae_free(&v);
    return rc ? -1 : 0;
}

static int check_spec(const VaePretrainSpec *s, Err *e) {
    if (!s->out || !*s->out) return err_setc(e, EXIT_USAGE, "pretrain-vae: --out DIR is required");
    if (s->steps < 1) return err_setc(e, EXIT_USAGE, "--steps %d: expected at least 1", s->steps);
    if (s->batch < 1 || s->batch > 256) return err_setc(e, EXIT_USAGE, "--batch %d: expected 1..256", s->batch);
    if (s->resolution < 16 || s->resolution > 1024 || s->resolution % 16)
        return err_setc(e, EXIT_USAGE, "--resolution %d: expected a multiple of 16 in [16, 1024]", s->resolution);
    if (!(s->beta2 > 0 && s->beta2 < 1)) return err_setc(e, EXIT_USAGE, "--beta2 %g: expected a number in (0, 1)", s->beta2);
    if (!(s->lr > 0)) return err_setc(e, EXIT_USAGE, "--lr %g: expected a positive number", s->lr);
    if (s->crop && (s->crop < 16 || s->crop > s->resolution || s->crop % 16))
        return err_setc(e, EXIT_USAGE, "--crop %d: expected a multiple of 16 in [16, resolution %d]", s->crop, s->resolution);
    if (s->warmup < 0 || s->big_every < 0 || s->full_every < 0 || s->stat_images < 1 || s->eval_images < 1)
        return err_setc(e, EXIT_USAGE, "pretrain-vae: warmup, big_every and full_every must be >= 0, stat/eval image counts >= 1");
    if (!(s->l1 >= 0 && s->l2 >= 0 && s->kl >= 0 && s->l1 + s->l2 > 0))
        return err_setc(e, EXIT_USAGE, "pretrain-vae: loss weights must be >= 0 with l1 + l2 > 0");
    return 0;
}

int vae_pretrain_run(const VaePretrainSpec *s, VaePretrainReport *r, Err *e) {
    memset(r, 0, sizeof *r);
    if (check_spec(s, e)) return -1;
    const VaeFamily *vf;
    cJSON *cfg = config_json(s, &vf, e);
    if (!cfg) return -1;
    Vae v;
    if (vae_init_random(&v, cfg, s->seed, DT_F32, e)) { cJSON_Delete(cfg); return -1; }
    VaeModel *m = &v.net;
    zero_unused_temporal_slices(m);
    if (s->zero_init) zero_residual_branches(m);
    start_nearly_deterministic(m);
    r->params = vae_model_numel(m);

    const int B = s->batch, T = omp_get_max_threads() < B ? omp_get_max_threads() : B;
    const int R = s->full_every > 0 ? 2 * s->resolution : s->crop ? s->crop : s->resolution;   /* the largest side */
    VaeGrads sum, *item = xcalloc((size_t)B, sizeof *item);
    vae_grads_init(&sum, m);
    for (int b = 0; b < B; b++) vae_grads_init(&item[b], m);
    VaeAeWork *work = xcalloc((size_t)T, sizeof *work);
    float **img = xmalloc((size_t)B * sizeof *img);
    for (int b = 0; b < B; b++) img[b] = xmalloc(3 * (size_t)R * R * sizeof(float));
    TrainParam *tp = xcalloc((size_t)m->np, sizeof *tp);
    for (int i = 0; i < m->np; i++)
        tp[i] = (TrainParam){ .name = m->p[i].name, .value = (float *)m->p[i].data, .grad = sum.g[i],
                              .numel = vae_param_numel(&m->p[i]) };
    OptimConfig oc = { .kind = OPTIM_TORCH_ADAMW, .lr = s->lr, .beta1 = 0.9, .beta2 = s->beta2, .eps = 1e-8,
                       .weight_decay = s->weight_decay };
    Optimizer opt;
    LrSchedule sched;
    LrScheduleKeys lk;
    lr_schedule_keys_init(&lk);
    lk.lr_scheduler = "cosine_with_restarts";   /* one cycle: warmup, then a plain cosine to 0 */
    lk.learning_rate = s->lr;
    lk.lr_warmup_steps = s->warmup;
    lk.max_train_steps = s->steps;
    lk.lr_num_cycles = 1;
    memset(&opt, 0, sizeof opt);
    int rc = optim_init(&opt, &oc, tp, m->np, s->seed, e) || lr_schedule_init(&sched, &lk, e);
    VaeLossConfig lc = { .l1 = s->l1, .l2 = s->l2, .kl = s->kl, .sample = 1 };
    VaeLossParts *parts = xcalloc((size_t)B, sizeof *parts);
    int *item_rc = xcalloc((size_t)B, sizeof *item_rc);
    Err *item_err = xcalloc((size_t)B, sizeof *item_err);
    double t0 = now_seconds(), win_loss = 0.0, win_mse = 0.0, win_l1 = 0.0;
    int win_n = 0;

    for (int step = 0; step < s->steps && !rc; step++) {
        /* one image per thread at a time (dynamic: whole renders cost more than crops; the result does
         * not depend on which thread took an image); BLAS and the kernels run single-threaded inside */
        #pragma omp parallel for schedule(dynamic, 1) num_threads(T)
        for (int b = 0; b < B; b++) {
            const uint64_t k = (uint64_t)step * (uint64_t)B + (uint64_t)b;
            Rng eps;
            rng_seed_stream(&eps, s->seed ^ 0xe95e95ULL, k);
            int side = training_image(s, k, img[b]);
            vae_grads_zero(&item[b], m);
            item_rc[b] = vae_ae_step(m, img[b], side, side, &lc, &eps, 1.0f / (float)B, &work[omp_get_thread_num()],
                                     &item[b], &parts[b], &item_err[b]);
        }
        for (int b = 0; b < B; b++)
            if (item_rc[b]) { *e = item_err[b]; rc = -1; break; }
        if (rc) break;
        /* the batch gradient, summed in item order */
        #pragma omp parallel for schedule(dynamic)
        for (int i = 0; i < m->np; i++) {
            size_t n = tp[i].numel;
            memcpy(sum.g[i], item[0].g[i], n * sizeof(float));
            for (int b = 1; b < B; b++)
                for (size_t j = 0; j < n; j++) sum.g[i][j] += item[b].g[i][j];
        }
        grad_clip(tp, m->np, GRAD_CLIP_NORM, 1.0);
        optim_step(&opt, lr_schedule_at(&sched, step));
        for (int b = 0; b < B; b++) { win_loss += parts[b].loss; win_mse += parts[b].l2; win_l1 += parts[b].l1; win_n++; }
        if (s->log && s->log_every > 0 && ((step + 1) % s->log_every == 0 || step + 1 == s->steps)) {
            double el = now_seconds() - t0, mse = win_mse / win_n;
            fprintf(s->log, "step %d/%d  loss %.5f  l1 %.5f  psnr~%.2f dB  lr %.2e  %.1f s (%.2f s/step)\n",
                    step + 1, s->steps, win_loss / win_n, win_l1 / win_n, 10.0 * log10(4.0 / fmax(mse, 1e-12)),
                    lr_schedule_at(&sched, step), el, el / (step + 1));
            fflush(s->log);
            r->final_loss = win_loss / win_n;
            win_loss = win_mse = win_l1 = 0.0;
            win_n = 0;
        }
    }
    r->train_seconds = now_seconds() - t0;
    if (!rc) rc = latent_stats(s, &v, cfg, e);

    /* save as bf16, then measure what was saved */
    char *dir = path_join(s->out, "vae");
    if (!rc) {
        size_t total = vae_model_numel(m);
        uint16_t *bf = xmalloc(total * sizeof(uint16_t)), *at = bf;
        for (int i = 0; i < m->np; i++) {
            size_t n = vae_param_numel(&m->p[i]);
            dtype_from_f32(DT_BF16, m->p[i].data, at, n);
            m->p[i].dtype = DT_BF16;
            m->p[i].data = at;
            at += n;
        }
        rc = vae_save(&v, cfg, dir, e);
        free(bf);
    }
    if (!rc) {
        char *file = path_join(dir, "diffusion_pytorch_model.safetensors");
        struct stat st;
        if (stat(file, &st) == 0) r->bytes = (size_t)st.st_size;
        free(file);
        r->eval_res[0] = s->resolution;
        r->eval_res[1] = 2 * s->resolution;
        for (int k = 0; k < 2 && !rc; k++)
            rc = vae_pretrain_eval_dir(dir, s->seed, s->eval_images, r->eval_res[k], &r->psnr[k], &r->ssim[k], e);
        if (!rc) rc = vae_pretrain_eval_flat(dir, r->eval_res[1], &r->flat, e);
    }
    free(dir);
    free(parts); free(item_rc); free(item_err);
    for (int b = 0; b < B; b++) { vae_grads_free(&item[b]); free(img[b]); }
    for (int t = 0; t < T; t++) vae_ae_work_free(&work[t]);
    free(item); free(work); free(img); free(tp);
    vae_grads_free(&sum);
    optim_free(&opt);
    vae_free(&v);
    cJSON_Delete(cfg);
    return rc;
}
