/* jobs.h — the WebUI's work runs in child processes of the same binary (`simpletuner train ...`,
 * `simpletuner validate ...`), so a crash or an out-of-memory kill ends the job, not the server.
 * Each job writes its events (--events FILE, one JSON object per line) and its terminal output
 * (a log file) into its own folder; a thread per job waits for the child and records how it ended.
 *
 * Jobs are never freed while the server runs (they are small), so an event stream may hold one
 * without reference counting; their fields change under the server's mutex. */
#ifndef ST_SERVER_JOBS_H
#define ST_SERVER_JOBS_H
#include <pthread.h>
#include <sys/types.h>
#include <time.h>
#include "base/error.h"

typedef enum { JOB_RUN, JOB_EDIT } JobKind;

typedef struct Job {
    int id;
    JobKind kind;
    char *name;              /* runs: the configuration's name; edits: "edit-<id>" */
    char *dir;               /* the job's folder (events.jsonl, output.log, results) */
    char *events_path, *log_path;
    char *output_dir;        /* runs: the resolved output_dir (absolute) */
    char *result;            /* edits: the PNG it writes (absolute) */
    pid_t pid;
    int running;             /* 0 once the child was reaped */
    int exit_code;           /* valid when !running; -1 when killed by a signal */
    int term_signal;
    int stop_requested;
    time_t started, ended;
    pthread_t waiter;
    pthread_mutex_t *mu;     /* the server's mutex */
    struct Job *next;
} Job;

/* Starts exe with argv (argv[0] = exe) in cwd, stdout+stderr to job->log_path (truncated),
 * signals unblocked, in its own process group (a Ctrl-C on the server's terminal does not reach
 * it; the server forwards its own stop). Fills pid/running/started and starts the waiter. */
int job_spawn(Job *job, const char *exe, char *const argv[], const char *cwd, Err *e);
/* SIGINT to the child (the graceful stop of `train`: checkpoint, then exit 0). */
int job_stop(Job *job);
/* The last line of the job's log that starts with "error: " (malloc'd), or NULL. */
char *job_error_line(const Job *job);

#endif
