/* vae_autoencoder.c — see vae_autoencoder.h. */
#include "models/vae/vae_autoencoder.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { B_PARAMS, B_Z, B_ZIN, B_EPS, B_DOUT, B_DZIN, B_DZ, B_DPARAMS, B_DH };

static float *buf(VaeAeWork *w, int k, size_t n) {
    if (w->cap[k] < n) { free(w->buf[k]); w->buf[k] = xmalloc(n * sizeof(float)); w->cap[k] = n; }
    return w->buf[k];
}

void vae_ae_work_free(VaeAeWork *w) {
    vae_tape_free(&w->enc);
    vae_tape_free(&w->dec);
    for (int k = 0; k < 10; k++) free(w->buf[k]);
    memset(w, 0, sizeof *w);
}

static float clamp_logvar(float v) { return fminf(fmaxf(v, -30.0f), 20.0f); }

int vae_ae_step(const VaeModel *m, const float *x, int H, int W, const VaeLossConfig *c, Rng *rng,
                float grad_scale, VaeAeWork *w, VaeGrads *g, VaeLossParts *out, Err *e) {
    if (H <= 0 || W <= 0 || H % m->factor || W % m->factor)
        return err_set(e, "VAE training: image size %dx%d is not a positive multiple of %d", W, H, m->factor);
    if (c->sample && !rng) return err_set(e, "VAE training: sampling needs a random generator");
    /* encoder and the distribution parameters [2z, h, w] */
    if (vae_net_forward_tape(m, &m->enc, x, m->in_ch, H, W, &w->enc, e)) return -1;
    const int zc = m->z_ch, h = w->enc.H, wd = w->enc.W;
    if (w->enc.C != 2 * zc) return err_set(e, "VAE training: the encoder gives %d channels, expected %d", w->enc.C, 2 * zc);
    const size_t hw = (size_t)h * wd, nz = (size_t)zc * hw;
    float *params = w->enc.y;
    if (m->quant.w >= 0) {
        params = buf(w, B_PARAMS, 2 * nz);
        vae_conv_forward_tape(m, &m->quant, w->enc.y, h, wd, &w->enc, params);
    }
    const float *mean = params, *logvar = params + nz;
    float *z = buf(w, B_Z, nz), *eps = buf(w, B_EPS, nz);
    double kl = 0.0;
    for (size_t i = 0; i < nz; i++) {
        float lv = clamp_logvar(logvar[i]), var = expf(lv);
        eps[i] = c->sample ? (float)rng_normal(rng) : 0.0f;
        z[i] = mean[i] + sqrtf(var) * eps[i];
        kl += 0.5 * ((double)mean[i] * mean[i] + var - 1.0 - lv);
    }
    const float *zin = z;
    if (m->post_quant.w >= 0) {
        float *zq = buf(w, B_ZIN, nz);
        vae_conv_forward_tape(m, &m->post_quant, z, h, wd, &w->dec, zq);
        zin = zq;
    }
    if (vae_net_forward_tape(m, &m->dec, zin, zc, h, wd, &w->dec, e)) return -1;
    if (w->dec.C != m->out_ch || w->dec.H != H || w->dec.W != W)
        return err_set(e, "VAE training: the decoder gives [%d, %d, %d], expected [%d, %d, %d]",
                       w->dec.C, w->dec.H, w->dec.W, m->out_ch, H, W);
    const float *y = w->dec.y;
    w->recon = y;
    const size_t P = (size_t)m->out_ch * H * W;
    double s1 = 0.0, s2 = 0.0;
    for (size_t i = 0; i < P; i++) { double d = (double)y[i] - x[i]; s1 += fabs(d); s2 += d * d; }
    VaeLossParts parts = { .l1 = s1 / (double)P, .l2 = s2 / (double)P, .kl = kl / (double)nz };
    parts.loss = c->l1 * parts.l1 + c->l2 * parts.l2 + c->kl * kl / (double)P;
    if (out) *out = parts;
    if (!g) return 0;

    /* backward */
    float *dout = buf(w, B_DOUT, P);
    const float a1 = grad_scale * c->l1 / (float)P, a2 = grad_scale * 2.0f * c->l2 / (float)P;
    for (size_t i = 0; i < P; i++) {
        float d = y[i] - x[i];
        dout[i] = a1 * (float)((d > 0) - (d < 0)) + a2 * d;
    }
    float *dzin = buf(w, B_DZIN, nz);
    vae_net_backward(m, &m->dec, &w->dec, dout, dzin, g);
    float *dz = dzin;
    if (m->post_quant.w >= 0) {
        dz = buf(w, B_DZ, nz);
        vae_conv_backward(m, &m->post_quant, z, h, wd, dzin, &w->dec, dz, g);
    }
    float *dparams = buf(w, B_DPARAMS, 2 * nz);
    const float akl = grad_scale * c->kl / (float)P;
    for (size_t i = 0; i < nz; i++) {
        float lv = logvar[i], var = expf(clamp_logvar(lv)), inside = lv >= -30.0f && lv <= 20.0f;
        dparams[i] = dz[i] + akl * mean[i];
        dparams[nz + i] = inside * (dz[i] * eps[i] * 0.5f * sqrtf(var) + akl * 0.5f * (var - 1.0f));
    }
    float *dh = dparams;
    if (m->quant.w >= 0) {
        dh = buf(w, B_DH, 2 * nz);
        vae_conv_backward(m, &m->quant, w->enc.y, h, wd, dparams, &w->enc, dh, g);
    }
    vae_net_backward(m, &m->enc, &w->enc, dh, NULL, g);
    return 0;
}
