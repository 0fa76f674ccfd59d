/* libFuzzer target: reading a cache entry (src/data/cache.c): the file under a fixed key is looked up
 * (format, settings, source stamps, checksum) and, on a hit, every tensor is read as the trainer does. */
#include "fuzz_common.h"
#include "data/cache.h"
#include <fcntl.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    char dir[128], sub[160], entry[200], src[160];
    FUZZ_PATH(dir, "cache");
    snprintf(sub, sizeof sub, "%s/sub", dir);
    snprintf(entry, sizeof entry, "%s/%s.safetensors", dir, FUZZ_CACHE_NAME);
    FUZZ_PATH(src, "source.png");
    static int ready;
    if (!ready) {   /* the source file the seeds were stamped with: same bytes, same mtime */
        mkdir(dir, 0700); mkdir(sub, 0700);
        fuzz_write(src, FUZZ_CACHE_SOURCE_TEXT, strlen(FUZZ_CACHE_SOURCE_TEXT));
        struct timespec ts[2] = {{FUZZ_CACHE_SOURCE_MTIME, 0}, {FUZZ_CACHE_SOURCE_MTIME, 0}};
        utimensat(AT_FDCWD, src, ts, 0);
        ready = 1;
    }
    fuzz_write(entry, data, n);
    const char *sources[1] = {src};
    CacheKey k = {dir, FUZZ_CACHE_NAME, sources, 1, FUZZ_CACHE_SETTINGS};
    StFile f; CacheStatus st; char why[256]; Err e = {0};
    if (cache_lookup(&k, &f, &st, why, sizeof why, &e) == 0 && st == CACHE_HIT) {
        for (int i = 0; i < f.n; i++) {
            if (f.t[i].numel > (1u << 24)) continue;
            float *x = st_to_f32(&f.t[i]);
            free(x);
        }
        st_close(&f);
    }
    return 0;
}
