/* events_stream.h — one client's server-sent event stream of a run or an edit (text/event-stream):
 *
 *   event: reset                    first, so a reconnecting page starts its chart afresh
 *   event: step   (history)         one per line of output_dir/training_log.jsonl, in order
 *   event: <kind> (live)            every line of the job's events file (train/validate --events),
 *                                   step events only when newer than the last step sent, so steps
 *                                   arrive once each and in order
 *   event: end                      {"state", "exit_code", "error"} once the job has ended and its
 *                                   file is drained (immediately for a run no child is running)
 *
 * Each data line is one JSON object (docs/webui.md). A stream polls its files (every 100 ms), sends
 * a comment line every 10 s of silence, and ends when the server stops. Reading blocks the calling
 * thread (libmicrohttpd's thread per connection). */
#ifndef ST_SERVER_EVENTS_STREAM_H
#define ST_SERVER_EVENTS_STREAM_H
#include <pthread.h>
#include <stddef.h>
#include "server/jobs.h"

typedef struct EventStream EventStream;

/* job: the child writing events_path, or NULL when none runs (the files are replayed, then end).
 * train_log: training_log.jsonl to replay first, or NULL. mu guards job; *stopping set = end now. */
EventStream *events_stream_new(Job *job, const char *train_log, const char *events_path, pthread_mutex_t *mu,
                               const volatile int *stopping);
/* Up to max bytes of the stream into buf; blocks until there are some. Returns the count, or -1 at
 * the end of the stream. */
long events_stream_read(EventStream *st, char *buf, size_t max);
void events_stream_free(EventStream *st);

#endif
