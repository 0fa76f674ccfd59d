/* param.h — a trainable parameter as the model exposes it to the training library.
 *
 * Models hand the optimizer, EMA, gradient clipping and checkpoints a list of these; nothing in
 * src/train knows a model's layout. `value` and `grad` are f32 buffers of `numel` elements owned
 * by the model; `name` is the tensor's stable name (used as the key in optimizer/EMA state files). */
#ifndef ST_TRAIN_PARAM_H
#define ST_TRAIN_PARAM_H
#include <stddef.h>
#include <stdint.h>

typedef struct TrainParam {
    const char *name;
    float *value;
    float *grad;
    size_t numel;
    int ndim;            /* 0 = unknown (treated as a vector of numel) */
    int64_t shape[2];    /* [out, in] for matrices, [n] for vectors */
} TrainParam;

#endif
