/* cli_events.h — `--events FILE` of train and validate: every pipeline event also written as one
 * line of JSON (pipeline_event_json) to FILE, or to an inherited descriptor with `--events fd:N`,
 * while the terminal keeps its usual output. The WebUI runs its children with it and tails the file. */
#ifndef ST_CLI_EVENTS_H
#define ST_CLI_EVENTS_H
#include "pipeline/pipeline.h"
#include "pipeline/progress.h"

typedef struct CliEvents {
    int fd;                 /* -1: no events file */
    int own_fd;             /* opened here (closed by cli_events_close) */
    int failed;             /* a write failed: reported once, then events only go to the terminal */
    Progress progress;      /* the default printer's state */
} CliEvents;

/* Finds "--events X" / "--events=X" in argv and opens X (truncated) or takes descriptor N of "fd:N".
 * Without the flag ev->fd is -1 and nothing changes. */
int cli_events_open(CliEvents *ev, int argc, char **argv, Err *e);
/* Routes the pipeline's events through ev (file + default printer) when a file is open. */
void cli_events_attach(CliEvents *ev, Pipeline *p);
void cli_events_close(CliEvents *ev);

#endif
