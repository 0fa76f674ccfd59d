/* server.h — `simpletuner server`: the WebUI (configurations, datasets, training runs with live
 * progress, edits) over HTTP, served by libmicrohttpd from this binary. See docs/webui.md. */
#ifndef ST_SERVER_H
#define ST_SERVER_H
#include "base/error.h"

typedef struct ServerOptions {
    const char *host;          /* address to bind; NULL = 127.0.0.1 */
    int port;                  /* 0 = any free port (the URL printed says which) */
    const char *root;          /* the folder served: config/<name>/, runs' output_dir, uploads; NULL = "." */
    const char *token;         /* required on every request when set; NULL = none (loopback only) */
    long max_upload_mb;        /* size limit of one uploaded image; 0 = 32 */
    const char *exe;           /* the binary jobs run; NULL = this one (/proc/self/exe) */
    int allow_jobs;            /* 0: starting runs and edits is refused (the fuzz target) */
} ServerOptions;

/* Starts the server and blocks until SIGINT/SIGTERM (held by main.c); running jobs get the same
 * graceful stop and are waited for. A non-loopback host without a token gets a generated one,
 * printed once. Errors: EXIT_USAGE for bad options, 1 when the port cannot be bound. */
int server_run(const ServerOptions *opt, Err *e);

#endif
