#include "pipeline/progress.h"
#include <unistd.h>

void progress_init(Progress *p, FILE *out, int64_t first_step, int64_t total_steps) {
    p->out = out;
    p->tty = isatty(fileno(out));
    p->open_line = 0;
    p->first = first_step;
    p->total = total_steps;
    clock_gettime(CLOCK_MONOTONIC, &p->t0);
}

void progress_format_duration(double s, char *buf, size_t cap) {
    long t = s < 0 ? 0 : (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, cap, "%ldh%02ldm%02lds", t / 3600, t / 60 % 60, t % 60);
    else if (t >= 60) snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, cap, "%lds", t);
}

void progress_step(Progress *p, int64_t step, double loss, double lr, double grad_norm) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double elapsed = (double)(t1.tv_sec - p->t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - p->t0.tv_nsec);
    int64_t done = step - p->first;
    double rate = done > 0 && elapsed > 0 ? (double)done / elapsed : 0;
    char eta[32] = "?";
    if (rate > 0) progress_format_duration((double)(p->total - step) / rate, eta, sizeof eta);
    /* below one step per second, seconds per step read better */
    char speed[32];
    if (rate >= 1 || rate == 0) snprintf(speed, sizeof speed, "%.2f it/s", rate);
    else snprintf(speed, sizeof speed, "%.2f s/it", 1.0 / rate);
    if (!p->tty) {
        fprintf(p->out, "step %lld/%lld  loss %.5f  lr %.3g  grad_norm %.4g  %s  ETA %s\n", (long long)step,
                (long long)p->total, loss, lr, grad_norm, speed, eta);
        return;
    }
    enum { BAR = 24 };
    char bar[BAR + 1];
    int fill = p->total > 0 ? (int)(BAR * step / p->total) : BAR;
    for (int i = 0; i < BAR; i++) bar[i] = i < fill ? '#' : '.';
    bar[BAR] = 0;
    fprintf(p->out, "\r[%s] %lld/%lld  loss %.5f  lr %.3g  %s  ETA %s\033[K", bar, (long long)step, (long long)p->total,
            loss, lr, speed, eta);
    fflush(p->out);
    p->open_line = 1;
}

void progress_break(Progress *p) {
    if (p->open_line) { fputc('\n', p->out); fflush(p->out); }
    p->open_line = 0;
}
