/* optim_config.c — SimpleTuner's optimizer names, defaults and optimizer_config parsing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "train/optim.h"
#include "config/config.h"

static const struct { OptimKind kind; const char *name; } NAMES[] = {
    { OPTIM_ADAMW_BF16, "adamw_bf16" },     { OPTIM_TORCH_ADAMW, "torch-adamw" },
    { OPTIM_OPTIMI_ADAMW, "optimi-adamw" }, { OPTIM_OPTIMI_LION, "optimi-lion" },
    { OPTIM_OPTIMI_SGD, "optimi-sgd" },
};
enum { N_NAMES = sizeof NAMES / sizeof NAMES[0] };

const char *optim_name(OptimKind k) {
    for (int i = 0; i < N_NAMES; i++) if (NAMES[i].kind == k) return NAMES[i].name;
    return "?";
}

const char *optim_supported_names(void) {
    return "adamw_bf16, torch-adamw, optimi-adamw, optimi-lion, optimi-sgd";
}

void optim_user_keys_init(OptimUserKeys *k) {
    memset(k, 0, sizeof *k);
    k->learning_rate = k->optimizer_beta1 = k->optimizer_beta2 = NAN;
    k->adam_beta1 = k->adam_beta2 = k->adam_weight_decay = k->adam_epsilon = NAN;
}

/* Defaults from SimpleTuner's optimizer_choices table (optimizer_param.py). */
static void config_defaults(OptimKind kind, OptimConfig *c) {
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->max_lr = NAN;
    switch (kind) {
    case OPTIM_ADAMW_BF16:   c->beta1 = 0.9; c->beta2 = 0.999; c->weight_decay = 1e-2; c->eps = 1e-6; break;
    case OPTIM_TORCH_ADAMW:  c->beta1 = 0.9; c->beta2 = 0.999; c->weight_decay = 1e-2; c->eps = 1e-8; break;
    case OPTIM_OPTIMI_ADAMW: c->beta1 = 0.9; c->beta2 = 0.99;  c->weight_decay = 0.0;  c->eps = 1e-6; break;
    case OPTIM_OPTIMI_LION:  c->beta1 = 0.9; c->beta2 = 0.99;  c->weight_decay = 0.0;  break;
    case OPTIM_OPTIMI_SGD:   c->momentum = 0; c->weight_decay = 0.0; c->dampening = 0; break;
    }
}

/* A value as SimpleTuner's convert_arg_to_parameters types it: contains "." → float; all digits →
 * int; true/false/none (any case); contains "e-" → float; anything else stays a string
 * (so "1e3" and "-1" are strings there, and rejected here for numeric keys). */
typedef enum { V_NUM, V_BOOL, V_NONE, V_STR } ValKind;
typedef struct { ValKind kind; double num; int truth; } Val;

static int all_digits(const char *s) {
    if (!*s) return 0;
    for (; *s; s++) if (*s < '0' || *s > '9') return 0;
    return 1;
}

static int parse_float_full(const char *s, double *out) {
    char *end;
    *out = strtod(s, &end);
    return end != s && *end == 0;
}

static int val_parse(const char *key, const char *s, Val *v, Err *e) {
    memset(v, 0, sizeof *v);
    if (strchr(s, '.') || (!all_digits(s) && strstr(s, "e-"))) {
        if (!parse_float_full(s, &v->num))
            return err_setc(e, EXIT_USAGE, "optimizer_config: %s=%s is not a number", key, s);
        v->kind = V_NUM; v->truth = v->num != 0;
    } else if (all_digits(s)) {
        v->kind = V_NUM; v->num = strtod(s, NULL); v->truth = v->num != 0;
    } else if (!strcasecmp(s, "true") || !strcasecmp(s, "false")) {
        v->kind = V_BOOL; v->truth = !strcasecmp(s, "true"); v->num = v->truth;
    } else if (!strcasecmp(s, "none")) {
        v->kind = V_NONE;
    } else {
        v->kind = V_STR; v->truth = *s != 0;
    }
    return 0;
}

/* Which constructor arguments each optimizer class takes (keys outside its signature are dropped
 * with a warning, as SimpleTuner's _sanitize_optimizer_kwargs does). */
enum {
    K_LR = 1 << 0, K_EPS = 1 << 1, K_WD = 1 << 2, K_AMSGRAD = 1 << 3, K_MAXIMIZE = 1 << 4,
    K_DECOUPLE_LR = 1 << 5, K_MAX_LR = 1 << 6, K_MOMENTUM = 1 << 7, K_DAMPENING = 1 << 8,
    K_DECOUPLE_WD = 1 << 9, K_TORCH_INIT = 1 << 10, K_BETAS = 1 << 11,
    K_IGNORED = 1 << 12, /* accepted, no effect on f32 CPU math (foreach, fused, kahan_sum, …) */
};
static int accepted_keys(OptimKind k) {
    switch (k) {
    case OPTIM_ADAMW_BF16:   return K_LR | K_BETAS | K_EPS | K_WD;
    case OPTIM_TORCH_ADAMW:  return K_LR | K_BETAS | K_EPS | K_WD | K_AMSGRAD | K_MAXIMIZE | K_IGNORED;
    case OPTIM_OPTIMI_ADAMW: return K_LR | K_BETAS | K_EPS | K_WD | K_DECOUPLE_LR | K_MAX_LR | K_IGNORED;
    case OPTIM_OPTIMI_LION:  return K_LR | K_BETAS | K_WD | K_DECOUPLE_LR | K_MAX_LR | K_IGNORED;
    case OPTIM_OPTIMI_SGD:   return K_LR | K_WD | K_MOMENTUM | K_DAMPENING | K_DECOUPLE_WD | K_DECOUPLE_LR
                                    | K_MAX_LR | K_TORCH_INIT | K_IGNORED;
    }
    return 0;
}

static int key_flag(OptimKind kind, const char *key) {
    static const struct { const char *key; int flag; } KEYS[] = {
        { "lr", K_LR }, { "eps", K_EPS }, { "weight_decay", K_WD }, { "amsgrad", K_AMSGRAD },
        { "maximize", K_MAXIMIZE }, { "decouple_lr", K_DECOUPLE_LR }, { "max_lr", K_MAX_LR },
        { "momentum", K_MOMENTUM }, { "dampening", K_DAMPENING }, { "decouple_wd", K_DECOUPLE_WD },
        { "torch_init", K_TORCH_INIT }, { "betas", K_BETAS },
    };
    for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++)
        if (!strcmp(KEYS[i].key, key)) return KEYS[i].flag;
    static const char *IGNORED_TORCH[] = { "foreach", "capturable", "differentiable", "fused" };
    static const char *IGNORED_OPTIMI[] = { "kahan_sum", "foreach", "triton", "gradient_release" };
    const char **list = kind == OPTIM_TORCH_ADAMW ? IGNORED_TORCH : IGNORED_OPTIMI;
    for (int i = 0; i < 4; i++) if (!strcmp(list[i], key)) return K_IGNORED;
    return 0;
}

static int need_number(const char *key, const char *raw, const Val *v, Err *e) {
    if (v->kind != V_NUM)
        return err_setc(e, EXIT_USAGE, "optimizer_config: %s=%s must be a number (SimpleTuner reads only "
                        "values with a '.' or 'e-', or plain digits, as numbers)", key, raw);
    return 0;
}

static int need_flag(const char *key, const char *raw, const Val *v, Err *e) {
    if (v->kind == V_STR)
        return err_setc(e, EXIT_USAGE, "optimizer_config: %s=%s must be true or false", key, raw);
    return 0;
}

static int apply_entry(OptimConfig *c, const char *key, const char *raw, Err *e) {
    int flag = key_flag(c->kind, key);
    if (!flag || !(accepted_keys(c->kind) & flag)) {
        log_warn("optimizer_config: %s does not take '%s'; dropped (as SimpleTuner does)", optim_name(c->kind), key);
        return 0;
    }
    if (flag == K_BETAS)
        return err_setc(e, EXIT_USAGE, "optimizer_config: betas cannot be given here (its comma splits the list); "
                        "set optimizer_beta1 and optimizer_beta2 instead");
    Val v;
    if (val_parse(key, raw, &v, e)) return -1;
    switch (flag) {
    case K_LR:       if (need_number(key, raw, &v, e)) return -1; c->lr = v.num; break;
    case K_EPS:      if (need_number(key, raw, &v, e)) return -1; c->eps = v.num; break;
    case K_WD:       if (need_number(key, raw, &v, e)) return -1; c->weight_decay = v.num; break;
    case K_MOMENTUM: if (need_number(key, raw, &v, e)) return -1; c->momentum = v.num; break;
    case K_MAX_LR:
        if (v.kind == V_NONE) { c->max_lr = NAN; break; }
        if (need_number(key, raw, &v, e)) return -1;
        c->max_lr = v.num; break;
    case K_AMSGRAD:     if (need_flag(key, raw, &v, e)) return -1; c->amsgrad = v.truth; break;
    case K_MAXIMIZE:    if (need_flag(key, raw, &v, e)) return -1; c->maximize = v.truth; break;
    case K_DECOUPLE_LR: if (need_flag(key, raw, &v, e)) return -1; c->decouple_lr = v.truth; break;
    case K_DECOUPLE_WD: if (need_flag(key, raw, &v, e)) return -1; c->decouple_wd = v.truth; break;
    case K_DAMPENING:   if (need_flag(key, raw, &v, e)) return -1; c->dampening = v.truth; break;
    case K_TORCH_INIT:  if (need_flag(key, raw, &v, e)) return -1; c->torch_init = v.truth; break;
    default: break; /* K_IGNORED */
    }
    return 0;
}

/* "k=v,k=v": entries split on ',' then on '='; spaces around keys and values are not trimmed
 * upstream either, so they are reported. */
static int apply_optimizer_config(OptimConfig *c, const char *text, Err *e) {
    char *buf = xstrdup(text), *save = NULL;
    int rc = 0;
    for (char *ent = strtok_r(buf, ",", &save); ent && !rc; ent = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(ent, '=');
        if (!eq || eq == ent || strchr(eq + 1, '=')) {
            rc = err_setc(e, EXIT_USAGE, "optimizer_config: entry \"%s\" is not key=value "
                          "(expected e.g. \"weight_decay=0.0,eps=1e-6\")", ent);
            break;
        }
        *eq = 0;
        rc = apply_entry(c, ent, eq + 1, e);
    }
    free(buf);
    return rc;
}

static int validate(const OptimConfig *c, Err *e) {
    const char *n = optim_name(c->kind);
    if (!(c->lr >= 0)) return err_setc(e, EXIT_USAGE, "%s: learning rate %g must be >= 0", n, c->lr);
    if (!(c->weight_decay >= 0)) return err_setc(e, EXIT_USAGE, "%s: weight_decay %g must be >= 0", n, c->weight_decay);
    if (!(c->eps >= 0)) return err_setc(e, EXIT_USAGE, "%s: eps %g must be >= 0", n, c->eps);
    if (c->kind != OPTIM_OPTIMI_SGD) {
        if (!(c->beta1 >= 0 && c->beta1 < 1)) return err_setc(e, EXIT_USAGE, "%s: beta1 %g must be in [0, 1)", n, c->beta1);
        if (!(c->beta2 >= 0 && c->beta2 < 1)) return err_setc(e, EXIT_USAGE, "%s: beta2 %g must be in [0, 1)", n, c->beta2);
    } else if (!(c->momentum >= 0 && c->momentum < 1)) {
        return err_setc(e, EXIT_USAGE, "%s: momentum %g must be in [0, 1)", n, c->momentum);
    }
    if (c->decouple_lr && !(c->max_lr > 0))
        return err_setc(e, EXIT_USAGE, "%s: decouple_lr needs max_lr > 0 (got %g)", n, c->max_lr);
    return 0;
}

/* adam_* keys are DeepSpeed-only upstream; say so when a user sets one expecting an effect. */
static void warn_ignored_adam_keys(const OptimUserKeys *k, const OptimConfig *c) {
    struct { const char *key; double set, used; } ks[] = {
        { "adam_beta1", k->adam_beta1, c->beta1 }, { "adam_beta2", k->adam_beta2, c->beta2 },
        { "adam_weight_decay", k->adam_weight_decay, c->weight_decay }, { "adam_epsilon", k->adam_epsilon, c->eps },
    };
    for (int i = 0; i < 4; i++)
        if (!isnan(ks[i].set) && ks[i].set != ks[i].used)
            log_warn("%s=%g has no effect on %s (SimpleTuner passes it only to DeepSpeed); it uses %g. "
                     "Set it through optimizer_config instead", ks[i].key, ks[i].set, optim_name(c->kind), ks[i].used);
}

int optim_config_resolve(const OptimUserKeys *k, OptimConfig *out, Err *e) {
    if (!k->optimizer || !*k->optimizer)
        return err_setc(e, EXIT_USAGE, "optimizer is required; supported: %s", optim_supported_names());
    int kind = -1;
    for (int i = 0; i < N_NAMES; i++) if (!strcmp(NAMES[i].name, k->optimizer)) kind = (int)NAMES[i].kind;
    if (!strcmp(k->optimizer, "adam_bfloat16")) kind = OPTIM_ADAMW_BF16; /* SimpleTuner's old alias */
    if (kind < 0)
        return err_setc(e, EXIT_USAGE, "optimizer '%s' is not supported; supported: %s", k->optimizer,
                        optim_supported_names());
    config_defaults((OptimKind)kind, out);
    out->lr = k->learning_rate;
    if (isnan(out->lr)) out->lr = option_default_num("learning_rate");
    if (k->optimizer_config && *k->optimizer_config && apply_optimizer_config(out, k->optimizer_config, e))
        return -1;
    if (!isnan(k->optimizer_beta1) && !isnan(k->optimizer_beta2)) {
        if (out->kind == OPTIM_OPTIMI_SGD)
            log_warn("optimizer_beta1/optimizer_beta2: optimi-sgd has no betas; dropped");
        else { out->beta1 = k->optimizer_beta1; out->beta2 = k->optimizer_beta2; }
    }
    if (out->decouple_lr && isnan(out->max_lr)) out->max_lr = out->lr; /* optimi: max_lr defaults to lr */
    if (validate(out, e)) return -1;
    warn_ignored_adam_keys(k, out);
    return 0;
}
