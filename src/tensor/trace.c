#include "tensor/trace.h"

void trace_emit(const Trace *t, const char *name, DType dt, int ndim, const int64_t *shape, const void *data) {
    if (trace_on(t)) t->emit(t->ctx, t->scope, name, dt, ndim, shape, data);
}
void trace_f32(const Trace *t, const char *name, int ndim, const int64_t *shape, const float *data) {
    trace_emit(t, name, DT_F32, ndim, shape, data);
}
void trace_i64(const Trace *t, const char *name, int ndim, const int64_t *shape, const int64_t *data) {
    trace_emit(t, name, DT_I64, ndim, shape, data);
}
void trace_f64(const Trace *t, const char *name, int ndim, const int64_t *shape, const double *data) {
    trace_emit(t, name, DT_F64, ndim, shape, data);
}
