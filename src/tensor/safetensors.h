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
/* Drops this process's pages of bytes [p, p+n) of a mapped file (madvise MADV_DONTNEED; the range
 * is widened to whole pages): a tensor converted to another storage no longer holds memory. The
 * mapping is read-only, so a later read simply faults the bytes back in from the file. Returns 1
 * when the range lies in one of the set's files, else 0 (nothing done: never drops other memory). */
int stset_release(const StSet *s, const void *p, size_t n);
/* The same for every byte of every file of the set (after the last converted tensor: reading one
 * tensor maps the kernel's fault-around window of its neighbours back in, up to 64 KiB a fault). */
void stset_release_all(const StSet *s);

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

/* Streaming writer for files larger than memory: every tensor is declared first (the header is
 * laid out from the declarations, data in declaration order), then each one's bytes are written
 * once, in any order, straight to a temporary file; sts_finish checks all were written, fsyncs and
 * renames it into place (sts_abort removes it). Memory: the declarations only. */
typedef struct StStream {
    char *path, *tmp;
    int fd, n, cap, n_meta;
    StTensor *t;             /* declared tensors (data unused); offsets below */
    uint64_t *off;           /* byte offset of each tensor's data in the data block */
    uint64_t data_start;     /* file offset of the data block (after the header) */
    unsigned char *written;
    char **meta_key, **meta_val;
} StStream;
void sts_init(StStream *s);
void sts_declare(StStream *s, const char *name, DType dt, int ndim, const int64_t *shape);
void sts_set_meta(StStream *s, const char *key, const char *val);
/* Creates the temporary file and writes the header (after all declarations). */
int  sts_begin(StStream *s, const char *path, Err *e);
/* Writes the bytes of the tensor called name (nbytes of its dtype and shape). */
int  sts_write(StStream *s, const char *name, const void *data, Err *e);
int  sts_finish(StStream *s, Err *e);
void sts_abort(StStream *s);

#endif
