/* param.h — a trainable parameter as the model exposes it to the training library.
 *
 * Models hand the optimizer, EMA, gradient clipping and checkpoints a list of these; nothing in
 * src/train knows a model's layout. `value` and `grad` are f32 buffers of `numel` elements owned
 * by the model; `name` is the tensor's stable name (used as the key in optimizer/EMA state files). */
#ifndef ST_TRAIN_PARAM_H
#define ST_TRAIN_PARAM_H
#include <stddef.h>

typedef struct TrainParam {
    const char *name;
    float *value;
    float *grad;
    size_t numel;
} TrainParam;

#endif
