/* cache.h — cache entries (VAE latents, text embeds, conditioning pixels) that are recomputed
 * exactly when they are stale, never when they are not, and never read half-written.
 *
 * An entry is one safetensors file <dir>/<name>.safetensors, where name is the source's relative
 * path WITH its extension (so a.png and a.jpg never collide, unlike upstream's sha256(stem)).
 * Its metadata records:
 *   cache_format   "1"
 *   settings       the caller's text of every setting that changes the content (model family and
 *                  flavour, VAE identity, resolution, bucket, crop box, caption text, ...)
 *   source_count, source.<i>   "<size> <mtime_ns> <content hash>" of every source file
 *   checksum       hash of all tensor names, dtypes, shapes and bytes
 * Lookup is HIT only when settings match, every source is unchanged (same size and mtime, or else the
 * same content hash), and the checksum verifies. Writes go to a temp file, fsync, rename. */
#ifndef ST_CACHE_H
#define ST_CACHE_H
#include <stddef.h>
#include <stdint.h>
#include "base/error.h"
#include "tensor/safetensors.h"

typedef struct CacheKey {
    const char *dir;                  /* cache directory of the dataset / kind */
    const char *name;                 /* "sub/a.png", or a key such as "__caption_dropout__" */
    const char *const *sources;       /* files the content derives from (may be 0) */
    int n_sources;
    const char *settings;             /* every setting that changes the content */
} CacheKey;

typedef enum {
    CACHE_HIT = 0,
    CACHE_ABSENT,            /* no entry yet */
    CACHE_STALE_SOURCE,      /* a source file's content changed */
    CACHE_STALE_SETTINGS,    /* a setting changed */
    CACHE_CORRUPT,           /* unreadable, wrong format or checksum mismatch: recompute and report */
} CacheStatus;

const char *cache_status_name(CacheStatus s);
/* <dir>/<name>.safetensors (malloc'd). */
char *cache_entry_path(const CacheKey *k);
/* Fingerprint of a file: its size, mtime (ns) and 64-bit content hash. */
typedef struct SourceStamp { int64_t size, mtime_ns; uint64_t hash; } SourceStamp;
int source_stamp(const char *path, int with_hash, SourceStamp *out, Err *e);

/* Looks an entry up. On CACHE_HIT `out` is open (st_close it); otherwise it is left closed and
 * `why` (when given) says what was stale or corrupt. Returns -1 only when a source cannot be read. */
int cache_lookup(const CacheKey *k, StFile *out, CacheStatus *status, char *why, size_t why_len, Err *e);
/* Stamps the writer's metadata (settings, sources, checksum) and writes the entry atomically,
 * creating directories as needed. */
int cache_store(const CacheKey *k, StWriter *w, Err *e);

#endif
