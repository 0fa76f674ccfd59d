#include "train/loss_plot.h"
#include "base/files.h"
#include "image/image_io.h"
#include "image/sheet.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Entry { int64_t step; double loss; int line; } Entry;

static int by_step_then_line(const void *a, const void *b) {
    const Entry *x = a, *y = b;
    if (x->step != y->step) return x->step < y->step ? -1 : 1;
    return x->line - y->line;
}

int loss_log_read(const char *path, int64_t **steps, double **losses, int *n, Err *e) {
    *steps = NULL; *losses = NULL; *n = 0;
    char *txt = file_read_all(path, NULL, e);
    if (!txt) return -1;
    Entry *v = NULL;
    int cnt = 0, cap = 0, line = 0, rc = 0;
    for (char *s = txt; *s && !rc;) {
        char *end = strchr(s, '\n');
        if (end) *end = 0;
        line++;
        if (*s) {
            cJSON *j = cJSON_Parse(s);
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "step"), *lo = cJSON_GetObjectItemCaseSensitive(j, "loss");
            if (!cJSON_IsNumber(st) || !cJSON_IsNumber(lo))
                rc = err_set(e, "%s:%d: expected a JSON object with numbers \"step\" and \"loss\"", path, line);
            else {
                if (cnt == cap) { cap = cap ? cap * 2 : 256; v = xrealloc(v, (size_t)cap * sizeof *v); }
                v[cnt++] = (Entry){(int64_t)st->valuedouble, lo->valuedouble, line};
            }
            cJSON_Delete(j);
        }
        if (!end) break;
        s = end + 1;
    }
    free(txt);
    if (rc) { free(v); return -1; }
    if (cnt) qsort(v, (size_t)cnt, sizeof *v, by_step_then_line);   /* (v is NULL for an empty log) */
    int m = 0;
    for (int i = 0; i < cnt; i++) {
        if (m && v[m - 1].step == v[i].step) v[m - 1] = v[i];   /* the newest line of a step */
        else v[m++] = v[i];
    }
    *steps = xmalloc((size_t)(m ? m : 1) * sizeof **steps);
    *losses = xmalloc((size_t)(m ? m : 1) * sizeof **losses);
    for (int i = 0; i < m; i++) { (*steps)[i] = v[i].step; (*losses)[i] = v[i].loss; }
    *n = m;
    free(v);
    return 0;
}

static void put(Image *im, int x, int y, const uint8_t c[3]) {
    if (x < 0 || y < 0 || x >= im->width || y >= im->height) return;
    memcpy(im->data + ((size_t)y * im->width + x) * 3, c, 3);
}

static void line(Image *im, int x0, int y0, int x1, int y1, const uint8_t c[3]) {
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
    for (;;) {
        put(im, x0, y0, c);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * err;
        if (e2 >= dy) { err += dy; x0 += sx; }
        if (e2 <= dx) { err += dx; y0 += sy; }
    }
}

Image loss_plot_render(const int64_t *steps, const double *losses, int n, int W, int H) {
    static const uint8_t WHITE[3] = {255, 255, 255}, AXIS[3] = {90, 90, 90}, GRID[3] = {225, 225, 225},
                         RAW[3] = {160, 190, 235}, AVG[3] = {20, 60, 160}, TEXT[3] = {30, 30, 30};
    Image im = {W, H, 3, xmalloc((size_t)W * H * 3)};
    for (size_t i = 0; i < (size_t)W * H; i++) memcpy(im.data + 3 * i, WHITE, 3);
    const int left = 64, right = W - 16, top = 28, bottom = H - 28;
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++) if (isfinite(losses[i])) { lo = fmin(lo, losses[i]); hi = fmax(hi, losses[i]); }
    if (!isfinite(lo)) { lo = 0; hi = 1; }
    if (hi - lo < 1e-12) { hi += 0.5 * fmax(fabs(hi), 1e-3); lo -= 0.5 * fmax(fabs(lo), 1e-3); }
    double pad = 0.05 * (hi - lo);
    lo -= pad; hi += pad;
    int64_t s0 = n ? steps[0] : 0, s1 = n ? steps[n - 1] : 1;
    if (s1 == s0) s1 = s0 + 1;
    char label[64];
    for (int k = 0; k <= 4; k++) {            /* horizontal grid with loss labels */
        int y = bottom - (bottom - top) * k / 4;
        line(&im, left, y, right, y, GRID);
        snprintf(label, sizeof label, "%.4g", lo + (hi - lo) * k / 4);
        text_draw(&im, left - 6 - text_width(label, 1), y - 3, label, 1, TEXT);
    }
    line(&im, left, top, left, bottom, AXIS);
    line(&im, left, bottom, right, bottom, AXIS);
    for (int k = 0; k <= 4; k++) {            /* step labels */
        int64_t s = s0 + (s1 - s0) * k / 4;
        int x = left + (int)((double)(right - left) * (double)(s - s0) / (double)(s1 - s0));
        line(&im, x, bottom, x, bottom + 3, AXIS);
        snprintf(label, sizeof label, "%lld", (long long)s);
        text_draw(&im, x - text_width(label, 1) / 2, bottom + 7, label, 1, TEXT);
    }
    snprintf(label, sizeof label, "training loss, %d steps (dark: moving average)", n);
    text_draw(&im, left, 8, label, 1, TEXT);
    /* the axes' names: the loss up the left side, optimizer steps under the step labels */
    text_draw(&im, 6, top - 12, "loss", 1, TEXT);
    text_draw(&im, left + (right - left - text_width("optimizer step", 1)) / 2, bottom + 18, "optimizer step", 1, TEXT);
    /* raw values first, then a centred moving average over ~2% of the run on top */
    int win = n / 50 > 1 ? n / 50 : 1, px = 0, py = 0, ax = 0, ay = 0;
    for (int i = 0; i < n; i++) {
        int x = left + (int)((double)(right - left) * (double)(steps[i] - s0) / (double)(s1 - s0));
        double v = isfinite(losses[i]) ? losses[i] : hi;
        int y = bottom - (int)((double)(bottom - top) * (v - lo) / (hi - lo));
        if (i) line(&im, px, py, x, y, RAW);
        px = x; py = y;
    }
    for (int i = 0; i < n; i++) {
        double sum = 0; int cnt = 0;
        for (int j = i - win; j <= i + win; j++)
            if (j >= 0 && j < n && isfinite(losses[j])) { sum += losses[j]; cnt++; }
        if (!cnt) continue;
        int x = left + (int)((double)(right - left) * (double)(steps[i] - s0) / (double)(s1 - s0));
        int y = bottom - (int)((double)(bottom - top) * (sum / cnt - lo) / (hi - lo));
        if (i) { line(&im, ax, ay, x, y, AVG); line(&im, ax, ay + 1, x, y + 1, AVG); }
        ax = x; ay = y;
    }
    return im;
}

int loss_plot_write(const char *jsonl_path, const char *png_path, Err *e) {
    int64_t *steps; double *losses; int n;
    if (loss_log_read(jsonl_path, &steps, &losses, &n, e)) return -1;
    int rc = 0;
    if (n > 0) {
        Image im = loss_plot_render(steps, losses, n, 800, 400);
        rc = image_write_png(png_path, &im, e);
        image_free(&im);
    }
    free(steps); free(losses);
    return rc;
}
