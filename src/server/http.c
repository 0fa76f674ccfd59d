/* http.c — see http.h. */
#include "server/http.h"
#include "server/events_stream.h"
#include "base/error.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int http_url_decode(const char *in, size_t n, int plus_is_space, char **out) {
    char *o = xmalloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)in[i];
        if (c == 0) { free(o); return -1; }
        if (c == '%') {
            int a = i + 1 < n ? hexval((unsigned char)in[i + 1]) : -1, b = i + 2 < n ? hexval((unsigned char)in[i + 2]) : -1;
            if (a < 0 || b < 0) { free(o); return -1; }
            c = a * 16 + b;
            if (c == 0) { free(o); return -1; }
            i += 2;
        } else if (c == '+' && plus_is_space) c = ' ';
        o[k++] = (char)c;
    }
    o[k] = 0;
    *out = o;
    return 0;
}

int http_parse_query(const char *qs, HttpParam **out, int *n) {
    *out = NULL; *n = 0;
    if (!qs || !*qs) return 0;
    HttpParam *p = NULL;
    int cnt = 0;
    for (const char *s = qs; *s;) {
        const char *amp = strchr(s, '&'), *end = amp ? amp : s + strlen(s);
        const char *eq = memchr(s, '=', (size_t)(end - s));
        if (end > s) {
            char *k, *v;
            if (http_url_decode(s, (size_t)((eq ? eq : end) - s), 1, &k)) { http_params_free(p, cnt); return -1; }
            if (http_url_decode(eq ? eq + 1 : end, eq ? (size_t)(end - eq - 1) : 0, 1, &v)) { free(k); http_params_free(p, cnt); return -1; }
            if (cnt == 64) { free(k); free(v); http_params_free(p, cnt); return -1; }   /* no request needs more */
            p = xrealloc(p, (size_t)(cnt + 1) * sizeof *p);
            p[cnt++] = (HttpParam){k, v};
        }
        s = amp ? amp + 1 : end;
    }
    *out = p; *n = cnt;
    return 0;
}

void http_params_free(HttpParam *p, int n) {
    for (int i = 0; i < n; i++) { free(p[i].key); free(p[i].value); }
    free(p);
}

const char *http_query(const HttpRequest *q, const char *key) {
    for (int i = 0; i < q->n_query; i++) if (!strcmp(q->query[i].key, key)) return q->query[i].value;
    return NULL;
}

char *http_cookie(const char *h, const char *name) {
    size_t nl = strlen(name);
    for (const char *s = h; s && *s;) {
        while (*s == ' ' || *s == ';') s++;
        const char *end = strchr(s, ';');
        if (!end) end = s + strlen(s);
        if ((size_t)(end - s) > nl && !strncmp(s, name, nl) && s[nl] == '=') {
            size_t vl = (size_t)(end - s) - nl - 1;
            char *v = xmalloc(vl + 1);
            memcpy(v, s + nl + 1, vl); v[vl] = 0;
            return v;
        }
        s = end;
    }
    return NULL;
}

static void reset_body(HttpResponse *r) {
    free(r->body); r->body = NULL; r->len = 0;
    r->static_body = NULL; r->static_len = 0;
    free(r->file); r->file = NULL;
    if (r->stream) { events_stream_free(r->stream); r->stream = NULL; }
}

void http_json(HttpResponse *r, int status, cJSON *j) {
    reset_body(r);
    r->status = status;
    r->content_type = "application/json";
    r->body = cJSON_PrintUnformatted(j);
    r->len = strlen(r->body);
    cJSON_Delete(j);
}

void http_error(HttpResponse *r, int status, const char *fmt, ...) {
    char msg[2048];
    va_list ap; va_start(ap, fmt); vsnprintf(msg, sizeof msg, fmt, ap); va_end(ap);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "error", msg);
    http_json(r, status, j);
}

void http_text(HttpResponse *r, int status, const char *type, const char *text) {
    reset_body(r);
    r->status = status;
    r->content_type = type;
    r->body = xstrdup(text);
    r->len = strlen(text);
}

void http_header(HttpResponse *r, const char *name, const char *value) {
    char *h = xasprintf("%s%s: %s\n", r->headers ? r->headers : "", name, value);
    free(r->headers);
    r->headers = h;
}

void http_response_free(HttpResponse *r) {
    reset_body(r);
    free(r->headers); r->headers = NULL;
}

int http_token_equal(const char *a, const char *b) {
    if (!a || !b) return 0;
    size_t la = strlen(a), lb = strlen(b);
    unsigned diff = (unsigned)(la ^ lb);
    for (size_t i = 0; i < la; i++) diff |= (unsigned)((unsigned char)a[i] ^ (unsigned char)b[i % (lb ? lb : 1)]);
    return diff == 0 && lb > 0;
}
