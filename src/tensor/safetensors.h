/* safetensors.h — reading (mmap, fully validated header) and writing (atomic) safetensors files,
 * and sets of files (sharded checkpoints with *.safetensors.index.json).
 *
 * Format: u64 little-endian header length N, N bytes of JSON
 *   {"__metadata__": {str: str}, "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
 * then the data block; offsets are relative to the data block. */
#ifndef ST_SAFETENSORS_H
#define ST_SAFETENSORS_H
#include <stdint.h>
#include <stddef.h>
#include "base/error.h"
#include "tensor/dtype.h"

#define ST_MAX_DIMS 8

typedef struct StTensor {
    char *name;
    DType dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t numel, nbytes;
    const void *data;        /* points into the mapping; may be unaligned for the dtype */
    const char *file;        /* path of the file holding it (for messages) */
} StTensor;

typedef struct StFile {
    char *path;
    void *map; size_t map_len;
    int n;                   /* tensors, sorted by name */
    StTensor *t;
    int n_meta;
    char **meta_key, **meta_val;
} StFile;

int  st_open(StFile *f, const char *path, Err *e);
void st_close(StFile *f);
const StTensor *st_find(const StFile *f, const char *name);
const char *st_meta(const StFile *f, const char *key);
/* Newly malloc'd f32 copy of any tensor (converted from its dtype). */
float *st_to_f32(const StTensor *t);
/* Shape check helper: sets e naming the tensor and both shapes when they differ. */
int st_expect_shape(const StTensor *t, int ndim, const int64_t *shape, Err *e);

/* A set of files acting as one checkpoint: a single .safetensors file, a *.safetensors.index.json
 * (weight_map → shards), or a directory (its index.json when present, else every *.safetensors in it). */
typedef struct StSet {
    int n;
    StFile *files;
} StSet;
int  stset_open(StSet *s, const char *path, Err *e);
void stset_close(StSet *s);
const StTensor *stset_find(const StSet *s, const char *name);
/* Number of tensors over all files and the i-th one (order: file by file, by name). */
int stset_count(const StSet *s);
const StTensor *stset_at(const StSet *s, int i);

/* Writer: collects tensors (copied) and metadata; writes atomically. */
typedef struct StWriter {
    int n, cap;
    StTensor *t;             /* data owned (malloc'd) */
    int n_meta;
    char **meta_key, **meta_val;
} StWriter;
void stw_init(StWriter *w);
void stw_free(StWriter *w);
/* Adds (or replaces) a tensor; data copied. */
void stw_add(StWriter *w, const char *name, DType dt, int ndim, const int64_t *shape, const void *data);
void stw_add_f32(StWriter *w, const char *name, int ndim, const int64_t *shape, const float *data);
void stw_set_meta(StWriter *w, const char *key, const char *val);
const StTensor *stw_find(const StWriter *w, const char *name);
int  stw_write(const StWriter *w, const char *path, Err *e);

#endif
