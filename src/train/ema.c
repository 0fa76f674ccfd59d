/* ema.c — the update rule and bookkeeping described in ema.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "train/ema.h"

void ema_config_init(EmaConfig *c) {
    c->decay = 0.995;
    c->update_interval = 1;
    c->warmup_steps = 0;
}

int ema_init(Ema *m, const EmaConfig *c, const TrainParam *params, int n, Err *e) {
    memset(m, 0, sizeof *m);
    if (!(c->decay >= 0 && c->decay <= 1))
        return err_setc(e, EXIT_USAGE, "ema_decay must be in [0, 1] (got %g)", c->decay);
    if (c->update_interval < 1)
        return err_setc(e, EXIT_USAGE, "ema_update_interval must be >= 1 (got %lld)", (long long)c->update_interval);
    m->cfg = *c;
    m->n = n;
    m->params = xcalloc(n ? (size_t)n : 1, sizeof *m->params);
    if (n) memcpy(m->params, params, (size_t)n * sizeof *params);
    m->shadow = xcalloc(n ? (size_t)n : 1, sizeof *m->shadow);
    for (int i = 0; i < n; i++) {
        m->shadow[i] = xmalloc((params[i].numel ? params[i].numel : 1) * sizeof(float));
        memcpy(m->shadow[i], params[i].value, params[i].numel * sizeof(float));
    }
    return 0;
}

void ema_free(Ema *m) {
    for (int i = 0; i < m->n; i++) free(m->shadow[i]);
    free(m->shadow);
    free(m->params);
    memset(m, 0, sizeof *m);
}

double ema_decay_at(const EmaConfig *c, int64_t global_step) {
    if (c->warmup_steps > 0) return global_step < c->warmup_steps ? 0.0 : c->decay;
    int64_t s = global_step - 1;
    if (s <= 0) return 0.0;
    double d = (1.0 + (double)s) / (10.0 + (double)s);
    return d < c->decay ? d : c->decay;
}

int ema_step(Ema *m, int64_t global_step) {
    if (global_step % m->cfg.update_interval != 0) return 0;
    m->optimization_step = global_step;
    double d = ema_decay_at(&m->cfg, global_step);
    m->last_decay = d;
    const float one_minus = (float)(1.0 - d);
    for (int i = 0; i < m->n; i++) {
        float *s = m->shadow[i];
        const float *p = m->params[i].value;
        size_t n = m->params[i].numel;
        #pragma omp parallel for schedule(static) if (n >= 65536)
        for (size_t j = 0; j < n; j++) s[j] -= one_minus * (s[j] - p[j]);
    }
    return 1;
}

void ema_swap(Ema *m) {
    for (int i = 0; i < m->n; i++) {
        float *s = m->shadow[i], *p = m->params[i].value;
        for (size_t j = 0; j < m->params[i].numel; j++) { float t = s[j]; s[j] = p[j]; p[j] = t; }
    }
}

void ema_state_save(const Ema *m, StWriter *w) {
    char text[32];
    snprintf(text, sizeof text, "%" PRId64, m->optimization_step);
    stw_set_meta(w, "ema_optimization_step", text);
    for (int i = 0; i < m->n; i++) {
        int64_t shape[1] = { (int64_t)m->params[i].numel };
        stw_add_f32(w, m->params[i].name, 1, shape, m->shadow[i]);
    }
}

int ema_state_load(Ema *m, const StFile *f, Err *e) {
    const char *step = st_meta(f, "ema_optimization_step");
    char *end = NULL;
    long long s = step ? strtoll(step, &end, 10) : -1;
    if (!step || *end || s < 0) return err_set(e, "%s: metadata 'ema_optimization_step' is missing or not a count", f->path);
    for (int i = 0; i < m->n; i++) {
        const StTensor *t = st_find(f, m->params[i].name);
        if (!t) return err_set(e, "%s: EMA tensor '%s' is missing", f->path, m->params[i].name);
        if (t->dtype != DT_F32 || t->numel != m->params[i].numel)
            return err_set(e, "%s: EMA tensor '%s' is %s with %zu elements, expected F32 with %zu", f->path,
                           m->params[i].name, dtype_name(t->dtype), t->numel, m->params[i].numel);
    }
    for (int i = 0; i < m->n; i++) memcpy(m->shadow[i], st_find(f, m->params[i].name)->data, m->params[i].numel * sizeof(float));
    m->optimization_step = s;
    return 0;
}
