/* router.c — every request passes here: the Host check (DNS rebinding), the token (header or the
 * login cookie), state-changing methods only with the token header (a foreign page cannot send
 * it: no CSRF), then the route. Errors are JSON {"error": message} with a 4xx status. */
#include "server/server_internal.h"
#include "server/assets.h"
#include "base/files.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const EmbeddedAsset *asset_find(const char *path) {
    for (int i = 0; i < SERVER_ASSET_COUNT; i++) if (!strcmp(SERVER_ASSETS[i].path, path)) return &SERVER_ASSETS[i];
    return NULL;
}

static int is_loopback(const char *host) {
    return !strcmp(host, "127.0.0.1") || !strcmp(host, "localhost") || !strcmp(host, "::1") || !strncmp(host, "127.", 4);
}

/* Host must name this server as bound on loopback (a page of another site that resolves its name
 * to 127.0.0.1 sends its own name); a server on another address needs the token anyway. */
static int host_ok(const Server *s, const char *host) {
    if (!host) return 0;
    if (!is_loopback(s->host)) return 1;
    char want[300];
    static const char *const NAMES[] = {"127.0.0.1", "localhost", "[::1]"};
    for (size_t i = 0; i < sizeof NAMES / sizeof *NAMES; i++) {
        snprintf(want, sizeof want, "%s:%d", NAMES[i], s->port);
        if (!strcmp(host, want)) return 1;
    }
    snprintf(want, sizeof want, "%s:%d", s->host, s->port);
    return !strcmp(host, want);
}

static int token_from_cookie(const Server *s, const HttpRequest *q) {
    char *c = q->cookie ? http_cookie(q->cookie, "st_token") : NULL;
    int ok = c && http_token_equal(c, s->token);
    free(c);
    return ok;
}

static void send_asset(HttpResponse *r, const char *path) {
    const EmbeddedAsset *a = asset_find(path);
    if (!a) { http_error(r, 404, "%s: not found", path); return; }
    r->status = 200;
    r->content_type = a->content_type;
    r->static_body = a->data;
    r->static_len = a->size;
}

static void set_login_cookie(const Server *s, HttpResponse *r) {
    char *c = xasprintf("st_token=%s; Path=/; SameSite=Strict", s->token);
    http_header(r, "Set-Cookie", c);
    free(c);
    http_text(r, 303, "text/plain; charset=utf-8", "logged in\n");
    http_header(r, "Location", "/");
}

/* GET /login (the form), GET /login?token=T (the link the server prints), POST /login (the form:
 * token=T, or JSON {"token": T}). */
static void login(Server *s, const HttpRequest *q, HttpResponse *r) {
    if (!s->token) { http_text(r, 303, "text/plain; charset=utf-8", "no token needed\n"); http_header(r, "Location", "/"); return; }
    const char *given = NULL;
    char *owned = NULL;
    if (!strcmp(q->method, "GET")) {
        given = http_query(q, "token");
        if (!given) { send_asset(r, "/login.html"); return; }
    } else if (!strcmp(q->method, "POST")) {
        if (q->body_len > 4096) { http_error(r, 413, "login: body too large"); return; }
        char *b = xmalloc(q->body_len + 1);
        if (q->body_len) memcpy(b, q->body, q->body_len);
        b[q->body_len] = 0;
        HttpParam *p; int n;
        if (strlen(b) == q->body_len && http_parse_query(b, &p, &n) == 0) {
            for (int i = 0; i < n; i++) if (!strcmp(p[i].key, "token")) { free(owned); owned = xstrdup(p[i].value); }
            http_params_free(p, n);
        }
        free(b);
        given = owned;
    } else { http_error(r, 405, "login: use GET or POST"); return; }
    if (given && http_token_equal(given, s->token)) set_login_cookie(s, r);
    else http_error(r, 401, "login: wrong token");
    free(owned);
}

static void info(Server *s, HttpResponse *r) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "root", s->root);
    cJSON_AddBoolToObject(j, "token_required", s->token != NULL);
    cJSON_AddNumberToObject(j, "max_upload_bytes", (double)s->max_upload);
    pthread_mutex_lock(&s->mu);
    if (s->run && s->run->running) cJSON_AddStringToObject(j, "running", s->run->name);
    if (s->edit && s->edit->running) cJSON_AddNumberToObject(j, "editing", s->edit->id);
    pthread_mutex_unlock(&s->mu);
    http_json(r, 200, j);
}

/* "/api/configs/x/y" with prefix "/api/configs" → "x/y" ("" for the prefix itself); NULL if no match. */
static const char *route(const char *path, const char *prefix) {
    size_t n = strlen(prefix);
    if (strncmp(path, prefix, n)) return NULL;
    if (path[n] == 0) return "";
    if (path[n] == '/') return path + n + 1;
    return NULL;
}

void server_handle(Server *s, const HttpRequest *q, HttpResponse *r) {
    memset(r, 0, sizeof *r);
    const char *m = q->method;
    int get = !strcmp(m, "GET") || !strcmp(m, "HEAD");
    int change = !strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "DELETE");
    if (!get && !change) { http_error(r, 405, "method %s not allowed", m); return; }
    if (!host_ok(s, q->host)) { http_error(r, 421, "Host header '%s' does not name this server", q->host ? q->host : ""); return; }
    if (!strcmp(q->path, "/login")) { login(s, q, r); return; }
    int header_ok = s->token ? http_token_equal(q->token, s->token) : (q->token && q->token[0]);
    if (s->token && !header_ok && !token_from_cookie(s, q)) {
        if (get && strncmp(q->path, "/api/", 5)) { http_text(r, 303, "text/plain; charset=utf-8", "login first\n"); http_header(r, "Location", "/login"); }
        else http_error(r, 401, "this server needs its token: log in at /login or send the X-ST-Token header");
        return;
    }
    if (change && !header_ok)  {
        http_error(r, 403, "%s requests need the X-ST-Token header%s", m, s->token ? " with the server's token" : " (any value when the server has no token)");
        return;
    }
    const char *p = q->path, *rest;
    if (!strcmp(p, "/") || !strcmp(p, "/index.html")) { if (get) send_asset(r, "/index.html"); else http_error(r, 405, "use GET"); return; }
    if (strncmp(p, "/api/", 5)) { if (get) send_asset(r, p); else http_error(r, 405, "use GET"); return; }
    if (!strcmp(p, "/api/info")) { if (get) info(s, r); else http_error(r, 405, "use GET"); return; }
    if (!strcmp(p, "/api/presets")) { if (get) api_presets(s, q, r); else http_error(r, 405, "use GET"); return; }
    if (!strcmp(p, "/api/options")) { if (get) api_options(s, q, r); else http_error(r, 405, "use GET"); return; }
    if ((rest = route(p, "/api/configs"))) { api_configs(s, q, rest, r); return; }
    if ((rest = route(p, "/api/thumbs"))) { api_thumb(s, q, rest, r); return; }
    if ((rest = route(p, "/api/runs"))) { api_runs(s, q, rest, r); return; }
    if ((rest = route(p, "/api/uploads"))) { api_uploads(s, q, rest, r); return; }
    if ((rest = route(p, "/api/edits"))) { api_edits(s, q, rest, r); return; }
    http_error(r, 404, "%s: no such endpoint", p);
}
