/* trace.h — an optional sink for intermediate tensors of a long computation (prompt encoding,
 * sampling, decoding), so a harness can compare every stage of the exact code path a user runs
 * with upstream's. Producers call trace_* with a short name; nothing happens when the trace is
 * NULL, so the normal path pays one pointer test per stage. A trace carries a scope (e.g.
 * "prompt" or "negative") that producers do not interpret: the sink decides where a name goes. */
#ifndef ST_TENSOR_TRACE_H
#define ST_TENSOR_TRACE_H
#include <stdint.h>
#include "tensor/dtype.h"

typedef void (*TraceEmitFn)(void *ctx, const char *scope, const char *name, DType dt, int ndim,
                            const int64_t *shape, const void *data);

typedef struct Trace {
    TraceEmitFn emit;
    void *ctx;
    const char *scope;   /* may be NULL */
} Trace;

/* The same sink under another scope. */
static inline Trace trace_scope(const Trace *t, const char *scope) {
    Trace s = {t ? t->emit : 0, t ? t->ctx : 0, scope};
    return s;
}
static inline int trace_on(const Trace *t) { return t && t->emit; }

void trace_emit(const Trace *t, const char *name, DType dt, int ndim, const int64_t *shape, const void *data);
void trace_f32(const Trace *t, const char *name, int ndim, const int64_t *shape, const float *data);
void trace_i64(const Trace *t, const char *name, int ndim, const int64_t *shape, const int64_t *data);
void trace_f64(const Trace *t, const char *name, int ndim, const int64_t *shape, const double *data);

#endif
