/* run-module component "QwenImageTransformer2DModel": for every case <c> (a <c>.timestep input):
 * forward of each sample with its text mask and img_shapes, loss = Σ output·grad_weight, backward;
 * writes <c>.output, .loss, .grad.hidden_states, .grad.encoder_hidden_states, .grad.param.<name>
 * for every parameter, and the intermediates <c>.inter.*. Cases named *_zct use
 * config_zero_cond_t.json from the same directory. */
#include "cli/run_module/run_module.h"
#include "base/files.h"
#include "models/qwen_image/qwen_image.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t *int_input(RunModule *rm, const char *c, const char *what, const StTensor **t, Err *e) {
    char name[512];
    snprintf(name, sizeof name, "%s.%s", c, what);
    const StTensor *x = rm_input(rm, name, e);
    if (!x) return NULL;
    if (t) *t = x;
    int64_t *v = xmalloc(x->numel * sizeof(int64_t));
    float *f = st_to_f32(x);
    for (size_t i = 0; i < x->numel; i++) v[i] = (int64_t)f[i];
    free(f);
    return v;
}

static void out_f32(RunModule *rm, const char *c, const char *what, int nd, int64_t d0, int64_t d1, int64_t d2, const float *x) {
    char *name = xasprintf("%s.%s", c, what);
    int64_t shape[3] = {d0, d1, d2};
    rm_output_f32(rm, name, nd, shape, x);
    free(name);
}

static int run_case(RunModule *rm, const char *c, Err *e) {
    cJSON *cfg = rm->config, *own = NULL;
    size_t lc = strlen(c);
    if (lc > 4 && !strcmp(c + lc - 4, "_zct")) {
        char *p = path_join(rm->dir, "config_zero_cond_t.json");
        char *txt = file_read_all(p, NULL, e);
        free(p);
        if (!txt) return -1;
        own = cJSON_Parse(txt); free(txt);
        if (!own) return err_set(e, "%s/config_zero_cond_t.json: not valid JSON", rm->dir);
        cfg = own;
    }
    if (!rm->weights) { cJSON_Delete(own); return err_set(e, "%s: weights.safetensors is missing", rm->dir); }
    StSet set = {1, rm->weights};
    QiModel m;
    int rc = qi_load_from(&m, cfg, &set, e);
    cJSON_Delete(own);
    if (rc) return -1;
    qi_train_full(&m, e);
    int n_params;
    const TrainParam *params = qi_full_params(&m, &n_params);
    const QiConfig *q = &m.cfg;
    char name[256];
    const StTensor *th = NULL, *tt = NULL, *tm = NULL, *ts = NULL, *tg = NULL, *tshape = NULL;
    float *hs = NULL, *txt = NULL, *ts_v = NULL, *gw = NULL, *out = NULL, *dimg = NULL, *dtxt = NULL;
    int64_t *mask = NULL, *shapes = NULL;
    rc = -1;
    snprintf(name, sizeof name, "%s.hidden_states", c); if (!(hs = rm_input_f32(rm, name, &th, e))) goto done;
    snprintf(name, sizeof name, "%s.encoder_hidden_states", c); if (!(txt = rm_input_f32(rm, name, &tt, e))) goto done;
    snprintf(name, sizeof name, "%s.timestep", c); if (!(ts_v = rm_input_f32(rm, name, &ts, e))) goto done;
    snprintf(name, sizeof name, "%s.grad_weight", c); gw = NULL;
    const StTensor *tgw = rm_input_opt(rm, name);
    if (tgw) { gw = st_to_f32(tgw); tg = tgw; }
    snprintf(name, sizeof name, "%s.encoder_hidden_states_mask", c);
    tm = rm_input_opt(rm, name);
    if (tm) { float *f = st_to_f32(tm); mask = xmalloc(tm->numel * sizeof(int64_t)); for (size_t i = 0; i < tm->numel; i++) mask[i] = (int64_t)f[i]; free(f); }
    snprintf(name, sizeof name, "%s.txt_seq_lens", c); rm_input_opt(rm, name); /* informational */
    if (!(shapes = int_input(rm, c, "img_shapes", &tshape, e))) goto done;
    if (th->ndim != 3 || tt->ndim != 3 || tshape->ndim != 3 || tshape->shape[2] != 3) { err_set(e, "case %s: unexpected tensor ranks", c); goto done; }
    const int B = (int)th->shape[0], N = (int)th->shape[1], Cin = (int)th->shape[2], L = (int)tt->shape[1], T = (int)tt->shape[2];
    const int n_img = (int)tshape->shape[1], D = q->dim, Cout = q->patch_size * q->patch_size * q->out_channels, hp = q->head_dim / 2;
    const int n_sets = q->zero_cond_t ? 2 : 1;
    if (Cin != q->in_channels || T != q->joint_attention_dim) { err_set(e, "case %s: hidden_states/encoder_hidden_states widths %d/%d, model expects %d/%d", c, Cin, T, q->in_channels, q->joint_attention_dim); goto done; }
    out = xmalloc((size_t)B * N * Cout * sizeof(float));
    dimg = xmalloc((size_t)B * N * Cin * sizeof(float));
    dtxt = xmalloc((size_t)B * L * T * sizeof(float));
    float *tr_img_in = xmalloc((size_t)B * N * D * 4), *tr_txt_in = xmalloc((size_t)B * L * D * 4), *tr_norm = xmalloc((size_t)B * N * D * 4);
    float *tr_temb = xmalloc((size_t)B * n_sets * D * 4);
    float *rc_i = xmalloc((size_t)N * hp * 4), *rs_i = xmalloc((size_t)N * hp * 4), *rc_t = xmalloc((size_t)L * hp * 4), *rs_t = xmalloc((size_t)L * hp * 4);
    float **bi_all = xmalloc((size_t)q->num_layers * sizeof(float *)), **bt_all = xmalloc((size_t)q->num_layers * sizeof(float *));
    for (int l = 0; l < q->num_layers; l++) {
        bi_all[l] = xmalloc((size_t)B * N * D * 4); bt_all[l] = xmalloc((size_t)B * L * D * 4);
    }
    unsigned char *m8 = xmalloc((size_t)L);
    double loss = 0;
    rc = 0;
    for (int b = 0; b < B && !rc; b++) {
        QiInput in = {0};
        in.n_img = n_img;
        int sum = 0;
        for (int k = 0; k < n_img && k < QI_MAX_IMAGES; k++) {
            /* img_shapes of sample 0 drive RoPE (upstream); each entry is (frames, h, w) */
            in.img_h[k] = (int)shapes[(size_t)k * 3 + 1]; in.img_w[k] = (int)shapes[(size_t)k * 3 + 2];
            sum += in.img_h[k] * in.img_w[k] * (int)shapes[(size_t)k * 3];
        }
        if (sum != N) { rc = err_set(e, "case %s: img_shapes cover %d tokens, hidden_states has %d", c, sum, N); break; }
        in.img = hs + (size_t)b * N * Cin;
        in.txt_len = L; in.txt = txt + (size_t)b * L * T;
        for (int t = 0; t < L; t++) m8[t] = mask ? mask[(size_t)b * L + t] != 0 : 1;
        in.txt_mask = m8;
        in.timestep = ts_v[ts->numel > 1 ? b : 0];
        in.training = 1;
        StWriter cap; stw_init(&cap);
        Trace tr = {rm_capture, &cap, NULL};
        float *ob = out + (size_t)b * N * Cout;
        rc = qi_forward(&m, &in, ob, &tr, e);
        /* per sample: stacked along the batch; RoPE tables are the same for every sample */
        const float *x;
        if (!rc && (x = rm_captured(&cap, "img_in", e))) memcpy(tr_img_in + (size_t)b * N * D, x, (size_t)N * D * 4); else rc = -1;
        if (!rc && (x = rm_captured(&cap, "txt_in", e))) memcpy(tr_txt_in + (size_t)b * L * D, x, (size_t)L * D * 4); else rc = -1;
        if (!rc && (x = rm_captured(&cap, "norm_out", e))) memcpy(tr_norm + (size_t)b * N * D, x, (size_t)N * D * 4); else rc = -1;
        if (!rc && (x = rm_captured(&cap, "temb", e)))   /* upstream's layout: set-major, [sets·B, D] */
            for (int k = 0; k < n_sets; k++) memcpy(tr_temb + ((size_t)k * B + b) * D, x + (size_t)k * D, (size_t)D * 4);
        else rc = -1;
        const char *rope[4] = {"rope_img_cos", "rope_img_sin", "rope_txt_cos", "rope_txt_sin"};
        float *rope_out[4] = {rc_i, rs_i, rc_t, rs_t};
        size_t rope_n[4] = {(size_t)N * hp, (size_t)N * hp, (size_t)L * hp, (size_t)L * hp};
        for (int k = 0; k < 4 && !rc; k++) { if ((x = rm_captured(&cap, rope[k], e))) memcpy(rope_out[k], x, rope_n[k] * 4); else rc = -1; }
        for (int l = 0; l < q->num_layers && !rc; l++) {
            char nm[48];
            snprintf(nm, sizeof nm, "block%d.img", l);
            if ((x = rm_captured(&cap, nm, e))) memcpy(bi_all[l] + (size_t)b * N * D, x, (size_t)N * D * 4); else rc = -1;
            snprintf(nm, sizeof nm, "block%d.txt", l);
            if (!rc && (x = rm_captured(&cap, nm, e))) memcpy(bt_all[l] + (size_t)b * L * D, x, (size_t)L * D * 4); else rc = -1;
        }
        stw_free(&cap);
        if (rc) break;
        if (gw) {
            const float *g = gw + (size_t)b * N * Cout;
            for (size_t i = 0; i < (size_t)N * Cout; i++) loss += (double)ob[i] * g[i];
            rc = qi_backward(&m, g, dimg + (size_t)b * N * Cin, dtxt + (size_t)b * L * T, e);
        }
    }
    if (!rc) {
        out_f32(rm, c, "output", 3, B, N, Cout, out);
        out_f32(rm, c, "inter.img_in", 3, B, N, D, tr_img_in);
        out_f32(rm, c, "inter.txt_in", 3, B, L, D, tr_txt_in);
        out_f32(rm, c, "inter.norm_out", 3, B, N, D, tr_norm);
        out_f32(rm, c, "inter.temb", 2, (int64_t)n_sets * B, D, 0, tr_temb);
        out_f32(rm, c, "inter.rope_img_cos", 2, N, hp, 0, rc_i);
        out_f32(rm, c, "inter.rope_img_sin", 2, N, hp, 0, rs_i);
        out_f32(rm, c, "inter.rope_txt_cos", 2, L, hp, 0, rc_t);
        out_f32(rm, c, "inter.rope_txt_sin", 2, L, hp, 0, rs_t);
        for (int l = 0; l < q->num_layers; l++) {
            char w[64];
            snprintf(w, sizeof w, "inter.block%d.img", l); out_f32(rm, c, w, 3, B, N, D, bi_all[l]);
            snprintf(w, sizeof w, "inter.block%d.txt", l); out_f32(rm, c, w, 3, B, L, D, bt_all[l]);
        }
        if (gw) {
            float lf = (float)loss;
            out_f32(rm, c, "loss", 1, 1, 0, 0, &lf);
            out_f32(rm, c, "grad.hidden_states", 3, B, N, Cin, dimg);
            out_f32(rm, c, "grad.encoder_hidden_states", 3, B, L, T, dtxt);
            for (int i = 0; i < n_params; i++) {
                char w[512];
                snprintf(w, sizeof w, "grad.param.%s", params[i].name);
                const TrainParam *tp = &params[i];
                out_f32(rm, c, w, tp->ndim == 2 ? 2 : 1, tp->ndim == 2 ? tp->shape[0] : (int64_t)tp->numel, tp->shape[1], 0, tp->grad);
            }
        }
    }
    for (int l = 0; l < q->num_layers; l++) { free(bi_all[l]); free(bt_all[l]); }
    free(bi_all); free(bt_all); free(m8);
    free(tr_img_in); free(tr_txt_in); free(tr_norm); free(tr_temb); free(rc_i); free(rs_i); free(rc_t); free(rs_t);
done:
    (void)tg;
    free(hs); free(txt); free(ts_v); free(gw); free(out); free(dimg); free(dtxt); free(mask); free(shapes);
    qi_free(&m);
    return rc;
}

int qwen_image_transformer_run_module(RunModule *rm, Err *e) {
    char **cases; int n = rm_cases(rm, "timestep", &cases);
    if (n == 0) return err_set(e, "io.safetensors has no <case>.timestep input");
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) if ((rc = run_case(rm, cases[i], e))) err_prefix(e, "case %s", cases[i]);
    rm_free_cases(cases, n);
    return rc;
}
