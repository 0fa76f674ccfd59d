/* server.c — `simpletuner server`: the HTTP daemon (libmicrohttpd, a thread per connection so an
 * event stream may block its own thread), the request glue (body limits, percent-decoding, the
 * HttpRequest handed to router.c), and the start and graceful stop of the whole server. */
#include "server/server_internal.h"
#include "server/events_stream.h"
#include "base/files.h"
#include "base/interrupt.h"
#include "pipeline/tiny_assets.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- one request ---- */

typedef struct ConnState {
    char *body;
    size_t len, cap, limit;
    int too_large;
    HttpParam *query;
    int n_query, bad_query;
} ConnState;

/* libmicrohttpd gives us paths and query values undecoded (the identity unescaper below): the one
 * decoding happens in http_url_decode, which refuses encoded NULs and bad escapes. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s) { (void)cls; (void)c; return strlen(s); }

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    ConnState *cs = cls;
    char *k, *v;
    if (cs->n_query >= 64 || http_url_decode(key, strlen(key), 1, &k)) { cs->bad_query = 1; return MHD_NO; }
    if (http_url_decode(value ? value : "", value ? strlen(value) : 0, 1, &v)) { free(k); cs->bad_query = 1; return MHD_NO; }
    cs->query = xrealloc(cs->query, (size_t)(cs->n_query + 1) * sizeof *cs->query);
    cs->query[cs->n_query++] = (HttpParam){k, v};
    return MHD_YES;
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    long n = events_stream_read(cls, buf, max);
    return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : (ssize_t)n;
}

static void stream_free(void *cls) { events_stream_free(cls); }

static void add_headers(struct MHD_Response *m, const HttpResponse *r) {
    MHD_add_response_header(m, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(m, "X-Frame-Options", "DENY");
    MHD_add_response_header(m, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(m, "Cache-Control", "no-store");
    MHD_add_response_header(m, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'");
    if (r->content_type) MHD_add_response_header(m, "Content-Type", r->content_type);
    for (const char *h = r->headers; h && *h;) {
        const char *nl = strchr(h, '\n'), *colon = strchr(h, ':');
        if (!nl || !colon || colon > nl) break;
        char *name = xasprintf("%.*s", (int)(colon - h), h), *value = xasprintf("%.*s", (int)(nl - colon - 2), colon + 2);
        MHD_add_response_header(m, name, value);
        free(name); free(value);
        h = nl + 1;
    }
}

static enum MHD_Result send_response(struct MHD_Connection *c, HttpResponse *r) {
    struct MHD_Response *m = NULL;
    if (r->stream) {
        m = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_reader, r->stream, stream_free);
        if (m) { r->stream = NULL; MHD_add_response_header(m, "X-Accel-Buffering", "no"); }
    } else if (r->file) {
        int fd = open(r->file, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0) m = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
        else { if (fd >= 0) close(fd); http_error(r, 404, "file vanished"); }
    }
    if (!m && r->static_body) m = MHD_create_response_from_buffer(r->static_len, (void *)r->static_body, MHD_RESPMEM_PERSISTENT);
    if (!m) {
        m = MHD_create_response_from_buffer(r->len, r->body ? r->body : (char *)"", r->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
        if (m) r->body = NULL;
    }
    if (!m) return MHD_NO;
    add_headers(m, r);
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)(r->status ? r->status : 500), m);
    MHD_destroy_response(m);
    return ok;
}

static enum MHD_Result quick_error(struct MHD_Connection *c, int status, const char *msg) {
    HttpResponse r = {0};
    http_error(&r, status, "%s", msg);
    enum MHD_Result ok = send_response(c, &r);
    http_response_free(&r);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    Server *s = cls;
    ConnState *cs = *con_cls;
    if (!cs) {
        cs = xcalloc(1, sizeof *cs);
        *con_cls = cs;
        cs->limit = !strncmp(url, "/api/uploads", 12) ? (size_t)s->max_upload : (size_t)SERVER_MAX_JSON;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno || *end || n > cs->limit) cs->too_large = 1;
        }
        if (cs->too_large) {   /* refused before the body is read */
            char msg[160];
            snprintf(msg, sizeof msg, "request body larger than the limit of %zu bytes", cs->limit);
            return quick_error(c, 413, msg);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (!cs->too_large) {
            if (cs->len + *upload_size > cs->limit) { cs->too_large = 1; free(cs->body); cs->body = NULL; cs->len = cs->cap = 0; }
            else {
                if (cs->len + *upload_size > cs->cap) {
                    cs->cap = (cs->len + *upload_size) * 2;
                    if (cs->cap > cs->limit + 1) cs->cap = cs->limit + 1;
                    cs->body = xrealloc(cs->body, cs->cap);
                }
                memcpy(cs->body + cs->len, upload, *upload_size);
                cs->len += *upload_size;
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (cs->too_large) {
        char msg[160];
        snprintf(msg, sizeof msg, "request body larger than the limit of %zu bytes", cs->limit);
        return quick_error(c, 413, msg);
    }
    char *path = NULL;
    if (http_url_decode(url, strlen(url), 0, &path)) return quick_error(c, 400, "malformed URL: a bad %-escape or an encoded NUL byte");
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, cs);
    if (cs->bad_query) { free(path); return quick_error(c, 400, "malformed query string"); }
    HttpRequest q = {
        .method = method, .path = path, .query = cs->query, .n_query = cs->n_query,
        .host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST),
        .token = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-ST-Token"),
        .cookie = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_COOKIE),
        .content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
        .body = (const uint8_t *)cs->body, .body_len = cs->len,
    };
    HttpResponse r;
    server_handle(s, &q, &r);
    enum MHD_Result ok = send_response(c, &r);
    http_response_free(&r);
    free(path);
    return ok;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)cls; (void)c; (void)toe;
    ConnState *cs = *con_cls;
    if (!cs) return;
    free(cs->body);
    http_params_free(cs->query, cs->n_query);
    free(cs);
    *con_cls = NULL;
}

/* ---- start and stop ---- */

static int host_is_loopback(const char *h) {
    return !strcmp(h, "127.0.0.1") || !strcmp(h, "localhost") || !strcmp(h, "::1") || !strncmp(h, "127.", 4);
}

static char *random_token(void) {
    unsigned char b[24];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);
        if (n <= 0) { if (errno == EINTR) continue; break; }
        got += (size_t)n;
    }
    if (got < sizeof b) { struct timespec t; clock_gettime(CLOCK_REALTIME, &t); for (size_t i = 0; i < sizeof b; i++) b[i] ^= (unsigned char)(t.tv_nsec >> (i % 4 * 8)) ^ (unsigned char)getpid(); }
    char *t = xmalloc(2 * sizeof b + 1);
    for (size_t i = 0; i < sizeof b; i++) sprintf(t + 2 * i, "%02x", b[i]);
    return t;
}

void server_free(Server *s) {
    for (Job *j = s->jobs, *next; j; j = next) {
        next = j->next;
        free(j->name); free(j->dir); free(j->events_path); free(j->log_path); free(j->output_dir); free(j->result);
        free(j);
    }
    for (int i = 0; i < SERVER_THUMBS; i++) free(s->thumbs[i]);
    free(s->root); free(s->state_dir); free(s->token); free(s->exe); free(s->host);
    pthread_mutex_destroy(&s->mu);
}

/* Stops the running jobs as Ctrl-C would (a training run checkpoints) and waits for them. */
static void stop_jobs(Server *s) {
    int any = 0;
    pthread_mutex_lock(&s->mu);
    for (Job *j = s->jobs; j; j = j->next) if (j->running) { kill(j->pid, SIGINT); j->stop_requested = 1; any = 1; }
    pthread_mutex_unlock(&s->mu);
    if (any) fprintf(stderr, "stopping the running jobs (a training run saves a checkpoint first)...\n");
    for (int waited = 0; any && waited < 600; waited++) {   /* up to 10 minutes */
        any = 0;
        pthread_mutex_lock(&s->mu);
        for (Job *j = s->jobs; j; j = j->next) any |= j->running;
        pthread_mutex_unlock(&s->mu);
        if (any) sleep(1);
    }
}

int server_init(Server *s, const ServerOptions *opt, Err *e) {
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->opt = *opt;
    s->host = xstrdup(opt->host ? opt->host : "127.0.0.1");
    s->port = opt->port;
    s->max_upload = (opt->max_upload_mb > 0 ? opt->max_upload_mb : 32) * 1024L * 1024L;
    char real[PATH_MAX];
    const char *root = opt->root ? opt->root : ".";
    if (!realpath(root, real) || !dir_exists(real)) return err_setc(e, EXIT_USAGE, "server: --root %s: not a folder", root);
    s->root = xstrdup(real);
    if (opt->port < 0 || opt->port > 65535) return err_setc(e, EXIT_USAGE, "server: --port %d: expected 0..65535", opt->port);
    if (opt->token && opt->token[0]) {
        if (strlen(opt->token) < 8) return err_setc(e, EXIT_USAGE, "server: --token must be at least 8 characters");
        for (const char *c = opt->token; *c; c++)
            if (*c <= ' ' || *c >= 127 || *c == ';' || *c == ',' || *c == '"' || *c == '\\')
                return err_setc(e, EXIT_USAGE, "server: --token: use printable characters without spaces, quotes, ';' or ','");
        s->token = xstrdup(opt->token);
    } else if (!host_is_loopback(s->host)) {
        /* reachable from other machines: never without a token */
        s->token = random_token();
        printf("token (generated; give it with --token to keep it): %s\n", s->token);
    }
    if (opt->exe) s->exe = xstrdup(opt->exe);
    else {
        ssize_t n = readlink("/proc/self/exe", real, sizeof real - 1);
        if (n <= 0) return err_set(e, "server: cannot find this program's path (/proc/self/exe)");
        real[n] = 0;
        s->exe = xstrdup(real);
    }
    /* configurations copied from the tiny presets name {env:SIMPLETUNER_TINY_DIR}: set it (absolute,
     * the root becomes the working directory below) once, before any thread exists, so they load
     * after a restart as they did when they were created */
    char *tiny = tiny_assets_root();
    setenv("SIMPLETUNER_TINY_DIR", tiny, 1);
    free(tiny);
    /* everything relative (config/<name>/, output_dir, data paths) is relative to the root, for the
     * server's own reads and for the jobs it starts */
    if (chdir(s->root) != 0) return err_set(e, "server: cannot enter %s", s->root);
    s->state_dir = path_join(s->root, ".webui");
    char *tmp = path_join(s->state_dir, "tmp");
    int rc = dir_make(s->state_dir, e) || dir_make(tmp, e) ? -1 : 0;
    free(tmp);
    return rc;
}

int server_run(const ServerOptions *opt, Err *e) {
    Server s;
    int rc = -1;
    struct MHD_Daemon *d = NULL;
    if (server_init(&s, opt, e)) goto done;
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", opt->port);
    int gai = getaddrinfo(s.host, portstr, &hints, &ai);
    if (gai || !ai) { err_setc(e, EXIT_USAGE, "server: --host %s: %s", s.host, gai_strerror(gai)); goto done; }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    d = MHD_start_daemon(flags, (uint16_t)opt->port, NULL, NULL, on_request, &s,
                         MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                         MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
                         MHD_OPTION_THREAD_STACK_SIZE, (size_t)(1 << 20),
                         MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!d) { err_set(e, "server: cannot listen on %s port %d (in use, or not an address of this machine?)", s.host, opt->port); goto done; }
    const union MHD_DaemonInfo *inf = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    s.port = inf ? inf->port : opt->port;
    int v6 = strchr(s.host, ':') != NULL;
    printf("simpletuner WebUI: http://%s%s%s:%d/   (root %s)\n", v6 ? "[" : "", s.host, v6 ? "]" : "", s.port, s.root);
    if (s.token) printf("log in with: http://%s%s%s:%d/login?token=%s\n", v6 ? "[" : "", s.host, v6 ? "]" : "", s.port, s.token);
    printf("stop with Ctrl-C\n");
    fflush(stdout);
    while (!interrupt_take()) {
        struct timespec t = {0, 200 * 1000 * 1000};
        nanosleep(&t, NULL);
    }
    interrupt_release();
    fprintf(stderr, "stopping the server\n");
    stop_jobs(&s);
    s.stopping = 1;   /* event streams end; their connections close */
    rc = 0;
done:
    if (d) MHD_stop_daemon(d);
    server_free(&s);
    return rc;
}
