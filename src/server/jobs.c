/* jobs.c — see jobs.h. */
#include "server/jobs.h"
#include "base/files.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void *wait_child(void *arg) {
    Job *j = arg;
    int status = 0;
    pid_t r;
    do r = waitpid(j->pid, &status, 0); while (r < 0 && errno == EINTR);
    pthread_mutex_lock(j->mu);
    j->running = 0;
    j->ended = time(NULL);
    if (r < 0) j->exit_code = -1;
    else if (WIFEXITED(status)) j->exit_code = WEXITSTATUS(status);
    else { j->exit_code = -1; j->term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0; }
    pthread_mutex_unlock(j->mu);
    return NULL;
}

int job_spawn(Job *j, const char *exe, char *const argv[], const char *cwd, Err *e) {
    int fd = open(j->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return err_set(e, "%s: cannot create: %s", j->log_path, strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull >= 0) posix_spawn_file_actions_adddup2(&fa, devnull, 0);
    posix_spawn_file_actions_adddup2(&fa, fd, 1);
    posix_spawn_file_actions_adddup2(&fa, fd, 2);
    posix_spawn_file_actions_addchdir_np(&fa, cwd);
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGINT); sigaddset(&dfl, SIGTERM); sigaddset(&dfl, SIGPIPE);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dfl);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    pid_t pid;
    int rc = posix_spawn(&pid, exe, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(fd);
    if (devnull >= 0) close(devnull);
    if (rc != 0) return err_set(e, "cannot start %s: %s", exe, strerror(rc));
    pthread_mutex_lock(j->mu);
    j->pid = pid;
    j->running = 1;
    j->started = time(NULL);
    pthread_mutex_unlock(j->mu);
    if (pthread_create(&j->waiter, NULL, wait_child, j) != 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        pthread_mutex_lock(j->mu);
        j->running = 0; j->exit_code = -1;
        pthread_mutex_unlock(j->mu);
        return err_set(e, "cannot start a thread to wait for %s", exe);
    }
    pthread_detach(j->waiter);
    return 0;
}

int job_stop(Job *j) {
    pthread_mutex_lock(j->mu);
    int ok = j->running;
    if (ok) { j->stop_requested = 1; kill(j->pid, SIGINT); }
    pthread_mutex_unlock(j->mu);
    return ok ? 0 : -1;
}

char *job_error_line(const Job *j) {
    Err ignore = {0};
    size_t n = 0;
    char *log = file_read_all(j->log_path, &n, &ignore);
    if (!log) return NULL;
    char *best = NULL;
    for (char *line = log; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        if (!strncmp(line, "error: ", 7)) best = line + 7;
        line = nl ? nl + 1 : NULL;
    }
    char *r = best ? xstrdup(best) : NULL;
    free(log);
    return r;
}
