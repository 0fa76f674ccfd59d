/* events_stream.c — see events_stream.h. */
#include "server/events_stream.h"
#include "base/error.h"
#include "base/files.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { PHASE_RESET, PHASE_HISTORY, PHASE_LIVE, PHASE_END, PHASE_DONE };

struct EventStream {
    Job *job;
    char *train_log, *events_path;
    pthread_mutex_t *mu;
    const volatile int *stopping;
    int phase;
    double last_step;                /* the newest step sent (-1: none) */
    double history_time;             /* wall clock when training_log.jsonl was read */
    int fd;                          /* events file, -1 until it exists */
    int watch;                       /* inotify descriptor on it (-1: none; then a 100 ms poll) */
    char *partial; size_t plen;      /* an incomplete last line of the events file */
    char *out; size_t olen, ooff;    /* formatted bytes not yet handed out */
    time_t last_send;
};

EventStream *events_stream_new(Job *job, const char *train_log, const char *events_path, pthread_mutex_t *mu,
                               const volatile int *stopping) {
    EventStream *st = xcalloc(1, sizeof *st);
    st->job = job;
    st->train_log = train_log ? xstrdup(train_log) : NULL;
    st->events_path = events_path ? xstrdup(events_path) : NULL;
    st->mu = mu;
    st->stopping = stopping;
    st->last_step = -1;
    st->fd = -1;
    st->watch = -1;
    st->last_send = time(NULL);
    return st;
}

void events_stream_free(EventStream *st) {
    if (!st) return;
    if (st->fd >= 0) close(st->fd);
    if (st->watch >= 0) close(st->watch);
    free(st->train_log); free(st->events_path); free(st->partial); free(st->out);
    free(st);
}

static void put(EventStream *st, const char *kind, const char *json) {
    char *s = xasprintf("event: %s\ndata: %s\n\n", kind, json);
    size_t n = strlen(s);
    st->out = xrealloc(st->out, st->olen + n + 1);
    memcpy(st->out + st->olen, s, n + 1);
    st->olen += n;
    free(s);
}

/* training_log.jsonl lines become step events (the log has no total; the live events carry it). */
static void replay_history(EventStream *st) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    st->history_time = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    if (!st->train_log) return;
    Err ignore = {0};
    char *txt = file_exists(st->train_log) ? file_read_all(st->train_log, NULL, &ignore) : NULL;
    for (char *line = txt; line && *line;) {
        char *nl = strchr(line, '\n');
        if (!nl) break;   /* a torn last line: the trainer is writing it */
        *nl = 0;
        cJSON *j = cJSON_Parse(line);
        const cJSON *step = cJSON_GetObjectItemCaseSensitive(j, "step");
        if (cJSON_IsNumber(step) && step->valuedouble > st->last_step) {
            cJSON_AddStringToObject(j, "event", "step");
            cJSON_AddBoolToObject(j, "history", 1);
            char *s = cJSON_PrintUnformatted(j);
            put(st, "step", s);
            free(s);
            st->last_step = step->valuedouble;
        }
        cJSON_Delete(j);
        line = nl + 1;
    }
    free(txt);
}

/* One complete line of the events file. */
static void live_line(EventStream *st, const char *line) {
    cJSON *j = cJSON_Parse(line);
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "event"), *step = cJSON_GetObjectItemCaseSensitive(j, "step");
    if (!cJSON_IsString(kind)) { cJSON_Delete(j); return; }
    const char *k = kind->valuestring;
    if (!strcmp(k, "step")) {
        if (!cJSON_IsNumber(step) || step->valuedouble <= st->last_step) { cJSON_Delete(j); return; }
        st->last_step = step->valuedouble;
    } else if (!strcmp(k, "train_start") && cJSON_IsNumber(step)) {
        /* A run that started after the log was read may have cut it back to its checkpoint (a
         * resume after a crash) and trains the later steps again: they are sent anew and the page
         * drops its newer points. A run that started before saw a log already cut. */
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "time");
        int reset = !cJSON_IsNumber(t) || t->valuedouble + 0.002 >= st->history_time;
        if (reset) st->last_step = step->valuedouble;
        cJSON_AddBoolToObject(j, "reset_chart", reset);
        char *line2 = cJSON_PrintUnformatted(j);
        put(st, "train_start", line2);
        free(line2);
        cJSON_Delete(j);
        return;
    }
    /* the kind comes from our own child, but an event name must not break the framing */
    char name[32];
    size_t n = 0;
    for (const char *c = k; *c && n < sizeof name - 1; c++) if ((*c >= 'a' && *c <= 'z') || *c == '_') name[n++] = *c;
    name[n] = 0;
    put(st, n ? name : "unknown", line);
    cJSON_Delete(j);
}

/* Reads what the events file gained; returns 1 when something was read. */
static int read_live(EventStream *st) {
    if (!st->events_path) return 0;
    if (st->fd < 0) {
        st->fd = open(st->events_path, O_RDONLY | O_CLOEXEC);
        if (st->fd < 0) return 0;
        /* woken by the writer rather than by a timer: 50 watching tabs must not cost the run */
        st->watch = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (st->watch >= 0 && inotify_add_watch(st->watch, st->events_path, IN_MODIFY | IN_CLOSE_WRITE) < 0) {
            close(st->watch);
            st->watch = -1;
        }
    }
    char buf[65536];
    int any = 0;
    for (;;) {
        ssize_t r = read(st->fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        any = 1;
        st->partial = xrealloc(st->partial, st->plen + (size_t)r + 1);
        memcpy(st->partial + st->plen, buf, (size_t)r);
        st->plen += (size_t)r;
        st->partial[st->plen] = 0;
        char *start = st->partial;
        for (char *nl; (nl = memchr(start, '\n', st->plen - (size_t)(start - st->partial)));) {
            *nl = 0;
            if (nl > start && strlen(start) == (size_t)(nl - start)) live_line(st, start);
            start = nl + 1;
        }
        size_t rest = st->plen - (size_t)(start - st->partial);
        memmove(st->partial, start, rest);
        st->plen = rest;
        if (st->plen > (1u << 20)) st->plen = 0;   /* a line longer than 1 MiB is not ours: dropped */
    }
    return any;
}

static void put_end(EventStream *st) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "event", "end");
    if (st->job) {
        pthread_mutex_lock(st->mu);
        int code = st->job->exit_code, sig = st->job->term_signal, stop = st->job->stop_requested;
        pthread_mutex_unlock(st->mu);
        cJSON_AddStringToObject(j, "state", code == 0 ? (stop ? "stopped" : "finished") : "failed");
        cJSON_AddNumberToObject(j, "exit_code", code);
        if (sig) cJSON_AddNumberToObject(j, "signal", sig);
        char *err = code ? job_error_line(st->job) : NULL;
        if (err) cJSON_AddStringToObject(j, "error", err);
        else if (sig) { char m[64]; snprintf(m, sizeof m, "killed by signal %d", sig); cJSON_AddStringToObject(j, "error", m); }
        free(err);
    } else cJSON_AddStringToObject(j, "state", "idle");
    char *s = cJSON_PrintUnformatted(j);
    put(st, "end", s);
    free(s);
    cJSON_Delete(j);
}

long events_stream_read(EventStream *st, char *buf, size_t max) {
    for (;;) {
        if (st->ooff < st->olen) {
            size_t n = st->olen - st->ooff;
            if (n > max) n = max;
            memcpy(buf, st->out + st->ooff, n);
            st->ooff += n;
            if (st->ooff == st->olen) st->ooff = st->olen = 0;
            st->last_send = time(NULL);
            return (long)n;
        }
        if (st->phase == PHASE_DONE || *st->stopping) return -1;
        switch (st->phase) {
        case PHASE_RESET: put(st, "reset", "{\"event\":\"reset\"}"); st->phase = PHASE_HISTORY; continue;
        case PHASE_HISTORY: replay_history(st); st->phase = PHASE_LIVE; continue;
        case PHASE_END: put_end(st); st->phase = PHASE_DONE; continue;
        default: break;
        }
        /* live: the job's state first, then its file, so nothing written before the end is missed */
        int running = 0;
        if (st->job) { pthread_mutex_lock(st->mu); running = st->job->running; pthread_mutex_unlock(st->mu); }
        int got = read_live(st);
        if (got) continue;
        if (!running) { st->phase = PHASE_END; continue; }
        if (time(NULL) - st->last_send >= 10) { put(st, "keepalive", "{}"); continue; }
        if (st->watch >= 0) {
            /* the file changed, or a second passed (the job's end and the server's stop are seen then) */
            struct pollfd pf = {st->watch, POLLIN, 0};
            if (poll(&pf, 1, 1000) > 0) {
                char ev[4096];
                while (read(st->watch, ev, sizeof ev) > 0) {}
            }
        } else {
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
}
