/* train_log.c — see train_log.h. */
#include "train/train_log.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/crash_point.h"
#include "base/files.h"

/* The step of one complete log line, or -1 when the line is not a step entry (torn or foreign). */
static int64_t line_step(const char *line, size_t len, int csv) {
    if (csv) {
        int64_t v = 0;
        size_t i = 0;
        if (len == 0 || line[0] < '0' || line[0] > '9') return -1;
        for (; i < len && line[i] >= '0' && line[i] <= '9'; i++) {
            if (v > (INT64_MAX - 9) / 10) return -1;
            v = v * 10 + (line[i] - '0');
        }
        int fields = 1;
        for (size_t k = 0; k < len; k++) fields += line[k] == ',';
        return i < len && line[i] == ',' && fields == 6 ? v : -1;
    }
    cJSON *j = cJSON_ParseWithLength(line, len);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "step");
    int64_t v = cJSON_IsNumber(s) && s->valuedouble >= 0 && s->valuedouble < 9.0e15 && s->valuedouble == floor(s->valuedouble)
                    ? (int64_t)s->valuedouble : -1;
    cJSON_Delete(j);
    return v;
}

int train_log_cut(const char *path, int csv, int64_t keep_through, int *dropped, Err *e) {
    *dropped = 0;
    if (!file_exists(path)) return 0;
    size_t len;
    char *text = file_read_all(path, &len, e);
    if (!text) return -1;
    char *out = xmalloc(len + sizeof TRAIN_LOG_CSV_HEADER);
    size_t n = 0;
    int first = 1, header = 0;
    for (size_t i = 0; i < len;) {
        char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) : len;
        const char *line = text + i;
        size_t ll = end - i;
        int keep = 0;
        if (!nl) keep = 0;                                     /* torn: the writer was killed mid-line */
        else if (csv && first && ll + 1 == strlen(TRAIN_LOG_CSV_HEADER) && !memcmp(line, TRAIN_LOG_CSV_HEADER, ll + 1)) keep = header = 1;
        else if (ll == 0) keep = 0;
        else { int64_t s = line_step(line, ll, csv); keep = s >= 0 && s <= keep_through; }
        if (keep) { memcpy(out + n, line, ll + 1); n += ll + 1; }
        else if (ll > 0) (*dropped)++;
        first = 0;
        i = end + 1;
    }
    int rc = 0;
    if (*dropped || (csv && !header && n > 0)) {
        if (csv && !header && n > 0) {   /* the header went with a torn first line: put it back */
            size_t h = strlen(TRAIN_LOG_CSV_HEADER);
            memmove(out + h, out, n);
            memcpy(out, TRAIN_LOG_CSV_HEADER, h);
            n += h;
        }
        rc = file_write_atomic(path, out, n, e);
    }
    free(out); free(text);
    return rc;
}

int train_log_open(TrainLog *l, const char *output_dir, int64_t keep_through, Err *e) {
    memset(l, 0, sizeof *l);
    static const struct { const char *name; int csv; } LOGS[2] = {{TRAIN_LOG_JSONL, 0}, {TRAIN_LOG_CSV, 1}};
    for (int k = 0; k < 2; k++) {
        char *p = path_join(output_dir, LOGS[k].name);
        int dropped = 0;
        int rc = train_log_cut(p, LOGS[k].csv, keep_through, &dropped, e);
        if (!rc && dropped)
            log_warn("%s: removed %d line%s of steps after %" PRId64 " (a run stopped before checkpointing them; they are trained again)",
                     p, dropped, dropped == 1 ? "" : "s", keep_through);
        FILE *f = NULL;
        if (!rc) {
            f = fopen(p, "a");
            if (!f) rc = err_set(e, "%s: cannot open for writing: %s", p, strerror(errno));
            else if (LOGS[k].csv && fseek(f, 0, SEEK_END) == 0 && ftell(f) == 0 && fputs(TRAIN_LOG_CSV_HEADER, f) < 0) rc = err_set(e, "%s: write failed", p);
        }
        free(p);
        if (k == 0) l->jsonl = f; else l->csv = f;
        if (rc) { train_log_close(l); return -1; }
    }
    return 0;
}

/* A number as JSON (null when not finite) or CSV (empty when not finite). */
static const char *num(char *buf, size_t cap, double x, const char *fmt, int csv) {
    if (!isfinite(x)) return csv ? "" : "null";
    snprintf(buf, cap, fmt, x);
    return buf;
}

int train_log_step(TrainLog *l, const TrainLogEntry *en, Err *e) {
    char a[4][40];
    for (int csv = 0; csv < 2; csv++) {
        FILE *f = csv ? l->csv : l->jsonl;
        const char *loss = num(a[0], 40, en->loss, "%.9g", csv), *lr = num(a[1], 40, en->lr, "%.9g", csv),
                   *gn = num(a[2], 40, en->grad_norm, "%.9g", csv), *sm = num(a[3], 40, en->sigma_mean, "%.6g", csv);
        int w = csv ? fprintf(f, "%" PRId64 ",%" PRId64 ",%s,%s,%s,%s\n", en->step, en->epoch, loss, lr, gn, sm)
                    : fprintf(f, "{\"step\": %" PRId64 ", \"epoch\": %" PRId64 ", \"loss\": %s, \"lr\": %s, \"grad_norm\": %s, \"sigma_mean\": %s}\n",
                              en->step, en->epoch, loss, lr, gn, sm);
        if (w < 0 || fflush(f) != 0) return err_set(e, "%s: cannot write the step %" PRId64 " line: %s", csv ? TRAIN_LOG_CSV : TRAIN_LOG_JSONL, en->step, strerror(errno));
        if (!csv) crash_point("step %" PRId64 " log-csv", en->step);
    }
    return 0;
}

int train_log_sync(TrainLog *l, Err *e) {
    FILE *fs[2] = {l->jsonl, l->csv};
    for (int k = 0; k < 2; k++)
        if (fs[k] && (fflush(fs[k]) != 0 || fsync(fileno(fs[k])) != 0))
            return err_set(e, "%s: cannot sync: %s", k ? TRAIN_LOG_CSV : TRAIN_LOG_JSONL, strerror(errno));
    return 0;
}

void train_log_close(TrainLog *l) {
    if (l->jsonl) fclose(l->jsonl);
    if (l->csv) fclose(l->csv);
    l->jsonl = l->csv = NULL;
}
