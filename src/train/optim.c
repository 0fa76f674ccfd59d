/* optim.c — optimizer state, the step over a parameter list, and state save/load for exact resume. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "train/optim.h"
#include "train/optim_internal.h"

/* Which state buffers a method keeps. */
static int uses_m(const OptimConfig *c) { return c->kind != OPTIM_ADAMW_BF16 && (c->kind != OPTIM_OPTIMI_SGD || c->momentum != 0); }
static int uses_v(const OptimConfig *c) { return c->kind == OPTIM_TORCH_ADAMW || c->kind == OPTIM_OPTIMI_ADAMW; }
static int uses_vmax(const OptimConfig *c) { return c->kind == OPTIM_TORCH_ADAMW && c->amsgrad; }
static int is_bf16(const OptimConfig *c) { return c->kind == OPTIM_ADAMW_BF16; }

static float **alloc_f32_state(const TrainParam *ps, int n) {
    float **s = xcalloc((size_t)n, sizeof *s);
    for (int i = 0; i < n; i++) s[i] = xcalloc(ps[i].numel ? ps[i].numel : 1, sizeof(float));
    return s;
}

static uint16_t **alloc_bf16_state(const TrainParam *ps, int n) {
    uint16_t **s = xcalloc((size_t)n, sizeof *s);
    for (int i = 0; i < n; i++) s[i] = xcalloc(ps[i].numel ? ps[i].numel : 1, sizeof(uint16_t));
    return s;
}

int optim_init(Optimizer *o, const OptimConfig *c, const TrainParam *params, int n, uint64_t seed, Err *e) {
    memset(o, 0, sizeof *o);
    for (int i = 0; i < n; i++) {
        if (!params[i].name || !params[i].value || !params[i].grad)
            return err_set(e, "optimizer: parameter %d (%s) has no name, value or grad buffer", i,
                           params[i].name ? params[i].name : "unnamed");
        for (int j = 0; j < i; j++)
            if (!strcmp(params[i].name, params[j].name))
                return err_set(e, "optimizer: parameter name '%s' appears twice", params[i].name);
    }
    o->cfg = *c;
    o->n = n;
    o->params = xcalloc(n ? (size_t)n : 1, sizeof *o->params);
    if (n) memcpy(o->params, params, (size_t)n * sizeof *params);
    if (uses_m(c)) o->m = alloc_f32_state(params, n);
    if (uses_v(c)) o->v = alloc_f32_state(params, n);
    if (uses_vmax(c)) o->vmax = alloc_f32_state(params, n);
    rng_seed(&o->rng, seed);
    if (is_bf16(c)) {
        o->m16 = alloc_bf16_state(params, n);
        o->v16 = alloc_bf16_state(params, n);
        o->decay_owed = xcalloc(n ? (size_t)n : 1, sizeof *o->decay_owed);
        /* AdamWBF16 starts each tensor at a random phase so decays do not all land on one step. */
        for (int i = 0; i < n; i++) o->decay_owed[i] = rng_uniform(&o->rng) * ADAMW_BF16_DECAY_THRESHOLD;
    }
    return 0;
}

static void free_state(void **s, int n) {
    if (!s) return;
    for (int i = 0; i < n; i++) free(s[i]);
    free(s);
}

void optim_free(Optimizer *o) {
    free_state((void **)o->m, o->n); free_state((void **)o->v, o->n); free_state((void **)o->vmax, o->n);
    free_state((void **)o->m16, o->n); free_state((void **)o->v16, o->n);
    free(o->decay_owed); free(o->params);
    memset(o, 0, sizeof *o);
}

void optim_step(Optimizer *o, double lr) {
    const OptimConfig *c = &o->cfg;
    const int64_t t = ++o->step;
    /* adamw_bf16: one draw per step; each tensor gets its own stream from it. */
    const uint64_t step_seed = is_bf16(c) ? rng_u64(&o->rng) : 0;
    for (int i = 0; i < o->n; i++) {
        const TrainParam *p = &o->params[i];
        switch (c->kind) {
        case OPTIM_TORCH_ADAMW:
            adamw_torch_update(c, t, lr, p->value, p->grad, o->m[i], o->v[i], o->vmax ? o->vmax[i] : NULL, p->numel);
            break;
        case OPTIM_OPTIMI_ADAMW:
            adamw_optimi_update(c, t, lr, p->value, p->grad, o->m[i], o->v[i], p->numel);
            break;
        case OPTIM_ADAMW_BF16: {
            double decay = adamw_bf16_take_decay(&o->decay_owed[i], c->weight_decay, lr);
            adamw_bf16_update(c, t, lr, decay, hash64(&i, sizeof i, step_seed), p->value, p->grad,
                              o->m16[i], o->v16[i], p->numel);
            break;
        }
        case OPTIM_OPTIMI_LION:
            lion_update(c, lr, p->value, p->grad, o->m[i], p->numel);
            break;
        case OPTIM_OPTIMI_SGD:
            sgd_update(c, t, lr, p->value, p->grad, o->m ? o->m[i] : NULL, p->numel);
            break;
        }
    }
}

/* ---- state files ---------------------------------------------------------------------------- */

static void add_buffer(StWriter *w, const char *param, const char *buf, DType dt, size_t numel, const void *data) {
    char *name = xasprintf("%s.%s", param, buf);
    int64_t shape[1] = { (int64_t)numel };
    stw_add(w, name, dt, 1, shape, data);
    free(name);
}

void optim_state_save(const Optimizer *o, StWriter *w) {
    char text[128];
    stw_set_meta(w, "optimizer", optim_name(o->cfg.kind));
    snprintf(text, sizeof text, "%" PRId64, o->step);
    stw_set_meta(w, "step", text);
    snprintf(text, sizeof text, "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64,
             o->rng.s[0], o->rng.s[1], o->rng.s[2], o->rng.s[3]);
    stw_set_meta(w, "rng", text);
    for (int i = 0; i < o->n; i++) {
        const TrainParam *p = &o->params[i];
        if (o->m) add_buffer(w, p->name, "exp_avg", DT_F32, p->numel, o->m[i]);
        if (o->v) add_buffer(w, p->name, "exp_avg_sq", DT_F32, p->numel, o->v[i]);
        if (o->vmax) add_buffer(w, p->name, "max_exp_avg_sq", DT_F32, p->numel, o->vmax[i]);
        if (o->m16) add_buffer(w, p->name, "exp_avg", DT_BF16, p->numel, o->m16[i]);
        if (o->v16) add_buffer(w, p->name, "exp_avg_sq", DT_BF16, p->numel, o->v16[i]);
        if (o->decay_owed) add_buffer(w, p->name, "accumulated_decay", DT_F64, 1, &o->decay_owed[i]);
    }
}

static int load_buffer(const StFile *f, const char *param, const char *buf, DType dt, size_t numel, void *dst, Err *e) {
    char *name = xasprintf("%s.%s", param, buf);
    const StTensor *t = st_find(f, name);
    int rc = 0;
    if (!t) rc = err_set(e, "%s: optimizer state tensor '%s' is missing", f->path, name);
    else if (t->dtype != dt || t->numel != numel)
        rc = err_set(e, "%s: optimizer state tensor '%s' is %s with %zu elements, expected %s with %zu",
                     f->path, name, dtype_name(t->dtype), t->numel, dtype_name(dt), numel);
    else memcpy(dst, t->data, numel * dtype_size(dt));
    free(name);
    return rc;
}

static int parse_rng(const char *s, Rng *r) {
    if (!s || strlen(s) != 64) return -1;
    for (int k = 0; k < 4; k++) {
        char part[17];
        memcpy(part, s + 16 * k, 16); part[16] = 0;
        char *end;
        r->s[k] = strtoull(part, &end, 16);
        if (*end) return -1;
    }
    return 0;
}

int optim_state_load(Optimizer *o, const StFile *f, Err *e) {
    const char *name = st_meta(f, "optimizer"), *step = st_meta(f, "step");
    if (!name || strcmp(name, optim_name(o->cfg.kind)))
        return err_set(e, "%s: optimizer state is for '%s', but this run uses '%s'", f->path,
                       name ? name : "(none)", optim_name(o->cfg.kind));
    char *end;
    long long steps = step ? strtoll(step, &end, 10) : -1;
    if (!step || *end || steps < 0) return err_set(e, "%s: metadata 'step' is missing or not a count", f->path);
    Rng rng;
    if (parse_rng(st_meta(f, "rng"), &rng)) return err_set(e, "%s: metadata 'rng' is missing or malformed", f->path);
    for (int i = 0; i < o->n; i++) {
        const TrainParam *p = &o->params[i];
        if ((o->m && load_buffer(f, p->name, "exp_avg", DT_F32, p->numel, o->m[i], e)) ||
            (o->v && load_buffer(f, p->name, "exp_avg_sq", DT_F32, p->numel, o->v[i], e)) ||
            (o->vmax && load_buffer(f, p->name, "max_exp_avg_sq", DT_F32, p->numel, o->vmax[i], e)) ||
            (o->m16 && load_buffer(f, p->name, "exp_avg", DT_BF16, p->numel, o->m16[i], e)) ||
            (o->v16 && load_buffer(f, p->name, "exp_avg_sq", DT_BF16, p->numel, o->v16[i], e)) ||
            (o->decay_owed && load_buffer(f, p->name, "accumulated_decay", DT_F64, 1, &o->decay_owed[i], e)))
            return -1;
    }
    o->step = steps;
    o->rng = rng;
    return 0;
}
