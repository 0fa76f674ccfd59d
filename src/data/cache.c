#include "data/cache.h"
#include "base/files.h"
#include "base/rng.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_FORMAT "1"

const char *cache_status_name(CacheStatus s) {
    switch (s) {
    case CACHE_HIT: return "hit";
    case CACHE_ABSENT: return "absent";
    case CACHE_STALE_SOURCE: return "stale (source changed)";
    case CACHE_STALE_SETTINGS: return "stale (settings changed)";
    default: return "corrupt";
    }
}

char *cache_entry_path(const CacheKey *k) {
    char *name = xasprintf("%s.safetensors", k->name);
    char *p = path_join(k->dir, name);
    free(name);
    return p;
}

int source_stamp(const char *path, int with_hash, SourceStamp *out, Err *e) {
    struct stat st;
    if (stat(path, &st) != 0) return err_set(e, "%s: cannot stat: %s", path, strerror(errno));
    out->size = (int64_t)st.st_size;
    out->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    out->hash = 0;
    if (!with_hash) return 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return err_set(e, "%s: cannot open: %s", path, strerror(errno));
    uint64_t h = 0x5151;
    unsigned char buf[1 << 16];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0) { if (errno == EINTR) continue; close(fd); return err_set(e, "%s: read error: %s", path, strerror(errno)); }
        if (r == 0) break;
        h = hash64(buf, (size_t)r, h);
    }
    close(fd);
    out->hash = h;
    return 0;
}

static uint64_t settings_hash(const char *s) { return hash64(s ? s : "", s ? strlen(s) : 0, 0x5E77u); }

/* Checksum over tensors in name order: name, dtype, shape, bytes. */
static uint64_t tensors_checksum(const StTensor *t, int n) {
    int *ord = xmalloc(sizeof(int) * (n + 1));
    for (int i = 0; i < n; i++) ord[i] = i;
    for (int i = 1; i < n; i++) { /* insertion sort: entries hold a handful of tensors */
        int v = ord[i], j = i - 1;
        while (j >= 0 && strcmp(t[ord[j]].name, t[v].name) > 0) { ord[j + 1] = ord[j]; j--; }
        ord[j + 1] = v;
    }
    uint64_t h = 0xC4EC;
    for (int k = 0; k < n; k++) {
        const StTensor *x = &t[ord[k]];
        h = hash64(x->name, strlen(x->name), h);
        int32_t dt = (int32_t)x->dtype;
        h = hash64(&dt, sizeof dt, h);
        h = hash64(x->shape, sizeof(int64_t) * (size_t)x->ndim, h);
        h = hash64(x->data, x->nbytes, h);
    }
    free(ord);
    return h;
}

static void say(char *why, size_t n, const char *fmt, const char *a, const char *b) {
    if (why && n) snprintf(why, n, fmt, a, b);
}

int cache_lookup(const CacheKey *k, StFile *out, CacheStatus *status, char *why, size_t why_len, Err *e) {
    memset(out, 0, sizeof *out);
    if (why && why_len) why[0] = 0;
    char *path = cache_entry_path(k);
    if (!file_exists(path)) { *status = CACHE_ABSENT; free(path); return 0; }
    Err oe = {0};
    if (st_open(out, path, &oe)) {
        *status = CACHE_CORRUPT;
        say(why, why_len, "%s%s", oe.msg, "");
        free(path);
        return 0;
    }
    const char *fmt = st_meta(out, "cache_format"), *set = st_meta(out, "settings"), *sum = st_meta(out, "checksum");
    const char *cnt = st_meta(out, "source_count");
    if (!fmt || strcmp(fmt, CACHE_FORMAT) || !set || !sum || !cnt) {
        *status = CACHE_CORRUPT;
        say(why, why_len, "%s: not a cache entry of format %s (metadata missing)", path, CACHE_FORMAT);
        goto miss;
    }
    char hex[32];
    snprintf(hex, sizeof hex, "%016" PRIx64, tensors_checksum(out->t, out->n));
    if (strcmp(hex, sum)) {
        *status = CACHE_CORRUPT;
        say(why, why_len, "%s: checksum mismatch (stored %s)", path, sum);
        goto miss;
    }
    if (strcmp(set, k->settings ? k->settings : "")) {
        *status = CACHE_STALE_SETTINGS;
        say(why, why_len, "settings were \"%s\", now \"%s\"", set, k->settings ? k->settings : "");
        goto miss;
    }
    char *cnt_end;
    long n_src = strtol(cnt, &cnt_end, 10);   /* atoi is undefined on out-of-range text */
    if (cnt_end == cnt || *cnt_end || n_src < 0 || n_src > 1000000) {
        *status = CACHE_CORRUPT;
        say(why, why_len, "%s: bad metadata source_count \"%s\"", path, cnt);
        goto miss;
    }
    if (n_src != k->n_sources) {
        *status = CACHE_STALE_SOURCE;
        say(why, why_len, "%s: made from %s sources", path, cnt);
        goto miss;
    }
    for (int i = 0; i < k->n_sources; i++) {
        char key[32];
        snprintf(key, sizeof key, "source.%d", i);
        const char *v = st_meta(out, key);
        SourceStamp old = {0}, now;
        unsigned long long hh = 0;
        long long sz = -1, mt = -1;
        if (!v || sscanf(v, "%lld %lld %llx", &sz, &mt, &hh) != 3) {
            *status = CACHE_CORRUPT;
            say(why, why_len, "%s: bad metadata %s", path, key);
            goto miss;
        }
        old.size = sz; old.mtime_ns = mt; old.hash = hh;
        if (source_stamp(k->sources[i], 0, &now, e)) { st_close(out); free(path); return -1; }
        if (now.size == old.size && now.mtime_ns == old.mtime_ns) continue;
        if (now.size == old.size) {   /* touched or rewritten: only the content decides */
            if (source_stamp(k->sources[i], 1, &now, e)) { st_close(out); free(path); return -1; }
            if (now.hash == old.hash) continue;
        }
        *status = CACHE_STALE_SOURCE;
        say(why, why_len, "%s changed since %s was made", k->sources[i], path);
        goto miss;
    }
    free(path);
    *status = CACHE_HIT;
    return 0;
miss:
    st_close(out);
    free(path);
    return 0;
}

int cache_store(const CacheKey *k, StWriter *w, Err *e) {
    stw_set_meta(w, "cache_format", CACHE_FORMAT);
    stw_set_meta(w, "settings", k->settings ? k->settings : "");
    char buf[128];
    snprintf(buf, sizeof buf, "%016" PRIx64, settings_hash(k->settings));
    stw_set_meta(w, "settings_hash", buf);
    snprintf(buf, sizeof buf, "%d", k->n_sources);
    stw_set_meta(w, "source_count", buf);
    for (int i = 0; i < k->n_sources; i++) {
        SourceStamp s;
        if (source_stamp(k->sources[i], 1, &s, e)) return -1;
        char key[32];
        snprintf(key, sizeof key, "source.%d", i);
        snprintf(buf, sizeof buf, "%" PRId64 " %" PRId64 " %016" PRIx64, s.size, s.mtime_ns, s.hash);
        stw_set_meta(w, key, buf);
    }
    snprintf(buf, sizeof buf, "%016" PRIx64, tensors_checksum(w->t, w->n));
    stw_set_meta(w, "checksum", buf);
    char *path = cache_entry_path(k);
    char *dir = path_dirname(path);
    int rc = dir_make(dir, e);
    if (!rc) rc = stw_write(w, path, e);
    free(dir); free(path);
    return rc;
}
