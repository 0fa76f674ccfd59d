/* cli_events.c — see cli_events.h. */
#include "cli/cli_events.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_events_open(CliEvents *ev, int argc, char **argv, Err *e) {
    memset(ev, 0, sizeof *ev);
    ev->fd = -1;
    const char *target = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--events")) {
            if (i + 1 >= argc) return err_setc(e, EXIT_USAGE, "--events needs a file (or fd:N)");
            target = argv[++i];
        } else if (!strncmp(argv[i], "--events=", 9)) target = argv[i] + 9;
    }
    if (!target) return 0;
    if (!*target) return err_setc(e, EXIT_USAGE, "--events needs a file (or fd:N)");
    if (!strncmp(target, "fd:", 3)) {
        char *end;
        long fd = strtol(target + 3, &end, 10);
        if (*end || end == target + 3 || fd < 0 || fd > 1000000 || fcntl((int)fd, F_GETFD) < 0)
            return err_setc(e, EXIT_USAGE, "--events %s: not an open file descriptor", target);
        ev->fd = (int)fd;
        return 0;
    }
    int fd = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return err_set(e, "--events %s: cannot create: %s", target, strerror(errno));
    ev->fd = fd;
    ev->own_fd = 1;
    return 0;
}

/* One write per line, so a reader that tails the file sees whole lines only once it sees the '\n'. */
static void on_event(void *ctx, const PipelineEvent *pe) {
    CliEvents *ev = ctx;
    if (!ev->failed) {
        char *line = pipeline_event_json(pe);
        size_t n = strlen(line);
        line[n] = '\n';   /* cJSON's buffer has room: it held the terminating NUL */
        size_t off = 0;
        while (off < n + 1) {
            ssize_t w = write(ev->fd, line + off, n + 1 - off);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                log_warn("--events: write failed (%s); events go to the terminal only from now on", strerror(errno));
                ev->failed = 1;
                break;
            }
            off += (size_t)w;
        }
        free(line);
    }
    pipeline_print_event(&ev->progress, pe);
}

void cli_events_attach(CliEvents *ev, Pipeline *p) {
    if (ev->fd >= 0) pipeline_on_event(p, on_event, ev);
}

void cli_events_close(CliEvents *ev) {
    if (ev->own_fd && ev->fd >= 0) close(ev->fd);
    ev->fd = -1;
}
