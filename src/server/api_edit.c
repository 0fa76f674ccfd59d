/* api_edit.c — the Edit page: reference uploads and edits rendered by `simpletuner validate` run as
 * a child (the same code, so the same PNG byte for byte as the command line with the same inputs).
 *   POST /api/uploads            the body is one image (PNG, JPEG or WebP, recognised by its bytes and
 *                                decoded with the training decoders); at most --max-upload-mb
 *   GET  /api/uploads/ID         the uploaded file
 *   POST /api/edits              {"config", "references": [ID, ...], "prompt", optional "model",
 *                                "lora", "lora_scale", "negative_prompt", "guidance", "steps", "seed",
 *                                "resolution", "preview"}: starts the edit (202 with its id)
 *   GET  /api/edits/ID           state, result link, error
 *   GET  /api/edits/ID/events    server-sent events: sampling steps, previews, end
 *   GET  /api/edits/ID/files/F   result.png (?download=1 as an attachment) and the previews
 * One edit at a time: a second one while the first renders is refused with 409. */
#include "server/server_internal.h"
#include "server/events_stream.h"
#include "server/paths.h"
#include "base/files.h"
#include "config/config.h"
#include "image/image_io.h"
#include "models/family.h"
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- uploads ---- */

/* "u<digits>-<digits>.<ext>" as this server names uploads. */
static int upload_id_ok(const char *id) {
    if (id[0] != 'u' || !path_name_ok(id)) return 0;
    const char *dot = strrchr(id, '.');
    return dot && (!strcmp(dot, ".png") || !strcmp(dot, ".jpg") || !strcmp(dot, ".webp"));
}

static void upload(Server *s, const HttpRequest *q, HttpResponse *r) {
    if (q->body_len == 0) { http_error(r, 400, "upload: the body must be the image file"); return; }
    if ((long)q->body_len > s->max_upload) { http_error(r, 413, "upload: %zu bytes; the limit is %ld", q->body_len, s->max_upload); return; }
    ImageFormat f = image_format_sniff(q->body, q->body_len);
    const char *ext = f == IMAGE_FORMAT_PNG ? "png" : f == IMAGE_FORMAT_JPEG ? "jpg" : f == IMAGE_FORMAT_WEBP ? "webp" : NULL;
    if (!ext) { http_error(r, 415, "upload: not a PNG, JPEG or WebP image (recognised by its content)"); return; }
    Err e = {0};
    Image im = {0};
    if (image_decode(q->body, q->body_len, "upload", &im, &e)) { http_error(r, 422, "%s", e.msg); return; }
    pthread_mutex_lock(&s->mu);
    int n = ++s->next_upload;
    pthread_mutex_unlock(&s->mu);
    char *id = xasprintf("u%ld-%d.%s", (long)time(NULL), n, ext);
    char *dir = path_join(s->state_dir, "uploads"), *path = path_join(dir, id);
    int rc = dir_make(dir, &e);
    if (!rc) rc = file_write_atomic(path, q->body, q->body_len, &e);
    if (rc) http_error(r, 500, "%s", e.msg);
    else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", id);
        cJSON_AddStringToObject(o, "format", ext);
        cJSON_AddNumberToObject(o, "width", im.width);
        cJSON_AddNumberToObject(o, "height", im.height);
        char *url = xasprintf("/api/uploads/%s", id);
        cJSON_AddStringToObject(o, "url", url);
        free(url);
        http_json(r, 201, o);
    }
    image_free(&im);
    free(id); free(dir); free(path);
}

void api_uploads(Server *s, const HttpRequest *q, const char *rest, HttpResponse *r) {
    if (!*rest) { if (!strcmp(q->method, "POST")) upload(s, q, r); else http_error(r, 405, "/api/uploads: use POST"); return; }
    if (strcmp(q->method, "GET") && strcmp(q->method, "HEAD")) { http_error(r, 405, "use GET"); return; }
    if (!upload_id_ok(rest)) { http_error(r, 400, "'%s' is not an upload id", rest); return; }
    char *dir = path_join(s->state_dir, "uploads");
    server_send_file(r, dir, rest, NULL);
    free(dir);
}

/* ---- edits ---- */

static int num_field(const cJSON *b, const char *k, double lo, double hi, int whole, double *v, HttpResponse *r) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(b, k);
    if (!x || cJSON_IsNull(x)) return 0;
    if (cJSON_IsString(x) && !x->valuestring[0]) return 0;
    double d;
    if (cJSON_IsNumber(x)) d = x->valuedouble;
    else if (cJSON_IsString(x)) {
        char *end;
        d = strtod(x->valuestring, &end);
        if (*end || end == x->valuestring) { http_error(r, 400, "%s: expected a number, got \"%s\"", k, x->valuestring); return -1; }
    } else { http_error(r, 400, "%s: expected a number", k); return -1; }
    if (!isfinite(d) || d < lo || d > hi || (whole && d != floor(d))) {
        http_error(r, 400, "%s: expected %s between %g and %g", k, whole ? "a whole number" : "a number", lo, hi);
        return -1;
    }
    *v = d;
    return 1;
}

static const char *str_field(const cJSON *b, const char *k) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(b, k);
    return cJSON_IsString(x) && x->valuestring[0] ? x->valuestring : NULL;
}

/* "org/name" as the Hugging Face hub spells model ids. */
static int hub_id_ok(const char *m) {
    const char *slash = strchr(m, '/');
    if (!slash || strchr(slash + 1, '/') || slash == m || !slash[1] || m[0] == '.' || slash[1] == '.') return 0;
    for (const char *c = m; *c; c++) if (!isalnum((unsigned char)*c) && !strchr("._-/", *c)) return 0;
    return strlen(m) < 200;
}

typedef struct Argv { char **v; int n; } Argv;
static void arg(Argv *a, char *s) { a->v = xrealloc(a->v, (size_t)(a->n + 2) * sizeof *a->v); a->v[a->n++] = s; a->v[a->n] = NULL; }

static void start_edit(Server *s, const HttpRequest *q, HttpResponse *r) {
    if (!s->opt.allow_jobs) { http_error(r, 403, "this server does not start jobs"); return; }
    cJSON *b = server_json_body(q, r);
    if (!b) return;
    Argv a = {0};
    Job *j = NULL;
    Config *c = NULL;
    const char *name = str_field(b, "config"), *prompt = str_field(b, "prompt"), *neg = str_field(b, "negative_prompt");
    const char *model = str_field(b, "model"), *lora = str_field(b, "lora"), *res = str_field(b, "resolution");
    const cJSON *refs = cJSON_GetObjectItemCaseSensitive(b, "references");
    double scale = 1, guidance = 0, steps = 0, seed = 0;
    int has_g, has_steps, has_seed;
    Err e = {0};
    char *cp = NULL;
    if (!name) { http_error(r, 400, "config: name the configuration that gives the model family and flavour"); goto done; }
    if (!(cp = server_config_path(s, name, r))) goto done;
    if (!prompt) { http_error(r, 400, "prompt: the edit instruction is required"); goto done; }
    if (strlen(prompt) > 4000 || (neg && strlen(neg) > 4000)) { http_error(r, 400, "prompt: at most 4000 characters"); goto done; }
    if (refs && !cJSON_IsArray(refs)) { http_error(r, 400, "references: expected a list of upload ids"); goto done; }
    if (cJSON_GetArraySize(refs) > 3) { http_error(r, 400, "references: at most 3 images"); goto done; }
    if (num_field(b, "lora_scale", -8, 8, 0, &scale, r) < 0 || (has_g = num_field(b, "guidance", 0, 50, 0, &guidance, r)) < 0 ||
        (has_steps = num_field(b, "steps", 1, 500, 1, &steps, r)) < 0 || (has_seed = num_field(b, "seed", 0, 9007199254740991.0, 1, &seed, r)) < 0)
        goto done;
    if (res) {
        int w, h; char tail;
        if (sscanf(res, "%dx%d%c", &w, &h, &tail) != 2 || w < 16 || h < 16 || w > 4096 || h > 4096 || w % 16 || h % 16) {
            http_error(r, 400, "resolution: expected WxH in multiples of 16 up to 4096 (or empty for the pipeline's size), got \"%s\"", res);
            goto done;
        }
    }
    if (!(c = server_load_config(s, name, 1, &e))) { http_error(r, 422, "%s", e.msg); goto done; }
    const ModelFamily *fam = family_find(config_str(c, "model_family") ? config_str(c, "model_family") : "");
    char *cfgrel = xasprintf("config/%s/config.json", name);
    arg(&a, xstrdup(s->exe)); arg(&a, xstrdup("validate")); arg(&a, xstrdup("--config")); arg(&a, cfgrel);
    for (int i = 0; i < cJSON_GetArraySize(refs); i++) {
        const cJSON *x = cJSON_GetArrayItem(refs, i);
        if (!cJSON_IsString(x) || !upload_id_ok(x->valuestring)) { http_error(r, 400, "references: '%s' is not an upload id", cJSON_IsString(x) ? x->valuestring : "?"); goto done; }
        char *dir = path_join(s->state_dir, "uploads"), *abs = NULL;
        int rc = path_inside(dir, x->valuestring, 1, &abs, &e);
        free(dir);
        if (rc) { http_error(r, 400, "references: upload %s not found (upload it again)", x->valuestring); goto done; }
        arg(&a, xstrdup("--image")); arg(&a, abs);
    }
    if (model) {
        char *abs = NULL;
        if (path_inside(s->root, model, 1, &abs, &e) == 0 && dir_exists(abs)) arg(&a, xasprintf("pretrained_model_name_or_path=%s", abs));
        else if (hub_id_ok(model)) arg(&a, xasprintf("pretrained_model_name_or_path=%s", model));
        else { free(abs); http_error(r, 400, "model: '%s' is neither a model folder inside the served folder nor a hub id (org/name)", model); goto done; }
        free(abs);
    }
    if (lora) {
        char *abs = NULL;
        if (path_inside(s->root, lora, 1, &abs, &e) || !file_exists(abs)) {
            free(abs);
            http_error(r, 400, "lora: '%s' is not a file inside the served folder", lora);
            goto done;
        }
        arg(&a, xstrdup("--lora")); arg(&a, abs);
    }
    char num[64];
    snprintf(num, sizeof num, "%.15g", scale);   /* the shortest text that reads back as the same double */
    if (strtod(num, NULL) != scale) snprintf(num, sizeof num, "%.17g", scale);
    arg(&a, xstrdup("--lora_scale")); arg(&a, xstrdup(num));
    arg(&a, xstrdup("--prompt")); arg(&a, xstrdup(prompt));
    if (neg) { arg(&a, xstrdup("--negative_prompt")); arg(&a, xstrdup(neg)); }
    if (has_seed) { snprintf(num, sizeof num, "%.0f", seed); arg(&a, xstrdup("--seed")); arg(&a, xstrdup(num)); }
    if (has_g) {
        arg(&a, xasprintf("validation_guidance=%.17g", guidance));
        if (fam && fam->reads_guidance_real) arg(&a, xasprintf("validation_guidance_real=%.17g", guidance));
    }
    if (has_steps) arg(&a, xasprintf("validation_num_inference_steps=%.0f", steps));
    if (res) arg(&a, xasprintf("validation_resolution=%s", res));
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b, "preview"))) { arg(&a, xstrdup("validation_preview=true")); arg(&a, xstrdup("validation_preview_steps=1")); }
    pthread_mutex_lock(&s->mu);
    int busy = s->edit && s->edit->running;
    int busy_id = busy ? s->edit->id : 0;
    pthread_mutex_unlock(&s->mu);
    if (busy) { http_error(r, 409, "an edit is being rendered (%d); wait for it to finish", busy_id); goto done; }
    if (!(j = server_new_job(s, JOB_EDIT, NULL, &e))) { http_error(r, 500, "%s", e.msg); goto done; }
    pthread_mutex_lock(&s->mu);
    busy = s->edit && s->edit->running;
    if (!busy) s->edit = j;
    pthread_mutex_unlock(&s->mu);
    if (busy) { http_error(r, 409, "an edit is being rendered; wait for it to finish"); goto done; }
    j->result = path_join(j->dir, "result.png");
    /* no LoRA named: the base model (output_dir is the job's folder, where validate finds none) */
    arg(&a, xstrdup("--output")); arg(&a, xstrdup(j->result));
    arg(&a, xstrdup("--events")); arg(&a, xstrdup(j->events_path));
    arg(&a, xasprintf("output_dir=%s", j->dir));
    char *cmdline = NULL;
    for (int i = 0; i < a.n; i++) { char *x = xasprintf("%s%s'%s'", cmdline ? cmdline : "", i ? " " : "", a.v[i]); free(cmdline); cmdline = x; }
    Err we = {0};
    char *cmdfile = path_join(j->dir, "command.txt");
    if (file_write_atomic(cmdfile, cmdline, strlen(cmdline), &we)) log_warn("%s", we.msg);
    free(cmdfile); free(cmdline);
    if (job_spawn(j, s->exe, a.v, s->root, &e)) { http_error(r, 500, "%s", e.msg); goto done; }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", j->id);
    cJSON_AddStringToObject(o, "state", "running");
    char *url = xasprintf("/api/edits/%d", j->id);
    cJSON_AddStringToObject(o, "url", url);
    free(url);
    http_json(r, 202, o);
done:
    for (int i = 0; i < a.n; i++) free(a.v[i]);
    free(a.v);
    free(cp);
    config_free(c);
    cJSON_Delete(b);
}

static void edit_status(Server *s, Job *j, HttpResponse *r) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", j->id);
    pthread_mutex_lock(&s->mu);
    int running = j->running, code = j->exit_code;
    pthread_mutex_unlock(&s->mu);
    cJSON_AddStringToObject(o, "state", running ? "running" : code == 0 ? "finished" : "failed");
    if (!running) cJSON_AddNumberToObject(o, "exit_code", code);
    if (!running && code == 0 && file_exists(j->result)) {
        char *url = xasprintf("/api/edits/%d/files/result.png", j->id);
        cJSON_AddStringToObject(o, "result", url);
        free(url);
    }
    if (!running && code) { char *err = job_error_line(j); if (err) cJSON_AddStringToObject(o, "error", err); free(err); }
    http_json(r, 200, o);
}

void api_edits(Server *s, const HttpRequest *q, const char *rest, HttpResponse *r) {
    const char *m = q->method;
    int get = !strcmp(m, "GET") || !strcmp(m, "HEAD");
    if (!*rest) { if (!strcmp(m, "POST")) start_edit(s, q, r); else http_error(r, 405, "/api/edits: use POST"); return; }
    char *end;
    long id = strtol(rest, &end, 10);
    if (end == rest || (*end && *end != '/') || id <= 0 || id > 1000000000) { http_error(r, 400, "'%s' is not an edit id", rest); return; }
    pthread_mutex_lock(&s->mu);
    Job *j = server_find_job(s, (int)id);
    if (j && j->kind != JOB_EDIT) j = NULL;
    pthread_mutex_unlock(&s->mu);
    if (!j) { http_error(r, 404, "edit %ld not found", id); return; }
    if (!get) { http_error(r, 405, "use GET"); return; }
    const char *sub = *end ? end + 1 : "";
    if (!*sub) edit_status(s, j, r);
    else if (!strcmp(sub, "events")) {
        memset(r, 0, sizeof *r);
        r->status = 200;
        r->content_type = "text/event-stream";
        r->stream = events_stream_new(j, NULL, j->events_path, &s->mu, &s->stopping);
    } else if (!strncmp(sub, "files/", 6) && !strchr(sub + 6, '/')) {
        const char *dl = http_query(q, "download");
        char *name = dl && !strcmp(dl, "1") ? xasprintf("edit-%ld.png", id) : NULL;
        if (strcmp(sub + 6, "result.png") && strncmp(sub + 6, "result.preview.", 15)) http_error(r, 404, "%s: not found", sub + 6);
        else server_send_file(r, j->dir, sub + 6, name);
        free(name);
    } else http_error(r, 404, "/api/edits/%ld/%s: no such endpoint", id, sub);
}
