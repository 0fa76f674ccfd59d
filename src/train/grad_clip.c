/* grad_clip.c — see grad_clip.h. */
#include <math.h>
#include <string.h>
#include "train/grad_clip.h"

int grad_clip_method_parse(const char *s, GradClipMethod *out, Err *e) {
    if (!s || !strcmp(s, "value")) { *out = GRAD_CLIP_VALUE; return 0; }
    if (!strcmp(s, "norm")) { *out = GRAD_CLIP_NORM; return 0; }
    return err_setc(e, EXIT_USAGE, "grad_clip_method '%s' is not supported; supported: value, norm", s);
}

double grad_global_norm(const TrainParam *params, int n) {
    double sum = 0;
    for (int i = 0; i < n; i++) {
        const float *g = params[i].grad;
        size_t len = params[i].numel;
        double part = 0;
        #pragma omp parallel for reduction(+ : part) schedule(static) if (len >= 65536)
        for (size_t j = 0; j < len; j++) part += (double)g[j] * g[j];
        sum += part;
    }
    return sqrt(sum);
}

static void scale_all(TrainParam *params, int n, float s) {
    for (int i = 0; i < n; i++)
        for (size_t j = 0; j < params[i].numel; j++) params[i].grad[j] *= s;
}

static void clamp_all(TrainParam *params, int n, float c) {
    for (int i = 0; i < n; i++)
        for (size_t j = 0; j < params[i].numel; j++) {
            float g = params[i].grad[j];
            params[i].grad[j] = g > c ? c : (g < -c ? -c : g);
        }
}

double grad_clip(TrainParam *params, int n, GradClipMethod method, double max_grad_norm) {
    double norm = grad_global_norm(params, n);
    if (!(max_grad_norm > 0)) return norm;
    if (method == GRAD_CLIP_VALUE) {
        clamp_all(params, n, (float)max_grad_norm);
    } else {
        double coef = max_grad_norm / (norm + 1e-6);
        if (coef < 1.0) scale_all(params, n, (float)coef);
    }
    return norm;
}
