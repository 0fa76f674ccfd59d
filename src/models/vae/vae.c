/* vae.c — building/loading a VAE of either family, encode/decode with latent normalisation,
 * and the overlapping-tile driver that bounds memory for large images. */
#include "models/vae/vae.h"
#include "base/files.h"
#include "tensor/safetensors.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const VaeFamily QWEN_VAE_FAMILY, FLUX_VAE_FAMILY;
const VaeFamily *const VAE_FAMILIES[] = { &QWEN_VAE_FAMILY, &FLUX_VAE_FAMILY, NULL };

const VaeFamily *vae_family_find(const char *class_name) {
    for (int i = 0; VAE_FAMILIES[i]; i++)
        if (class_name && !strcmp(VAE_FAMILIES[i]->class_name, class_name)) return VAE_FAMILIES[i];
    return NULL;
}

int vae_build(Vae *v, const cJSON *config, Err *e) {
    memset(v, 0, sizeof *v);
    const cJSON *cn = cJSON_GetObjectItemCaseSensitive(config, "_class_name");
    const char *name = cJSON_IsString(cn) ? cn->valuestring : NULL;
    const VaeFamily *f = vae_family_find(name);
    if (!f) return err_setc(e, EXIT_USAGE, "VAE config: _class_name \"%s\" is not supported yet (expected AutoencoderKLQwenImage or AutoencoderKL)",
                            name ? name : "(missing)");
    v->family = f;
    v->tiling.tile_px = 0;
    v->tiling.overlap_px = VAE_TILE_OVERLAP_PX_DEFAULT;
    if (f->build(v, config, e)) { vae_free(v); return err_prefix(e, "VAE config (%s)", f->class_name); }
    return 0;
}

void vae_free(Vae *v) {
    vae_model_free(&v->net);
    free(v->latent_shift);
    free(v->latent_scale);
    memset(v, 0, sizeof *v);
}

void vae_release_pages(const Vae *v) { stset_release_all(&v->net.set); }

int vae_load_from(Vae *v, const cJSON *config, const StSet *weights, Err *e) {
    if (vae_build(v, config, e)) return -1;
    if (vae_model_bind(&v->net, weights, e)) { vae_free(v); return -1; }
    return 0;
}

int vae_load(Vae *v, const char *dir, Err *e) {
    char *cfg_path = path_join(dir, "config.json");
    char *txt = file_read_all(cfg_path, NULL, e);
    if (!txt) { free(cfg_path); return -1; }
    cJSON *cfg = cJSON_Parse(txt);
    free(txt);
    if (!cfg) { err_setc(e, EXIT_USAGE, "%s: not valid JSON", cfg_path); free(cfg_path); return -1; }
    free(cfg_path);
    int rc = vae_build(v, cfg, e);
    cJSON_Delete(cfg);
    if (rc) return -1;
    /* the single-file checkpoint when present (a folder may also hold other variants such as
     * *.fp16.safetensors); otherwise the folder's index or every *.safetensors in it */
    char *single = path_join(dir, "diffusion_pytorch_model.safetensors");
    const char *src = file_exists(single) ? single : dir;
    rc = stset_open(&v->net.set, src, e) || vae_model_bind(&v->net, &v->net.set, e);
    free(single);
    if (rc) {
        err_prefix(e, "VAE %s", dir);
        vae_free(v);
        return -1;
    }
    return 0;
}

int vae_init_random(Vae *v, const cJSON *config, uint64_t seed, DType dt, Err *e) {
    if (vae_build(v, config, e)) return -1;
    vae_model_init_random(&v->net, seed, dt);
    return 0;
}

int vae_save(const Vae *v, const cJSON *config, const char *dir, Err *e) {
    if (dir_make(dir, e)) return -1;
    StWriter w;
    stw_init(&w);
    for (int i = 0; i < v->net.np; i++) {
        const VaeParam *p = &v->net.p[i];
        stw_add(&w, p->name, p->dtype, p->ndim, p->shape, p->data);
    }
    char *path = path_join(dir, "diffusion_pytorch_model.safetensors");
    int rc = stw_write(&w, path, e);
    free(path);
    stw_free(&w);
    if (rc) return -1;
    char *txt = cJSON_Print(config);
    path = path_join(dir, "config.json");
    rc = file_write_atomic(path, txt, strlen(txt), e);
    free(path);
    free(txt);
    return rc;
}

void vae_latents_normalise(const Vae *v, float *z, size_t hw) {
    for (int c = 0; c < v->net.z_ch; c++)
        for (size_t i = 0; i < hw; i++) z[c * hw + i] = (z[c * hw + i] - v->latent_shift[c]) * v->latent_scale[c];
}

void vae_latents_denormalise(const Vae *v, float *z, size_t hw) {
    for (int c = 0; c < v->net.z_ch; c++)
        for (size_t i = 0; i < hw; i++) z[c * hw + i] = z[c * hw + i] / v->latent_scale[c] + v->latent_shift[c];
}

/* ---- untiled pieces ---- */

static int encode_piece(const Vae *v, const float *img, int H, int W, float *encoder_out, float *params, Err *e) {
    const VaeModel *m = &v->net;
    float *h; int c, hh, ww;
    if (vae_net_forward(m, &m->enc, img, m->in_ch, H, W, &h, &c, &hh, &ww, e)) return -1;
    size_t n = (size_t)c * hh * ww;
    if (encoder_out) memcpy(encoder_out, h, n * sizeof(float));
    if (m->quant.w >= 0) vae_conv_apply(m, &m->quant, h, hh, ww, params);
    else memcpy(params, h, n * sizeof(float));
    free(h);
    return 0;
}

/* PieceFn order: (out, out2) = (params, encoder_out). */
static int encode_piece_tiled(const Vae *v, const float *img, int H, int W, float *params, float *encoder_out, Err *e) {
    return encode_piece(v, img, H, W, encoder_out, params, e);
}

static int decode_piece(const Vae *v, const float *z, int h, int w, float *image, float *unused, Err *e) {
    (void)unused;
    const VaeModel *m = &v->net;
    size_t n = (size_t)m->z_ch * h * w;
    float *zin = NULL;
    if (m->post_quant.w >= 0) {
        zin = xmalloc(n * sizeof(float));
        vae_conv_apply(m, &m->post_quant, z, h, w, zin);
    }
    float *y; int c, oh, ow;
    int rc = vae_net_forward(m, &m->dec, zin ? zin : z, m->z_ch, h, w, &y, &c, &oh, &ow, e);
    free(zin);
    if (rc) return -1;
    memcpy(image, y, (size_t)c * oh * ow * sizeof(float));
    free(y);
    return 0;
}

/* ---- tiles ---- */

/* Tile starts along a side of L grid cells for tiles of T cells overlapping by about O. */
static int tile_starts(int L, int T, int O, int *start) {
    if (L <= T) { start[0] = 0; return 1; }
    int n = (L - O + (T - O) - 1) / (T - O);
    if (n < 2) n = 2;
    for (int i = 0; i < n; i++) start[i] = (int)((int64_t)i * (L - T) / (n - 1));
    return n;
}

/* Blend weight of output position p of tile i (tile length T*r): 0 in the outer quarter of each
 * overlap next to a cut edge (where zero padding at the cut spoils the convolutions), a linear
 * ramp across the middle half, 1 elsewhere. A tiny floor keeps the weight sum positive for any
 * tile plan. */
static float overlap_weight(float d, float ov) {
    float margin = 0.25f * ov;
    return fminf(1.0f, fmaxf(0.0f, (d - margin) / (ov - 2.0f * margin)));
}

static float tile_weight(const int *start, int n, int i, int T, int r, int p) {
    float w = 1.0f, len = (float)(T * r);
    if (i > 0) w = fminf(w, overlap_weight(p + 0.5f, (float)((start[i - 1] + T - start[i]) * r)));
    if (i < n - 1) w = fminf(w, overlap_weight(len - p - 0.5f, (float)((start[i] + T - start[i + 1]) * r)));
    return fmaxf(w, 1e-6f);
}

typedef int (*PieceFn)(const Vae *v, const float *in, int h, int w, float *out, float *out2, Err *e);

/* Runs piece over overlapping tiles of the latent grid [Lh, Lw]. Inputs have r_in cells per
 * latent cell (8 for encode, 1 for decode), outputs r_out (1 for encode, 8 for decode). */
static int run_tiled(const Vae *v, PieceFn piece, const float *in, int c_in, int Lh, int Lw, int r_in,
                     int c_out, int c_out2, int r_out, int T, int O, float *out, float *out2, Err *e) {
    int *sy = xmalloc((size_t)(Lh + 2) * sizeof(int)), *sx = xmalloc((size_t)(Lw + 2) * sizeof(int));
    int Th = T < Lh ? T : Lh, Tw = T < Lw ? T : Lw;
    int ny = tile_starts(Lh, Th, O, sy), nx = tile_starts(Lw, Tw, O, sx);
    const int IH = Lh * r_in, IW = Lw * r_in, OH = Lh * r_out, OW = Lw * r_out;
    const int ih = Th * r_in, iw = Tw * r_in, oh = Th * r_out, ow = Tw * r_out;
    float *wsum = xcalloc((size_t)OH * OW, sizeof(float));
    memset(out, 0, (size_t)c_out * OH * OW * sizeof(float));
    if (out2) memset(out2, 0, (size_t)c_out2 * OH * OW * sizeof(float));
    float *crop = xmalloc((size_t)c_in * ih * iw * sizeof(float));
    float *t1 = xmalloc((size_t)c_out * oh * ow * sizeof(float));
    float *t2 = out2 ? xmalloc((size_t)c_out2 * oh * ow * sizeof(float)) : NULL;
    float *wy = xmalloc((size_t)oh * sizeof(float)), *wx = xmalloc((size_t)ow * sizeof(float));
    int rc = 0;
    for (int ty = 0; ty < ny && !rc; ty++)
        for (int tx = 0; tx < nx && !rc; tx++) {
            int y0 = sy[ty] * r_in, x0 = sx[tx] * r_in;
            for (int c = 0; c < c_in; c++)
                for (int y = 0; y < ih; y++)
                    memcpy(crop + ((size_t)c * ih + y) * iw, in + ((size_t)c * IH + y0 + y) * IW + x0, (size_t)iw * sizeof(float));
            if (piece(v, crop, ih, iw, t1, t2, e)) { rc = -1; break; }
            for (int y = 0; y < oh; y++) wy[y] = tile_weight(sy, ny, ty, Th, r_out, y);
            for (int x = 0; x < ow; x++) wx[x] = tile_weight(sx, nx, tx, Tw, r_out, x);
            int Y0 = sy[ty] * r_out, X0 = sx[tx] * r_out;
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++) wsum[(size_t)(Y0 + y) * OW + X0 + x] += wy[y] * wx[x];
            for (int k = 0; k < 2; k++) {
                float *dst = k ? out2 : out, *src = k ? t2 : t1;
                int cc = k ? c_out2 : c_out;
                if (!dst) continue;
                #pragma omp parallel for schedule(static)
                for (int c = 0; c < cc; c++)
                    for (int y = 0; y < oh; y++)
                        for (int x = 0; x < ow; x++)
                            dst[((size_t)c * OH + Y0 + y) * OW + X0 + x] += wy[y] * wx[x] * src[((size_t)c * oh + y) * ow + x];
            }
        }
    for (int k = 0; k < 2 && !rc; k++) {
        float *dst = k ? out2 : out;
        int cc = k ? c_out2 : c_out;
        if (!dst) continue;
        for (int c = 0; c < cc; c++)
            for (size_t i = 0; i < (size_t)OH * OW; i++) dst[(size_t)c * OH * OW + i] /= wsum[i];
    }
    free(sy); free(sx); free(wsum); free(crop); free(t1); free(t2); free(wy); free(wx);
    return rc;
}

/* Tile and overlap in latent cells, or 0 when the input fits one tile / tiling is off. */
static int tile_cells(const Vae *v, int Lh, int Lw, int *T, int *O) {
    int f = v->net.factor;
    if (v->tiling.tile_px <= 0) return 0;
    *T = v->tiling.tile_px / f;
    *O = v->tiling.overlap_px / f;
    if (*T < 1) *T = 1;
    if (*O >= *T) *O = *T / 4;
    if (*O < 0) *O = 0;
    return Lh > *T || Lw > *T;
}

static int check_size(const Vae *v, int H, int W, Err *e) {
    int f = v->net.factor;
    if (H <= 0 || W <= 0 || H % f || W % f)
        return err_set(e, "VAE: image size %dx%d is not a positive multiple of %d", W, H, f);
    return 0;
}

int vae_encode_params(const Vae *v, const float *image, int H, int W, float *encoder_out, float *params, Err *e) {
    if (check_size(v, H, W, e)) return -1;
    int f = v->net.factor, Lh = H / f, Lw = W / f, T, O;
    if (!tile_cells(v, Lh, Lw, &T, &O)) return encode_piece(v, image, H, W, encoder_out, params, e);
    int c2 = 2 * v->net.z_ch;
    /* the raw encoder output (when asked for) is blended the same way as the parameters */
    return run_tiled(v, encode_piece_tiled, image, v->net.in_ch, Lh, Lw, f, c2, encoder_out ? c2 : 0, 1, T, O,
                     params, encoder_out, e);
}

int vae_decode_raw(const Vae *v, const float *z, int h, int w, float *image, Err *e) {
    if (h <= 0 || w <= 0) return err_set(e, "VAE decode: latent size %dx%d is empty", w, h);
    int T, O;
    if (!tile_cells(v, h, w, &T, &O)) return decode_piece(v, z, h, w, image, NULL, e);
    return run_tiled(v, decode_piece, z, v->net.z_ch, h, w, 1, v->net.out_ch, 0, v->net.factor, T, O, image, NULL, e);
}

int vae_encode(const Vae *v, const float *image, int H, int W, VaeLatentDraw draw, Rng *rng,
               float *latents, Err *e) {
    int f = v->net.factor, zc = v->net.z_ch;
    size_t hw = (size_t)(H / f) * (W / f);
    if (draw == VAE_LATENT_SAMPLE && !rng) return err_set(e, "VAE encode: sampling needs a random generator");
    float *params = xmalloc(2 * zc * hw * sizeof(float));
    if (vae_encode_params(v, image, H, W, NULL, params, e)) { free(params); return -1; }
    for (size_t i = 0; i < zc * hw; i++) {
        float z = params[i];
        if (draw == VAE_LATENT_SAMPLE) {
            float logvar = fminf(fmaxf(params[zc * hw + i], -30.0f), 20.0f);
            z += expf(0.5f * logvar) * (float)rng_normal(rng);
        }
        latents[i] = z;
    }
    free(params);
    vae_latents_normalise(v, latents, hw);
    return 0;
}

int vae_decode_traced(const Vae *v, const float *latents, int h, int w, const Trace *trace, float *image, Err *e) {
    size_t hw = (size_t)h * w, n = (size_t)v->net.z_ch * hw;
    float *z = xmalloc(n * sizeof(float));
    memcpy(z, latents, n * sizeof(float));
    vae_latents_denormalise(v, z, hw);
    /* upstream's shapes: [1, C, H, W], or [1, C, 1, H, W] for a VAE with a frame axis */
    const int fa = v->family->frame_axis, nd = 4 + fa;
    int64_t zs[5] = {1, v->net.z_ch, 1, h, w}, os[5] = {1, v->net.out_ch, 1, (int64_t)h * v->net.factor, (int64_t)w * v->net.factor};
    if (!fa) { zs[2] = h; zs[3] = w; os[2] = os[3]; os[3] = os[4]; }
    trace_f32(trace, "vae_decode_input", nd, zs, z);
    int rc = vae_decode_raw(v, z, h, w, image, e);
    free(z);
    if (rc) return -1;
    size_t np = (size_t)v->net.out_ch * hw * v->net.factor * v->net.factor;
    if (v->clamp_output)
        for (size_t i = 0; i < np; i++) image[i] = fminf(fmaxf(image[i], -1.0f), 1.0f);
    trace_f32(trace, "vae_decode_output", nd, os, image);
    /* the pipelines' post-processing clamps every family's output */
    for (size_t i = 0; i < np; i++) image[i] = fminf(fmaxf(image[i], -1.0f), 1.0f);
    return 0;
}

int vae_decode(const Vae *v, const float *latents, int h, int w, float *image, Err *e) {
    return vae_decode_traced(v, latents, h, w, NULL, image, e);
}
