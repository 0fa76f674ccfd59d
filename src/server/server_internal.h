/* server_internal.h — the server's state, shared by the WebUI's files: server.c (start, stop),
 * server_mhd.c (HTTP), router.c (checks, dispatch), api_*.c (the endpoints). */
#ifndef ST_SERVER_INTERNAL_H
#define ST_SERVER_INTERNAL_H
#include <pthread.h>
#include "server/http.h"
#include "server/jobs.h"
#include "server/server.h"

#define SERVER_MAX_JSON (1L << 20)     /* JSON bodies */
#define SERVER_THUMBS 256              /* thumbnails remembered from dataset inspections */

typedef struct Server {
    ServerOptions opt;
    char *root;                        /* realpath of --root (the process's working directory) */
    char *state_dir;                   /* <root>/.webui: jobs' folders, uploads */
    char *token;                       /* NULL: none */
    char *exe;
    char *host;                        /* as bound */
    int port;
    long max_upload;                   /* bytes */
    pthread_mutex_t mu;                /* guards everything below and the jobs' fields */
    volatile int stopping;
    int next_job;
    Job *jobs;                         /* newest first */
    Job *run, *edit;                   /* the training run and the edit in progress, or NULL */
    char *thumbs[SERVER_THUMBS];       /* files a dataset inspection showed: /api/thumbs/<i> */
    int next_thumb;
    int next_upload;
} Server;

/* The state of a server on opt (root resolved and entered, token, state folder), without the HTTP
 * daemon: server_run adds it; the fuzz target calls server_handle directly. */
int server_init(Server *s, const ServerOptions *opt, Err *e);
void server_free(Server *s);

/* The request → response of every endpoint (router.c). Never fails: errors are 4xx/5xx responses. */
void server_handle(Server *s, const HttpRequest *q, HttpResponse *r);

/* Endpoints (api_*.c). `rest` is the path after the route's prefix. */
void api_presets(Server *s, const HttpRequest *q, HttpResponse *r);
void api_options(Server *s, const HttpRequest *q, HttpResponse *r);
void api_configs(Server *s, const HttpRequest *q, const char *rest, HttpResponse *r);
void api_inspect(Server *s, const HttpRequest *q, const char *name, HttpResponse *r);
void api_thumb(Server *s, const HttpRequest *q, const char *rest, HttpResponse *r);
void api_runs(Server *s, const HttpRequest *q, const char *rest, HttpResponse *r);
void api_uploads(Server *s, const HttpRequest *q, const char *rest, HttpResponse *r);
void api_edits(Server *s, const HttpRequest *q, const char *rest, HttpResponse *r);

/* Shared helpers (api_configs.c). */
/* <root>/config/<name>/config.json of a valid name, or NULL with a 4xx in r. */
char *server_config_path(Server *s, const char *name, HttpResponse *r);
/* Loads config/<name> as `train` would (quiet); NULL with the loader's message in e. */
struct Config;
struct Config *server_load_config(Server *s, const char *name, int allow_missing_required, Err *e);
/* The names of config/<name>/config.json under the root, sorted (malloc'd array and strings). */
int server_config_names(char ***out);
/* Parses the JSON body of q (size-limited), or NULL with a 4xx in r. */
cJSON *server_json_body(const HttpRequest *q, HttpResponse *r);
/* Registers a file for /api/thumbs/<i> and returns i. */
int server_thumb_add(Server *s, const char *path);
/* A new job (registered, folder made: <state_dir>/<kind>/<id>/). */
Job *server_new_job(Server *s, JobKind kind, const char *name, Err *e);
/* The newest job of a run name, or NULL. */
Job *server_find_run(Server *s, const char *name);
Job *server_find_job(Server *s, int id);
/* A file response for an existing file inside base (realpath checked), else 404. */
void server_send_file(HttpResponse *r, const char *base_real, const char *rel, const char *download_name);

#endif
