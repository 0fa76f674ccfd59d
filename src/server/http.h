/* http.h — one HTTP request and its response as the WebUI's handlers see them, independent of the
 * HTTP library (server_mhd.c fills a request from libmicrohttpd; the fuzz target fills it from
 * bytes). Handlers never touch sockets: they fill an HttpResponse — a buffer, a file to send, or an
 * event stream — and the glue sends it. */
#ifndef ST_SERVER_HTTP_H
#define ST_SERVER_HTTP_H
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

typedef struct HttpParam { char *key, *value; } HttpParam;

typedef struct HttpRequest {
    const char *method;            /* "GET", "POST", ... */
    const char *path;              /* percent-decoded, no query; never holds a NUL (refused while decoding) */
    const HttpParam *query;        /* percent-decoded query parameters */
    int n_query;
    const char *host;              /* Host header (NULL when absent) */
    const char *token;             /* X-ST-Token header */
    const char *cookie;            /* Cookie header */
    const char *content_type;
    const uint8_t *body;           /* the whole body (size-limited by the glue) */
    size_t body_len;
} HttpRequest;

struct EventStream;

typedef struct HttpResponse {
    int status;
    const char *content_type;
    char *body; size_t len;        /* owned */
    const unsigned char *static_body; size_t static_len;   /* not owned (embedded assets) */
    char *file;                    /* send this file instead (owned path) */
    char *headers;                 /* extra "Name: value\n" lines (owned) */
    struct EventStream *stream;    /* server-sent events (owned; the glue reads and frees it) */
} HttpResponse;

/* Decodes %XX escapes (and '+' as a space when plus_is_space); a bad escape or an encoded NUL
 * returns -1. *out is malloc'd and NUL-terminated. Decoding happens exactly once: "%252e"
 * becomes the three characters "%2e", never ".". */
int http_url_decode(const char *in, size_t n, int plus_is_space, char **out);
/* Splits "a=1&b=2" into decoded pairs (malloc'd array and strings); -1 on a bad escape. */
int http_parse_query(const char *qs, HttpParam **out, int *n);
void http_params_free(HttpParam *p, int n);
/* The value of query parameter key, or NULL. */
const char *http_query(const HttpRequest *q, const char *key);
/* The value of cookie `name` in a Cookie header (malloc'd), or NULL. */
char *http_cookie(const char *header, const char *name);

/* Responses. Each replaces the body. */
void http_json(HttpResponse *r, int status, cJSON *j);          /* takes j (deleted) */
void http_error(HttpResponse *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));  /* {"error": msg} */
void http_text(HttpResponse *r, int status, const char *type, const char *text);
void http_header(HttpResponse *r, const char *name, const char *value);
void http_response_free(HttpResponse *r);

/* Constant-time comparison of two strings (tokens). */
int http_token_equal(const char *a, const char *b);

#endif
