#include "base/interrupt.h"
#include <signal.h>
#include <time.h>

static void stop_signals(sigset_t *s) {
    sigemptyset(s);
    sigaddset(s, SIGINT);
    sigaddset(s, SIGTERM);
}

void interrupt_hold(void) {
    sigset_t s;
    stop_signals(&s);
    sigprocmask(SIG_BLOCK, &s, NULL);
}

int interrupt_take(void) {
    sigset_t pending, s;
    if (sigpending(&pending)) return 0;
    if (!sigismember(&pending, SIGINT) && !sigismember(&pending, SIGTERM)) return 0;
    stop_signals(&s);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&s, NULL, &zero) > 0) {}   /* consume them, so the release does not deliver them */
    return 1;
}

void interrupt_release(void) {
    sigset_t s;
    stop_signals(&s);
    sigprocmask(SIG_UNBLOCK, &s, NULL);
}
