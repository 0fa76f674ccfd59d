/* run_module.h — the numerical test harness: run one component on the inputs of an io.safetensors
 * file and collect its outputs under the golden tensor names.
 *
 * A component is chosen by the class name in DIR/config.json ("_class_name", or the first of
 * "architectures" for transformers configs; DIR/pipeline.json "pipeline" for pipeline dirs).
 * It reads inputs only through rm_input*, which marks them as inputs; every other io tensor
 * is an expected output that --check compares and must be produced. */
#ifndef ST_RUN_MODULE_H
#define ST_RUN_MODULE_H
#include <cjson/cJSON.h>
#include "base/error.h"
#include "tensor/safetensors.h"
#include "tensor/trace.h"

typedef struct RunModule {
    const char *dir;
    const char *class_name;
    cJSON *config;             /* DIR/config.json (or pipeline.json) */
    StFile *weights;           /* DIR/weights.safetensors, NULL when absent */
    StFile *io;                /* DIR/io.safetensors */
    unsigned char *is_input;   /* per io->t[i]: 1 when read as an input */
    StWriter *out;
} RunModule;

/* An input tensor; error naming the tensor when missing. */
const StTensor *rm_input(RunModule *rm, const char *name, Err *e);
/* An optional input (NULL when missing). */
const StTensor *rm_input_opt(RunModule *rm, const char *name);
/* Input converted to a newly malloc'd f32 array (NULL + e when missing). */
float *rm_input_f32(RunModule *rm, const char *name, const StTensor **t, Err *e);
/* Case names: the distinct prefixes "<case>" of io tensors named "<case>.<suffix>". Returns count;
 * *cases is a malloc'd array of malloc'd strings in sorted order. */
int rm_cases(const RunModule *rm, const char *suffix, char ***cases);
void rm_free_cases(char **cases, int n);
void rm_output(RunModule *rm, const char *name, DType dt, int ndim, const int64_t *shape, const void *data);
void rm_output_f32(RunModule *rm, const char *name, int ndim, const int64_t *shape, const float *data);

/* A Trace sink (tensor/trace.h) that keeps what a component reports in a StWriter (ctx), under
 * "<scope>.<name>" or "<name>"; the first tensor of a name wins. */
void rm_capture(void *ctx, const char *scope, const char *name, DType dt, int ndim, const int64_t *shape, const void *data);
/* The f32 data captured under name; NULL (and e set) when the component did not report it. */
const float *rm_captured(const StWriter *w, const char *name, Err *e);

typedef struct RunModuleComponent {
    const char *class_name;
    int (*run)(RunModule *rm, Err *e);
} RunModuleComponent;

/* The registry (run_module_registry.c): NULL-terminated. */
extern const RunModuleComponent RUN_MODULE_COMPONENTS[];

int cmd_run_module(int argc, char **argv, Err *e);

#endif
