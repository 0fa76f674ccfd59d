#include "base/interrupt.h"
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* SIGUSR2 pending for the process = a stop was requested (see interrupt.h). */
#define STOP_FLAG SIGUSR2

static void say(const char *text) {
    size_t n = strlen(text);
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, text, n);
        if (w <= 0) return;
        text += w; n -= (size_t)w;
    }
}

/* The watcher: the first SIGINT/SIGTERM requests the stop, the second ends the process by itself. */
static void *watch(void *arg) {
    const char *note = arg;
    sigset_t wait;
    sigemptyset(&wait);
    sigaddset(&wait, SIGINT);
    sigaddset(&wait, SIGTERM);
    for (int count = 0;; ) {
        siginfo_t si;
        int sig = sigwaitinfo(&wait, &si);
        if (sig < 0) continue;   /* EINTR */
        const char *name = sig == SIGINT ? "Ctrl-C" : "SIGTERM";
        char line[1024];
        /* a fresh line: a progress bar may be drawn on a terminal */
        const char *lead = isatty(STDERR_FILENO) ? "\n" : "";
        if (count++ == 0) {
            snprintf(line, sizeof line, "%s%s: %s; Ctrl-C again to stop now\n", lead, name, note);
            say(line);
            kill(getpid(), STOP_FLAG);   /* stays pending: blocked in every thread */
            continue;
        }
        snprintf(line, sizeof line, "%s%s again: stopping now\n", lead, name);
        say(line);
        /* die of the signal itself, so the caller sees 128 + signal */
        signal(sig, SIG_DFL);
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, sig);
        pthread_sigmask(SIG_UNBLOCK, &one, NULL);
        pthread_kill(pthread_self(), sig);
        _exit(128 + sig);   /* not reached */
    }
    return NULL;
}

void interrupt_hold(const char *note) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, STOP_FLAG);
    sigprocmask(SIG_BLOCK, &s, NULL);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, watch, (void *)(note ? note : "stopping at the next safe point")) != 0) {
        /* without a watcher the signals must act as usual rather than be held forever */
        sigdelset(&s, STOP_FLAG);
        sigprocmask(SIG_UNBLOCK, &s, NULL);
    }
    pthread_attr_destroy(&attr);
}

int interrupt_requested(void) {
    sigset_t pending;
    if (sigpending(&pending)) return 0;
    return sigismember(&pending, STOP_FLAG) == 1;
}

int interrupt_check(Err *e, const char *what) {
    if (!interrupt_requested()) return 0;
    return err_setc(e, EXIT_INTERRUPTED, "interrupted %s", what);
}
