#include "tensor/safetensors.h"
#include "base/files.h"
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER (100u << 20) /* same limit as the reference implementation */

static int cmp_tensor_name(const void *a, const void *b) {
    return strcmp(((const StTensor *)a)->name, ((const StTensor *)b)->name);
}

typedef struct { uint64_t begin, end; const char *name; } Span;
static int cmp_span(const void *a, const void *b) {
    const Span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end < y->end ? -1 : x->end > y->end);
}

static void st_free_fields(StFile *f) {
    for (int i = 0; i < f->n; i++) free(f->t[i].name);
    free(f->t);
    for (int i = 0; i < f->n_meta; i++) { free(f->meta_key[i]); free(f->meta_val[i]); }
    free(f->meta_key); free(f->meta_val);
    if (f->map && f->map != MAP_FAILED) munmap(f->map, f->map_len);
    free(f->path);
    memset(f, 0, sizeof *f);
}

/* Object members sharing one key anywhere in the header: cJSON keeps both, and the reader would act
 * on one of them silently (two "__metadata__" members once overflowed the metadata arrays). Returns
 * the repeated key and, in *where, the key of the object holding it (NULL at the top level). */
static int cmp_cstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static const char *duplicate_key(const cJSON *node, const char *name, const char **where) {
    if (!cJSON_IsObject(node) && !cJSON_IsArray(node)) return NULL;
    int n = cJSON_GetArraySize(node);
    if (cJSON_IsObject(node) && n > 1) {
        const char **keys = xmalloc((size_t)n * sizeof *keys);
        int k = 0;
        for (const cJSON *c = node->child; c; c = c->next) keys[k++] = c->string;
        qsort(keys, (size_t)k, sizeof *keys, cmp_cstr);
        const char *dup = NULL;
        for (int i = 1; i < k && !dup; i++) if (strcmp(keys[i], keys[i - 1]) == 0) dup = keys[i];
        free(keys);
        if (dup) { *where = name; return dup; }
    }
    for (const cJSON *c = node->child; c; c = c->next) {
        const char *dup = duplicate_key(c, cJSON_IsObject(node) ? c->string : name, where);
        if (dup) return dup;
    }
    return NULL;
}

/* A JSON number that is a whole value in [0, max]; checked on the double, because converting an
 * out-of-range double (1e300, 1.8e19) to an integer type is undefined behaviour. */
static int whole_in_range(const cJSON *v, double max) {
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= max && v->valuedouble == floor(v->valuedouble);
}

/* Parses one tensor entry; returns -1 with e set on any malformed field. */
static int parse_entry(StFile *f, const cJSON *it, uint64_t data_len, StTensor *t, Span *sp, Err *e) {
    const char *path = f->path, *name = it->string;
    if (!cJSON_IsObject(it)) return err_set(e, "%s: corrupt safetensors header: entry '%s' is not an object", path, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(it, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(it, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
    if (!cJSON_IsString(dt)) return err_set(e, "%s: corrupt safetensors header: tensor '%s' has no dtype string", path, name);
    if (dtype_from_name(dt->valuestring, &t->dtype) != 0)
        return err_set(e, "%s: tensor '%s' has unsupported dtype '%s' (expected one of F32 F16 BF16 F8_E4M3 F8_E5M2 F64 I64 I32 I16 I8 U8 BOOL)", path, name, dt->valuestring);
    if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) > ST_MAX_DIMS)
        return err_set(e, "%s: corrupt safetensors header: tensor '%s' shape is not an array of at most %d dims", path, name, ST_MAX_DIMS);
    t->ndim = cJSON_GetArraySize(shape);
    uint64_t numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        const cJSON *v = cJSON_GetArrayItem(shape, d);
        if (!whole_in_range(v, 9e15))
            return err_set(e, "%s: corrupt safetensors header: tensor '%s' has an invalid dimension (expected a whole number in 0..9e15)", path, name);
        t->shape[d] = (int64_t)v->valuedouble;
        if (t->shape[d] && numel > UINT64_MAX / (uint64_t)t->shape[d])
            return err_set(e, "%s: corrupt safetensors header: tensor '%s' is too large", path, name);
        numel *= (uint64_t)t->shape[d];
    }
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2)
        return err_set(e, "%s: corrupt safetensors header: tensor '%s' data_offsets is not [begin, end]", path, name);
    const cJSON *ob = cJSON_GetArrayItem(off, 0), *oe = cJSON_GetArrayItem(off, 1);
    if (!whole_in_range(ob, 1e300) || !whole_in_range(oe, 1e300) || oe->valuedouble < ob->valuedouble)
        return err_set(e, "%s: corrupt safetensors header: tensor '%s' has invalid data_offsets (expected whole numbers begin <= end)", path, name);
    if (oe->valuedouble > (double)data_len)
        return err_set(e, "%s: tensor '%s' data_offsets [%.17g, %.17g] run past the end of the file (data block is %llu bytes; file truncated?)",
                       path, name, ob->valuedouble, oe->valuedouble, (unsigned long long)data_len);
    uint64_t begin = (uint64_t)ob->valuedouble, end = (uint64_t)oe->valuedouble;   /* both <= data_len now */
    if (numel > UINT64_MAX / dtype_size(t->dtype) || end - begin != numel * dtype_size(t->dtype))
        return err_set(e, "%s: tensor '%s' byte size %llu does not match its shape and dtype %s (expected %llu bytes)",
                       path, name, (unsigned long long)(end - begin), dt->valuestring, (unsigned long long)(numel * dtype_size(t->dtype)));
    t->name = xstrdup(name);
    t->numel = (size_t)numel;
    t->nbytes = (size_t)(end - begin);
    sp->begin = begin; sp->end = end; sp->name = t->name;
    return 0;
}

/* The format stores tensors back to back: sorted by offset, each begins where the previous one ends
 * and the last ends at the end of the data block (what the reference reader checks). This compares
 * every tensor with all before it, so an overlap cannot hide behind a zero-length tensor. */
static int check_layout(const char *path, Span *spans, int n, uint64_t data_len, Err *e) {
    qsort(spans, (size_t)n, sizeof *spans, cmp_span);
    uint64_t covered = 0;
    const char *last = NULL;
    for (int i = 0; i < n; i++) {
        if (spans[i].begin < covered)
            return err_set(e, "%s: corrupt safetensors header: tensors '%s' and '%s' overlap in the data block (data_offsets [%llu, %llu] begin inside [.., %llu])",
                           path, last, spans[i].name, (unsigned long long)spans[i].begin, (unsigned long long)spans[i].end, (unsigned long long)covered);
        if (spans[i].begin > covered)
            return err_set(e, "%s: corrupt safetensors header: %llu unused bytes before tensor '%s' (data_offsets begin at %llu, the tensors before end at %llu; the format stores tensors back to back)",
                           path, (unsigned long long)(spans[i].begin - covered), spans[i].name, (unsigned long long)spans[i].begin, (unsigned long long)covered);
        covered = spans[i].end;
        last = spans[i].name;
    }
    if (covered != data_len)
        return err_set(e, "%s: corrupt safetensors file: the data block has %llu bytes but its tensors end at byte %llu (trailing bytes)",
                       path, (unsigned long long)data_len, (unsigned long long)covered);
    return 0;
}

int st_open(StFile *f, const char *path, Err *e) {
    memset(f, 0, sizeof *f);
    f->path = xstrdup(path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) { err_set(e, "%s: cannot open safetensors file: %s", path, strerror(errno)); st_free_fields(f); return -1; }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) { close(fd); err_set(e, "%s: not a regular file", path); st_free_fields(f); return -1; }
    size_t len = (size_t)st.st_size;
    if (len < 8) { close(fd); err_set(e, "%s: not a safetensors file: %zu bytes, shorter than the 8-byte header length", path, len); st_free_fields(f); return -1; }
    f->map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (f->map == MAP_FAILED) { f->map = NULL; err_set(e, "%s: mmap failed: %s", path, strerror(errno)); st_free_fields(f); return -1; }
    f->map_len = len;
    const unsigned char *p = f->map;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | p[i];
    if (hlen > len - 8 || hlen > ST_MAX_HEADER) {
        err_set(e, "%s: corrupt safetensors file: header length %llu exceeds the file size %zu (truncated or not a safetensors file)", path, (unsigned long long)hlen, len);
        st_free_fields(f); return -1;
    }
    cJSON *root = cJSON_ParseWithLength((const char *)p + 8, (size_t)hlen);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        err_set(e, "%s: corrupt safetensors header: not a valid JSON object", path);
        st_free_fields(f); return -1;
    }
    const char *where = NULL, *dup = duplicate_key(root, NULL, &where);
    if (dup) {
        if (where) err_set(e, "%s: corrupt safetensors header: key '%s' appears twice in '%s'", path, dup, where);
        else err_set(e, "%s: corrupt safetensors header: key '%s' appears twice", path, dup);
        cJSON_Delete(root); st_free_fields(f); return -1;
    }
    uint64_t data_len = len - 8 - hlen;
    const unsigned char *data = p + 8 + hlen;
    int cap = cJSON_GetArraySize(root);
    f->t = xcalloc((size_t)cap + 1, sizeof *f->t);
    Span *spans = xcalloc((size_t)cap + 1, sizeof *spans);
    int rc = 0;
    for (const cJSON *it = root->child; it; it = it->next) {
        if (strcmp(it->string, "__metadata__") == 0) {   /* at most once: duplicates were refused above */
            if (!cJSON_IsObject(it)) { rc = err_set(e, "%s: corrupt safetensors header: __metadata__ is not an object", path); break; }
            int m = cJSON_GetArraySize(it);
            f->meta_key = xcalloc((size_t)m + 1, sizeof(char *));
            f->meta_val = xcalloc((size_t)m + 1, sizeof(char *));
            for (const cJSON *kv = it->child; kv; kv = kv->next) {
                if (!cJSON_IsString(kv)) { rc = err_set(e, "%s: corrupt safetensors header: __metadata__ value '%s' is not a string", path, kv->string); break; }
                f->meta_key[f->n_meta] = xstrdup(kv->string);
                f->meta_val[f->n_meta++] = xstrdup(kv->valuestring);
            }
            if (rc) break;
            continue;
        }
        StTensor *t = &f->t[f->n];
        if ((rc = parse_entry(f, it, data_len, t, &spans[f->n], e)) != 0) break;
        t->data = data + spans[f->n].begin;
        t->file = f->path;
        f->n++;
    }
    cJSON_Delete(root);
    if (!rc) rc = check_layout(path, spans, f->n, data_len, e);
    free(spans);
    if (!rc) qsort(f->t, (size_t)f->n, sizeof *f->t, cmp_tensor_name);
    if (rc) { st_free_fields(f); return -1; }
    return 0;
}

void st_close(StFile *f) { if (f) st_free_fields(f); }

const StTensor *st_find(const StFile *f, const char *name) {
    int lo = 0, hi = f->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(f->t[mid].name, name);
        if (c == 0) return &f->t[mid];
        if (c < 0) lo = mid + 1; else hi = mid - 1;
    }
    return NULL;
}

const char *st_meta(const StFile *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++) if (strcmp(f->meta_key[i], key) == 0) return f->meta_val[i];
    return NULL;
}

float *st_to_f32(const StTensor *t) {
    float *out = xmalloc(t->numel * sizeof(float));
    dtype_to_f32(t->dtype, t->data, out, t->numel);
    return out;
}

static void shape_str(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && k < n; i++) k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

int st_expect_shape(const StTensor *t, int ndim, const int64_t *shape, Err *e) {
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = t->shape[i] == shape[i];
    if (ok) return 0;
    char a[128], b[128];
    shape_str(a, sizeof a, t->ndim, t->shape); shape_str(b, sizeof b, ndim, shape);
    return err_set(e, "%s: tensor '%s' has shape %s, expected %s", t->file ? t->file : "?", t->name, a, b);
}

/* ---- sets of files ---- */

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int stset_add(StSet *s, const char *path, Err *e) {
    s->files = xrealloc(s->files, (size_t)(s->n + 1) * sizeof *s->files);
    if (st_open(&s->files[s->n], path, e) != 0) return -1;
    s->n++;
    return 0;
}

static int stset_open_index(StSet *s, const char *index_path, Err *e) {
    char *txt = file_read_all(index_path, NULL, e);
    if (!txt) return -1;
    cJSON *root = cJSON_Parse(txt);
    free(txt);
    const cJSON *wm = root ? cJSON_GetObjectItemCaseSensitive(root, "weight_map") : NULL;
    if (!cJSON_IsObject(wm)) { cJSON_Delete(root); return err_set(e, "%s: not a safetensors index (expected a JSON object with \"weight_map\")", index_path); }
    int cap = cJSON_GetArraySize(wm), n = 0;
    char **names = xcalloc((size_t)cap + 1, sizeof(char *));
    for (const cJSON *it = wm->child; it; it = it->next) {
        if (!cJSON_IsString(it)) continue;
        int dup = 0;
        for (int i = 0; i < n && !dup; i++) dup = strcmp(names[i], it->valuestring) == 0;
        if (!dup) names[n++] = it->valuestring;
    }
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    char *dir = path_dirname(index_path);
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        char *p = path_join(dir, names[i]);
        rc = stset_add(s, p, e);
        free(p);
    }
    /* every tensor the index names must exist in the shard it names */
    for (const cJSON *it = wm->child; it && !rc; it = it->next)
        if (!stset_find(s, it->string))
            rc = err_set(e, "%s: tensor '%s' is listed in the index but missing from shard '%s'", index_path, it->string, cJSON_IsString(it) ? it->valuestring : "?");
    free(dir); free(names); cJSON_Delete(root);
    return rc;
}

int stset_open(StSet *s, const char *path, Err *e) {
    memset(s, 0, sizeof *s);
    int rc;
    if (dir_exists(path)) {
        DIR *d = opendir(path);
        if (!d) return err_set(e, "%s: cannot open directory: %s", path, strerror(errno));
        char **names = NULL; int n = 0;
        char *index = NULL;
        for (struct dirent *de; (de = readdir(d)) != NULL;) {
            if (ends_with(de->d_name, ".safetensors.index.json") && !index) index = path_join(path, de->d_name);
            else if (ends_with(de->d_name, ".safetensors")) { names = xrealloc(names, (size_t)(n + 1) * sizeof *names); names[n++] = xstrdup(de->d_name); }
        }
        closedir(d);
        if (index) rc = stset_open_index(s, index, e);
        else if (n == 0) rc = err_set(e, "%s: no *.safetensors files in this directory", path);
        else {
            qsort(names, (size_t)n, sizeof *names, cmp_str);
            rc = 0;
            for (int i = 0; i < n && !rc; i++) { char *p = path_join(path, names[i]); rc = stset_add(s, p, e); free(p); }
        }
        for (int i = 0; i < n; i++) free(names[i]);
        free(names); free(index);
    } else if (ends_with(path, ".json")) {
        rc = stset_open_index(s, path, e);
    } else {
        rc = stset_add(s, path, e);
    }
    if (rc) stset_close(s);
    return rc;
}

void stset_close(StSet *s) {
    for (int i = 0; i < s->n; i++) st_close(&s->files[i]);
    free(s->files);
    memset(s, 0, sizeof *s);
}

const StTensor *stset_find(const StSet *s, const char *name) {
    for (int i = 0; i < s->n; i++) { const StTensor *t = st_find(&s->files[i], name); if (t) return t; }
    return NULL;
}

int stset_count(const StSet *s) { int n = 0; for (int i = 0; i < s->n; i++) n += s->files[i].n; return n; }

const StTensor *stset_at(const StSet *s, int i) {
    for (int f = 0; f < s->n; f++) { if (i < s->files[f].n) return &s->files[f].t[i]; i -= s->files[f].n; }
    return NULL;
}

/* ---- writer ---- */

void stw_init(StWriter *w) { memset(w, 0, sizeof *w); }

void stw_free(StWriter *w) {
    for (int i = 0; i < w->n; i++) { free(w->t[i].name); free((void *)w->t[i].data); }
    free(w->t);
    for (int i = 0; i < w->n_meta; i++) { free(w->meta_key[i]); free(w->meta_val[i]); }
    free(w->meta_key); free(w->meta_val);
    memset(w, 0, sizeof *w);
}

const StTensor *stw_find(const StWriter *w, const char *name) {
    for (int i = 0; i < w->n; i++) if (strcmp(w->t[i].name, name) == 0) return &w->t[i];
    return NULL;
}

void stw_add(StWriter *w, const char *name, DType dt, int ndim, const int64_t *shape, const void *data) {
    StTensor *t = (StTensor *)stw_find(w, name);
    if (t) { free(t->name); free((void *)t->data); }
    else {
        if (w->n == w->cap) { w->cap = w->cap ? 2 * w->cap : 16; w->t = xrealloc(w->t, (size_t)w->cap * sizeof *w->t); }
        t = &w->t[w->n++];
    }
    memset(t, 0, sizeof *t);
    t->name = xstrdup(name);
    t->dtype = dt;
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) { t->shape[i] = shape[i]; t->numel *= (size_t)shape[i]; }
    t->nbytes = t->numel * dtype_size(dt);
    void *copy = xmalloc(t->nbytes);
    if (t->nbytes) memcpy(copy, data, t->nbytes);
    t->data = copy;
}

void stw_add_f32(StWriter *w, const char *name, int ndim, const int64_t *shape, const float *data) {
    stw_add(w, name, DT_F32, ndim, shape, data);
}

void stw_set_meta(StWriter *w, const char *key, const char *val) {
    for (int i = 0; i < w->n_meta; i++)
        if (strcmp(w->meta_key[i], key) == 0) { free(w->meta_val[i]); w->meta_val[i] = xstrdup(val); return; }
    w->meta_key = xrealloc(w->meta_key, (size_t)(w->n_meta + 1) * sizeof(char *));
    w->meta_val = xrealloc(w->meta_val, (size_t)(w->n_meta + 1) * sizeof(char *));
    w->meta_key[w->n_meta] = xstrdup(key);
    w->meta_val[w->n_meta++] = xstrdup(val);
}

int stw_write(const StWriter *w, const char *path, Err *e) {
    cJSON *root = cJSON_CreateObject();
    if (w->n_meta) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        for (int i = 0; i < w->n_meta; i++) cJSON_AddStringToObject(m, w->meta_key[i], w->meta_val[i]);
    }
    uint64_t off = 0;
    for (int i = 0; i < w->n; i++) {
        const StTensor *t = &w->t[i];
        cJSON *o = cJSON_AddObjectToObject(root, t->name);
        cJSON_AddStringToObject(o, "dtype", dtype_name(t->dtype));
        cJSON *sh = cJSON_AddArrayToObject(o, "shape");
        for (int d = 0; d < t->ndim; d++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t->shape[d]));
        cJSON *of = cJSON_AddArrayToObject(o, "data_offsets");
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)(off + t->nbytes)));
        off += t->nbytes;
    }
    char *hdr = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    size_t hl = strlen(hdr), padded = (hl + 7) & ~(size_t)7;
    size_t total = 8 + padded + (size_t)off;
    unsigned char *buf = xmalloc(total);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(buf + 8, hdr, hl);
    memset(buf + 8 + hl, ' ', padded - hl);
    free(hdr);
    unsigned char *p = buf + 8 + padded;
    for (int i = 0; i < w->n; i++) { if (w->t[i].nbytes) memcpy(p, w->t[i].data, w->t[i].nbytes); p += w->t[i].nbytes; }
    int rc = file_write_atomic(path, buf, total, e);
    free(buf);
    return rc;
}

/* ---- releasing mapped pages ---- */

int stset_release(const StSet *s, const void *p, size_t n) {
    const uintptr_t a = (uintptr_t)p, page = (uintptr_t)sysconf(_SC_PAGESIZE);
    for (int i = 0; s && i < s->n; i++) {
        const StFile *f = &s->files[i];
        uintptr_t lo = (uintptr_t)f->map, hi = lo + f->map_len;
        if (!f->map || a < lo || a >= hi || n > hi - a) continue;
        uintptr_t b = a & ~(page - 1), end = (a + n + page - 1) & ~(page - 1);
        if (end > b) madvise((void *)b, end - b, MADV_DONTNEED);   /* lo is page aligned: b >= lo */
        return 1;
    }
    return 0;
}

void stset_release_all(const StSet *s) {
    for (int i = 0; s && i < s->n; i++)
        if (s->files[i].map) stset_release(s, s->files[i].map, s->files[i].map_len);
}

/* ---- streaming writer ---- */

void sts_init(StStream *s) { memset(s, 0, sizeof *s); s->fd = -1; }

void sts_declare(StStream *s, const char *name, DType dt, int ndim, const int64_t *shape) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->t = xrealloc(s->t, (size_t)s->cap * sizeof *s->t);
        s->off = xrealloc(s->off, (size_t)s->cap * sizeof *s->off);
    }
    StTensor *t = &s->t[s->n];
    memset(t, 0, sizeof *t);
    t->name = xstrdup(name); t->dtype = dt; t->ndim = ndim; t->numel = 1;
    for (int i = 0; i < ndim; i++) { t->shape[i] = shape[i]; t->numel *= (size_t)shape[i]; }
    t->nbytes = t->numel * dtype_size(dt);
    s->off[s->n] = s->n ? s->off[s->n - 1] + s->t[s->n - 1].nbytes : 0;
    s->n++;
}

void sts_set_meta(StStream *s, const char *key, const char *val) {
    s->meta_key = xrealloc(s->meta_key, (size_t)(s->n_meta + 1) * sizeof(char *));
    s->meta_val = xrealloc(s->meta_val, (size_t)(s->n_meta + 1) * sizeof(char *));
    s->meta_key[s->n_meta] = xstrdup(key);
    s->meta_val[s->n_meta++] = xstrdup(val);
}

static int write_at(int fd, const void *data, size_t n, uint64_t at) {
    const unsigned char *p = data;
    while (n) {
        ssize_t w = pwrite(fd, p, n, (off_t)at);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w; n -= (size_t)w; at += (uint64_t)w;
    }
    return 0;
}

int sts_begin(StStream *s, const char *path, Err *e) {
    cJSON *root = cJSON_CreateObject();
    if (s->n_meta) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        for (int i = 0; i < s->n_meta; i++) cJSON_AddStringToObject(m, s->meta_key[i], s->meta_val[i]);
    }
    for (int i = 0; i < s->n; i++) {
        const StTensor *t = &s->t[i];
        cJSON *o = cJSON_AddObjectToObject(root, t->name);
        cJSON_AddStringToObject(o, "dtype", dtype_name(t->dtype));
        cJSON *sh = cJSON_AddArrayToObject(o, "shape");
        for (int d = 0; d < t->ndim; d++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t->shape[d]));
        cJSON *of = cJSON_AddArrayToObject(o, "data_offsets");
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)s->off[i]));
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)(s->off[i] + t->nbytes)));
    }
    char *hdr = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    size_t hl = strlen(hdr), padded = (hl + 7) & ~(size_t)7;
    unsigned char *buf = xmalloc(8 + padded);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(buf + 8, hdr, hl);
    memset(buf + 8 + hl, ' ', padded - hl);
    free(hdr);
    s->path = xstrdup(path);
    s->tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
    s->written = xcalloc((size_t)s->n + 1, 1);
    s->fd = open(s->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int rc = 0;
    if (s->fd < 0) rc = err_set(e, "%s: cannot create: %s", s->tmp, strerror(errno));
    else if (write_at(s->fd, buf, 8 + padded, 0)) rc = err_set(e, "%s: write failed: %s", s->tmp, strerror(errno));
    s->data_start = 8 + padded;
    free(buf);
    return rc;
}

int sts_write(StStream *s, const char *name, const void *data, Err *e) {
    for (int i = 0; i < s->n; i++) {
        if (strcmp(s->t[i].name, name)) continue;
        if (s->fd < 0) return err_set(e, "%s: stream not started", s->path ? s->path : name);
        if (write_at(s->fd, data, s->t[i].nbytes, s->data_start + s->off[i]))
            return err_set(e, "%s: write of tensor '%s' failed: %s", s->tmp, name, strerror(errno));
        s->written[i] = 1;
        return 0;
    }
    return err_set(e, "%s: tensor '%s' was not declared", s->path ? s->path : "safetensors stream", name);
}

static void sts_free(StStream *s) {
    for (int i = 0; i < s->n; i++) free(s->t[i].name);
    for (int i = 0; i < s->n_meta; i++) { free(s->meta_key[i]); free(s->meta_val[i]); }
    free(s->t); free(s->off); free(s->written); free(s->meta_key); free(s->meta_val); free(s->path); free(s->tmp);
    sts_init(s);
}

void sts_abort(StStream *s) {
    if (s->fd >= 0) { close(s->fd); unlink(s->tmp); }
    sts_free(s);
}

int sts_finish(StStream *s, Err *e) {
    int rc = 0;
    for (int i = 0; i < s->n && !rc; i++)
        if (!s->written[i]) rc = err_set(e, "%s: tensor '%s' was declared but never written", s->path, s->t[i].name);
    if (!rc) {
        /* the data block ends with the last tensor: a file of zero-sized tensors still has its header */
        uint64_t end = s->data_start + (s->n ? s->off[s->n - 1] + s->t[s->n - 1].nbytes : 0);
        if (ftruncate(s->fd, (off_t)end) || fsync(s->fd)) rc = err_set(e, "%s: cannot complete the file: %s", s->tmp, strerror(errno));
    }
    if (rc) { sts_abort(s); return -1; }
    close(s->fd); s->fd = -1;
    if (rename(s->tmp, s->path)) { rc = err_set(e, "%s: cannot rename into place: %s", s->path, strerror(errno)); unlink(s->tmp); }
    else { char *d = path_dirname(s->path); dir_fsync(d); free(d); }
    sts_free(s);
    return rc;
}
