/* api_runs.c — the Training runs page. A run is named by its configuration (config/NAME) and lives
 * in that configuration's output_dir, which must be inside --root; what a run has produced is read
 * from there (training_log.jsonl, checkpoint-<step>/, validation/step-<step>/), so a restarted
 * server lists earlier runs, including runs started from the command line.
 *   GET  /api/runs                    every configuration's run: state, steps logged, checkpoints
 *   GET  /api/runs/NAME               checkpoints (LoRA links), validation sheets, state, log tail
 *   POST /api/runs/NAME/start         `simpletuner train --config config/NAME/config.json --events ...`
 *   POST /api/runs/NAME/resume        the same with resume_from_checkpoint=latest
 *   POST /api/runs/NAME/stop          SIGINT: the current step finishes, a checkpoint is written
 *   GET  /api/runs/NAME/events        server-sent events (events_stream.h)
 *   GET  /api/runs/NAME/files/PATH    a file of the output_dir (sheets, LoRA weights, logs)
 * One run at a time (two would share the two cores and could share an output_dir): a second start
 * is refused with 409 naming the run in progress. */
#include "server/server_internal.h"
#include "server/events_stream.h"
#include "server/paths.h"
#include "base/files.h"
#include "train/checkpoint.h"
#include "config/config.h"
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

Job *server_find_run(Server *s, const char *name) {
    for (Job *j = s->jobs; j; j = j->next)
        if (j->kind == JOB_RUN && !strcmp(j->name, name)) return j;
    return NULL;
}

Job *server_find_job(Server *s, int id) {
    for (Job *j = s->jobs; j; j = j->next) if (j->id == id) return j;
    return NULL;
}

Job *server_new_job(Server *s, JobKind kind, const char *name, Err *e) {
    Job *j = xcalloc(1, sizeof *j);
    j->mu = &s->mu;
    j->kind = kind;
    j->exit_code = -1;
    pthread_mutex_lock(&s->mu);
    j->id = ++s->next_job;
    pthread_mutex_unlock(&s->mu);
    j->name = name ? xstrdup(name) : xasprintf("edit-%d", j->id);
    /* a run's folder is fixed per configuration, so a restarted server replays its last events */
    j->dir = kind == JOB_RUN ? xasprintf("%s/runs/%s", s->state_dir, j->name) : xasprintf("%s/edits/%d-%ld", s->state_dir, j->id, (long)getpid());
    j->events_path = path_join(j->dir, "events.jsonl");
    j->log_path = path_join(j->dir, "output.log");
    if (dir_make(j->dir, e)) { free(j->name); free(j->dir); free(j->events_path); free(j->log_path); free(j); return NULL; }
    pthread_mutex_lock(&s->mu);
    j->next = s->jobs;
    s->jobs = j;
    pthread_mutex_unlock(&s->mu);
    return j;
}

/* ---- a configuration's output_dir ---- */

typedef struct RunInfo {
    char *output_dir;      /* absolute, resolved (NULL when it cannot be used) */
    char *output_rel;      /* as the configuration says */
    long total;            /* max_train_steps, 0 when counted in epochs */
    char error[2200];      /* why the output_dir is unusable */
} RunInfo;

static void run_info_free(RunInfo *ri) { free(ri->output_dir); free(ri->output_rel); }

/* The output_dir of config/NAME: inside the root (lexically, and after resolving links), made when
 * `create` is set. */
static int run_info(Server *s, const char *name, int create, RunInfo *ri) {
    memset(ri, 0, sizeof *ri);
    Err e = {0};
    char *path = xasprintf("config/%s/config.json", name);
    char *argv[] = {"--config", path};
    ConfigLoadOptions lo = {0};
    lo.quiet = 1; lo.skip_datasets = 1; lo.allow_missing_required = 1;
    Config *c = NULL;
    int rc = config_load_with(&c, 2, argv, &lo, &e);
    free(path);
    if (rc) { snprintf(ri->error, sizeof ri->error, "%s", e.msg); return -1; }
    const char *od = config_str(c, "output_dir");
    ri->output_rel = xstrdup(od ? od : "");
    ri->total = config_has(c, "max_train_steps") ? config_int(c, "max_train_steps") : 0;
    config_free(c);
    char *abs = ri->output_rel[0] == '/' ? xstrdup(ri->output_rel) : xasprintf("%s/%s", s->root, ri->output_rel);
    int lexical_ok = ri->output_rel[0] && path_is_below(s->root, abs) && !strstr(abs, "/../") &&
                     !(strlen(abs) >= 3 && !strcmp(abs + strlen(abs) - 3, "/.."));
    if (!lexical_ok) {
        snprintf(ri->error, sizeof ri->error, "output_dir '%s' is not inside the served folder %s; the WebUI runs only there", ri->output_rel, s->root);
        free(abs);
        return -1;
    }
    if (create && dir_make(abs, &e)) { snprintf(ri->error, sizeof ri->error, "%s", e.msg); free(abs); return -1; }
    char real[PATH_MAX];
    if (realpath(abs, real)) {
        if (!path_is_below(s->root, real)) {
            snprintf(ri->error, sizeof ri->error, "output_dir '%s' leads outside the served folder", ri->output_rel);
            free(abs);
            return -1;
        }
        free(abs);
        abs = xstrdup(real);
    }
    ri->output_dir = abs;
    return 0;
}

static int cmp_i64(const void *a, const void *b) { int64_t x = *(const int64_t *)a, y = *(const int64_t *)b; return (x > y) - (x < y); }

/* Steps of "<prefix><digits>" folders in dir (sorted); read-only (the trainer may be writing). */
static int step_dirs(const char *dir, const char *prefix, int64_t **out) {
    DIR *d = opendir(dir);
    int64_t *v = NULL;
    int n = 0;
    size_t pl = strlen(prefix);
    for (struct dirent *de; d && (de = readdir(d)) != NULL;) {
        const char *nm = de->d_name;
        if (strncmp(nm, prefix, pl) || !nm[pl] || strspn(nm + pl, "0123456789") != strlen(nm + pl) || strlen(nm + pl) > 15) continue;
        v = xrealloc(v, (size_t)(n + 1) * sizeof *v);
        v[n++] = strtoll(nm + pl, NULL, 10);
    }
    if (d) closedir(d);
    if (n) qsort(v, (size_t)n, sizeof *v, cmp_i64);
    *out = v;
    return n;
}

/* The last logged step and loss, and the number of lines, of training_log.jsonl. */
static void log_summary(const char *od, cJSON *o) {
    char *p = path_join(od, "training_log.jsonl");
    Err ignore = {0};
    char *t = file_exists(p) ? file_read_all(p, NULL, &ignore) : NULL;
    int n = 0;
    cJSON *last = NULL;
    for (char *line = t; line && *line;) {
        char *nl = strchr(line, '\n');
        if (!nl) break;
        *nl = 0;
        cJSON *j = cJSON_Parse(line);
        if (j) { cJSON_Delete(last); last = j; n++; }
        line = nl + 1;
    }
    cJSON_AddNumberToObject(o, "steps_logged", n);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(last, "step"), *loss = cJSON_GetObjectItemCaseSensitive(last, "loss");
    if (cJSON_IsNumber(st)) cJSON_AddNumberToObject(o, "last_step", st->valuedouble);
    if (cJSON_IsNumber(loss)) cJSON_AddNumberToObject(o, "last_loss", loss->valuedouble);
    cJSON_Delete(last);
    free(t); free(p);
}

static const char *job_state(const Job *j) {
    if (!j) return "idle";
    if (j->running) return j->stop_requested ? "stopping" : "running";
    if (j->exit_code == 0) return j->stop_requested ? "stopped" : "finished";
    return "failed";
}

/* The weights in output_dir/<dir> (dir NULL: output_dir itself) as "<prefix>lora" / "<prefix>lora_path"
 * (a LoRA run's file) or "<prefix>transformer" / "<prefix>transformer_path" (model_type=full: the
 * exported transformer): URLs to download and paths relative to the served root. 1 when found. */
static int add_weights(cJSON *o, const char *name, const RunInfo *ri, const char *dir, const char *prefix) {
    static const struct { const char *file, *key; } KINDS[] = { { CKPT_LORA_FILE, "lora" }, { CKPT_FULL_FILE, "transformer" } };
    for (size_t k = 0; k < sizeof KINDS / sizeof *KINDS; k++) {
        char *rel = dir ? xasprintf("%s/%s", dir, KINDS[k].file) : xstrdup(KINDS[k].file);
        char *abs = path_join(ri->output_dir, rel);
        int found = file_exists(abs);
        if (found) {
            char *key = xasprintf("%s%s", prefix, KINDS[k].key), *key_path = xasprintf("%s%s_path", prefix, KINDS[k].key);
            char *url = xasprintf("/api/runs/%s/files/%s", name, rel), *lrel = xasprintf("%s/%s", ri->output_rel, rel);
            cJSON_AddStringToObject(o, key, url);
            cJSON_AddStringToObject(o, key_path, lrel);
            free(key); free(key_path); free(url); free(lrel);
        }
        free(rel); free(abs);
        if (found) return 1;
    }
    return 0;
}

static cJSON *run_summary(Server *s, const char *name, int detail) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    RunInfo ri;
    int ok = run_info(s, name, 0, &ri) == 0;
    if (ri.output_rel) cJSON_AddStringToObject(o, "output_dir", ri.output_rel);
    if (ri.total) cJSON_AddNumberToObject(o, "total", (double)ri.total);
    if (!ok) cJSON_AddStringToObject(o, "error", ri.error);
    pthread_mutex_lock(&s->mu);
    Job *j = server_find_run(s, name);
    cJSON_AddStringToObject(o, "state", job_state(j));
    if (j && !j->running) cJSON_AddNumberToObject(o, "exit_code", j->exit_code);
    int failed = j && !j->running && j->exit_code != 0;
    pthread_mutex_unlock(&s->mu);
    if (failed) { char *err = job_error_line(j); if (err) cJSON_AddStringToObject(o, "job_error", err); free(err); }
    if (ok) {
        log_summary(ri.output_dir, o);
        int64_t *steps;
        int n = step_dirs(ri.output_dir, "checkpoint-", &steps);
        cJSON *cks = cJSON_AddArrayToObject(o, "checkpoints");
        for (int i = 0; i < n; i++) {
            char dir[64];
            snprintf(dir, sizeof dir, "checkpoint-%lld", (long long)steps[i]);
            cJSON *c = cJSON_CreateObject();
            cJSON_AddNumberToObject(c, "step", (double)steps[i]);
            if (add_weights(c, name, &ri, dir, "")) cJSON_AddItemToArray(cks, c);
            else cJSON_Delete(c);
        }
        free(steps);
        add_weights(o, name, &ri, NULL, "final_");
        if (detail) {
            char *vdir = path_join(ri.output_dir, "validation");
            n = step_dirs(vdir, "step-", &steps);
            cJSON *vs = cJSON_AddArrayToObject(o, "validation");
            for (int i = 0; i < n; i++) {
                char sub[64];
                snprintf(sub, sizeof sub, "step-%lld", (long long)steps[i]);
                char *sd = path_join(vdir, sub);
                cJSON *v = cJSON_CreateObject(), *imgs = cJSON_AddArrayToObject(v, "images");
                cJSON_AddNumberToObject(v, "step", (double)steps[i]);
                for (int k = 0; k < 100; k++) {
                    char f[32];
                    snprintf(f, sizeof f, "%02d.png", k);
                    char *fp = path_join(sd, f);
                    int have = file_exists(fp);
                    free(fp);
                    if (!have) break;
                    char *url = xasprintf("/api/runs/%s/files/validation/%s/%s", name, sub, f);
                    cJSON_AddItemToArray(imgs, cJSON_CreateString(url));
                    free(url);
                }
                cJSON_AddItemToArray(vs, v);
                free(sd);
            }
            free(steps); free(vdir);
            char *curve = path_join(ri.output_dir, "loss_curve.png");
            if (file_exists(curve)) { char *url = xasprintf("/api/runs/%s/files/loss_curve.png", name); cJSON_AddStringToObject(o, "loss_curve", url); free(url); }
            free(curve);
        }
    }
    if (detail && j) {
        Err ignore = {0};
        size_t len = 0;
        char *log = file_read_all(j->log_path, &len, &ignore);
        if (log) {
            const char *tail = len > 4000 ? log + len - 4000 : log;
            cJSON_AddStringToObject(o, "log_tail", tail);
        }
        free(log);
    }
    run_info_free(&ri);
    return o;
}

static void list_runs(Server *s, HttpResponse *r) {
    char **names;
    int n = server_config_names(&names);
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) { cJSON_AddItemToArray(a, run_summary(s, names[i], 0)); free(names[i]); }
    free(names);
    http_json(r, 200, a);
}

static void start_run(Server *s, const char *name, int resume, HttpResponse *r) {
    if (!s->opt.allow_jobs) { http_error(r, 403, "this server does not start jobs"); return; }
    char *cp = server_config_path(s, name, r);
    if (!cp) return;
    free(cp);
    Err e = {0};
    Config *c = server_load_config(s, name, 0, &e);   /* the errors `train` would stop with, before starting it */
    if (!c) { http_error(r, 422, "%s", e.msg); return; }
    config_free(c);
    RunInfo ri;
    if (run_info(s, name, 1, &ri)) { http_error(r, 422, "%s", ri.error); run_info_free(&ri); return; }
    pthread_mutex_lock(&s->mu);
    int busy = s->run && s->run->running;
    char *busy_name = busy ? xstrdup(s->run->name) : NULL;
    pthread_mutex_unlock(&s->mu);
    if (busy) {
        http_error(r, 409, "a training run is in progress (%s); stop it or wait for it to finish", busy_name);
        free(busy_name); run_info_free(&ri);
        return;
    }
    Job *j = server_new_job(s, JOB_RUN, name, &e);
    if (!j) { http_error(r, 500, "%s", e.msg); run_info_free(&ri); return; }
    pthread_mutex_lock(&s->mu);
    busy = s->run && s->run->running;   /* two starts racing: the first claims the slot */
    if (!busy) s->run = j;
    pthread_mutex_unlock(&s->mu);
    if (busy) { http_error(r, 409, "a training run is in progress; stop it or wait for it to finish"); run_info_free(&ri); return; }
    j->output_dir = xstrdup(ri.output_dir);
    char *cfg = xasprintf("config/%s/config.json", name);
    char *argv[] = {s->exe, "train", "--config", cfg, "--events", j->events_path, resume ? "resume_from_checkpoint=latest" : NULL, NULL};
    /* the events file starts empty, so a stream never replays the previous process's events as new */
    Err we = {0};
    if (file_write_atomic(j->events_path, "", 0, &we)) log_warn("%s", we.msg);
    if (job_spawn(j, s->exe, argv, s->root, &e)) http_error(r, 500, "%s", e.msg);
    else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", name);
        cJSON_AddNumberToObject(o, "job", j->id);
        cJSON_AddStringToObject(o, "state", "running");
        cJSON_AddBoolToObject(o, "resume", resume);
        http_json(r, 202, o);
    }
    free(cfg);
    run_info_free(&ri);
}

static void stop_run(Server *s, const char *name, HttpResponse *r) {
    pthread_mutex_lock(&s->mu);
    Job *j = server_find_run(s, name);
    pthread_mutex_unlock(&s->mu);
    if (!j || job_stop(j)) { http_error(r, 409, "run '%s' is not running", name); return; }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "state", "stopping");
    http_json(r, 202, o);
}

static void run_events(Server *s, const char *name, HttpResponse *r) {
    char *cp = server_config_path(s, name, r);
    if (!cp) return;
    free(cp);
    RunInfo ri;
    int ok = run_info(s, name, 0, &ri) == 0;
    pthread_mutex_lock(&s->mu);
    Job *j = server_find_run(s, name);
    pthread_mutex_unlock(&s->mu);
    char *log = ok ? path_join(ri.output_dir, "training_log.jsonl") : NULL;
    /* a run this server did not start: its last events file (from an earlier server) is replayed */
    char *ev = j ? xstrdup(j->events_path) : xasprintf("%s/runs/%s/events.jsonl", s->state_dir, name);
    memset(r, 0, sizeof *r);
    r->status = 200;
    r->content_type = "text/event-stream";
    r->stream = events_stream_new(j, log, ev, &s->mu, &s->stopping);
    free(log); free(ev);
    run_info_free(&ri);
}

static const char *file_type(const char *p) {
    const char *dot = strrchr(p, '.');
    if (!dot) return "application/octet-stream";
    if (!strcmp(dot, ".png")) return "image/png";
    if (!strcmp(dot, ".json")) return "application/json";
    if (!strcmp(dot, ".jsonl") || !strcmp(dot, ".csv") || !strcmp(dot, ".txt") || !strcmp(dot, ".log")) return "text/plain; charset=utf-8";
    return "application/octet-stream";
}

void server_send_file(HttpResponse *r, const char *base, const char *rel, const char *download_name) {
    Err e = {0};
    char *abs;
    if (path_inside(base, rel, 1, &abs, &e)) { http_error(r, 404, "%s", e.msg); return; }
    struct stat st;
    if (stat(abs, &st) || !S_ISREG(st.st_mode)) { http_error(r, 404, "%s: not a file", rel); free(abs); return; }
    memset(r, 0, sizeof *r);
    r->status = 200;
    r->content_type = file_type(abs);
    r->file = abs;
    if (download_name) {
        char *h = xasprintf("attachment; filename=\"%s\"", download_name);
        http_header(r, "Content-Disposition", h);
        free(h);
    }
}

static void run_file(Server *s, const char *name, const char *rel, HttpResponse *r) {
    RunInfo ri;
    if (run_info(s, name, 0, &ri)) { http_error(r, 404, "%s", ri.error); run_info_free(&ri); return; }
    const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
    int weights = strlen(base) > 12 && !strcmp(base + strlen(base) - 12, ".safetensors");
    char *dl = NULL;
    if (weights) {   /* "<run>-checkpoint-<step>.safetensors" rather than the same name for every file */
        dl = xasprintf("%s-%.*s", name, (int)strlen(rel), rel);
        for (char *c = dl; *c; c++) if (*c == '/' || *c == '"') *c = '-';
    }
    server_send_file(r, ri.output_dir, rel, dl);
    free(dl);
    run_info_free(&ri);
}

void api_runs(Server *s, const HttpRequest *q, const char *rest, HttpResponse *r) {
    const char *m = q->method;
    int get = !strcmp(m, "GET") || !strcmp(m, "HEAD"), post = !strcmp(m, "POST");
    if (!*rest) { if (get) list_runs(s, r); else http_error(r, 405, "/api/runs: use GET"); return; }
    char name[128];
    const char *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    if (n >= sizeof name) { http_error(r, 400, "run name too long"); return; }
    memcpy(name, rest, n); name[n] = 0;
    if (!path_name_ok(name)) { http_error(r, 400, "'%s' is not a run name (letters, digits, . _ -)", name); return; }
    const char *sub = slash ? slash + 1 : "";
    if (!*sub) {
        char *cp = server_config_path(s, name, r);
        if (!cp) return;
        free(cp);
        if (get) http_json(r, 200, run_summary(s, name, 1));
        else http_error(r, 405, "/api/runs/NAME: use GET");
    } else if (!strcmp(sub, "start") || !strcmp(sub, "resume")) {
        if (post) start_run(s, name, !strcmp(sub, "resume"), r);
        else http_error(r, 405, "/api/runs/NAME/%s: use POST", sub);
    } else if (!strcmp(sub, "stop")) {
        if (post) stop_run(s, name, r);
        else http_error(r, 405, "/api/runs/NAME/stop: use POST");
    } else if (!strcmp(sub, "events")) {
        if (get) run_events(s, name, r);
        else http_error(r, 405, "/api/runs/NAME/events: use GET");
    } else if (!strncmp(sub, "files/", 6)) {
        if (get) run_file(s, name, sub + 6, r);
        else http_error(r, 405, "/api/runs/NAME/files: use GET");
    } else http_error(r, 404, "/api/runs/%s/%s: no such endpoint", name, sub);
}
