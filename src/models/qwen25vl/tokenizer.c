/* tokenizer.c — Qwen2 byte-level BPE (see tokenizer.h for the algorithm and its source). */
#include "models/qwen25vl/tokenizer.h"
#include "base/files.h"
#include <cjson/cJSON.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ---- small open-addressing hash maps ------------------------------------------------------- */

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;                    /* FNV-1a */
    for (size_t i = 0; i < n; i++) { h ^= (uint8_t)s[i]; h *= 1099511628211ull; }
    return h;
}
static uint64_t hash_u64(uint64_t x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull; x ^= x >> 33;
    return x;
}
static size_t pow2_at_least(size_t n) { size_t c = 16; while (c < n) c <<= 1; return c; }

/* string -> id; keys point into storage owned elsewhere (the id_to_tok strings). */
typedef struct StrMap { const char **keys; uint32_t *lens; int32_t *vals; size_t cap, n; } StrMap;

static void strmap_init(StrMap *m, size_t expected) {
    m->cap = pow2_at_least(expected * 2 + 1);
    m->n = 0;
    m->keys = xcalloc(m->cap, sizeof *m->keys);
    m->lens = xcalloc(m->cap, sizeof *m->lens);
    m->vals = xcalloc(m->cap, sizeof *m->vals);
}
static void strmap_free(StrMap *m) { free(m->keys); free(m->lens); free(m->vals); memset(m, 0, sizeof *m); }
static size_t strmap_slot(const StrMap *m, const char *k, size_t n) {
    size_t i = hash_bytes(k, n) & (m->cap - 1);
    while (m->keys[i] && !(m->lens[i] == n && memcmp(m->keys[i], k, n) == 0)) i = (i + 1) & (m->cap - 1);
    return i;
}
static int32_t strmap_get(const StrMap *m, const char *k, size_t n) {
    size_t i = strmap_slot(m, k, n);
    return m->keys[i] ? m->vals[i] : -1;
}
/* The map never grows: callers size it for every key first. */
static void strmap_put(StrMap *m, const char *k, size_t n, int32_t v) {
    size_t i = strmap_slot(m, k, n);
    if (!m->keys[i]) { m->keys[i] = k; m->lens[i] = (uint32_t)n; m->n++; }
    m->vals[i] = v;
}

/* (left id, right id) -> (rank, merged id). */
typedef struct PairMap { uint64_t *keys; int32_t *rank, *merged; size_t cap; } PairMap;
#define PAIR_EMPTY UINT64_MAX
static uint64_t pair_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }
static void pairmap_init(PairMap *m, size_t expected) {
    m->cap = pow2_at_least(expected * 2 + 1);
    m->keys = xmalloc(m->cap * sizeof *m->keys);
    for (size_t i = 0; i < m->cap; i++) m->keys[i] = PAIR_EMPTY;
    m->rank = xmalloc(m->cap * sizeof *m->rank);
    m->merged = xmalloc(m->cap * sizeof *m->merged);
}
static void pairmap_free(PairMap *m) { free(m->keys); free(m->rank); free(m->merged); }
static size_t pairmap_slot(const PairMap *m, uint64_t k) {
    size_t i = hash_u64(k) & (m->cap - 1);
    while (m->keys[i] != PAIR_EMPTY && m->keys[i] != k) i = (i + 1) & (m->cap - 1);
    return i;
}

/* Piece cache: piece bytes -> its ids. Open addressing, at most half full; it grows by doubling up to
 * PIECE_CACHE_MAX entries and is cleared when full (so a load costs nothing until text is encoded). */
typedef struct PieceCache {
    char **keys; uint32_t *lens; int32_t **ids; int32_t *nids; size_t cap, n;
} PieceCache;
#define PIECE_CACHE_MAX 65536

static void cache_clear(PieceCache *c) {
    for (size_t i = 0; i < c->cap && c->n; i++)
        if (c->keys[i]) { free(c->keys[i]); free(c->ids[i]); c->keys[i] = NULL; c->ids[i] = NULL; c->n--; }
    c->n = 0;
}

static void cache_free(PieceCache *c) {
    cache_clear(c);
    free(c->keys); free(c->lens); free(c->ids); free(c->nids);
    memset(c, 0, sizeof *c);
}

static size_t cache_slot(const PieceCache *c, const uint8_t *s, size_t n) {
    size_t i = hash_bytes((const char *)s, n) & (c->cap - 1);
    while (c->keys[i] && !(c->lens[i] == n && memcmp(c->keys[i], s, n) == 0)) i = (i + 1) & (c->cap - 1);
    return i;
}

/* Room for one more entry: doubles the table (rehashing) below the maximum, else clears it. */
static void cache_reserve(PieceCache *c) {
    if (c->cap && 2 * (c->n + 1) <= c->cap) return;
    if (c->n >= PIECE_CACHE_MAX) { cache_clear(c); return; }
    PieceCache g = { .cap = c->cap ? 2 * c->cap : 256 };
    g.keys = xcalloc(g.cap, sizeof *g.keys); g.lens = xcalloc(g.cap, sizeof *g.lens);
    g.ids = xcalloc(g.cap, sizeof *g.ids); g.nids = xcalloc(g.cap, sizeof *g.nids);
    for (size_t i = 0; i < c->cap; i++) {
        if (!c->keys[i]) continue;
        size_t j = cache_slot(&g, (const uint8_t *)c->keys[i], c->lens[i]);
        g.keys[j] = c->keys[i]; g.lens[j] = c->lens[i]; g.ids[j] = c->ids[i]; g.nids[j] = c->nids[i];
        g.n++;
    }
    free(c->keys); free(c->lens); free(c->ids); free(c->nids);
    *c = g;
}

/* ---- the tokenizer ------------------------------------------------------------------------- */

typedef struct AddedToken { char *content; size_t len; int32_t id; int special; } AddedToken;

struct Tokenizer {
    int size;                  /* max id + 1 */
    char **tok;                /* id -> vocabulary string (byte-level chars) or added content; NULL = hole */
    uint32_t *tok_len;
    uint8_t *is_added, *is_special;
    StrMap vocab;              /* vocabulary strings (not added tokens) -> id */
    PairMap merges;
    int32_t byte_id[256];      /* id of the single byte-level char of each byte */
    char byte_char[256][3];    /* UTF-8 of bytes_to_unicode(b) */
    uint8_t byte_char_len[256];
    int16_t char_byte[512];    /* code point (< 512) -> byte, -1 when not a byte char */
    AddedToken *added; int n_added;
    pcre2_code *re;
    pcre2_match_data *md;
    PieceCache cache;
};

/* GPT-2 bytes_to_unicode: printable Latin-1 bytes map to themselves, the other 68 to U+0100.. */
static int byte_code_point(int b) {
    int keep = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    if (keep) return b;
    int rank = 0;   /* the rank of b among the bytes that are not kept */
    for (int x = 0; x < b; x++) rank += !((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF));
    return 256 + rank;
}

int tokenizer_byte_char(int b, char out[3]) {
    int cp = byte_code_point(b);
    if (cp < 0x80) { out[0] = (char)cp; out[1] = 0; return 1; }
    out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F)); out[2] = 0;
    return 2;
}

static void byte_map_init(Tokenizer *t) {
    for (int i = 0; i < 512; i++) t->char_byte[i] = -1;
    int moved = 0;   /* bytes_to_unicode in one pass (byte_code_point recounts the rank for each byte) */
    for (int b = 0; b < 256; b++) {
        int keep = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        int cp = keep ? b : 256 + moved++;
        t->char_byte[cp] = (int16_t)b;
        char *c = t->byte_char[b];
        if (cp < 0x80) { c[0] = (char)cp; c[1] = 0; t->byte_char_len[b] = 1; }
        else { c[0] = (char)(0xC0 | (cp >> 6)); c[1] = (char)(0x80 | (cp & 0x3F)); c[2] = 0; t->byte_char_len[b] = 2; }
    }
}

/* \s as Unicode White_Space (the Rust regex crate's definition), spelled out so PCRE2's own
 * notion of space (which adds U+180E) cannot differ from the HF tokenizers. */
#define WS "\\t-\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
static const char *QWEN2_PRETOKENIZE =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n]*"
    "|[" WS "]*[\\r\\n]+|[" WS "]+(?![^" WS "])|[" WS "]+";

void token_ids_free(TokenIds *v) { free(v->ids); v->ids = NULL; v->n = v->cap = 0; }
void token_ids_push(TokenIds *v, int32_t id) {
    if (v->n == v->cap) { v->cap = v->cap ? v->cap * 2 : 64; v->ids = xrealloc(v->ids, (size_t)v->cap * sizeof *v->ids); }
    v->ids[v->n++] = id;
}

void tokenizer_free(Tokenizer *t) {
    if (!t) return;
    for (int i = 0; i < t->size; i++) free(t->tok[i]);
    free(t->tok); free(t->tok_len); free(t->is_added); free(t->is_special);
    strmap_free(&t->vocab);
    pairmap_free(&t->merges);
    free(t->added);   /* contents alias t->tok */
    if (t->md) pcre2_match_data_free(t->md);
    if (t->re) pcre2_code_free(t->re);
    cache_free(&t->cache);
    free(t);
}

static void tok_reserve(Tokenizer *t, int id) {
    if (id < t->size) return;
    int n = id + 1;
    t->tok = xrealloc(t->tok, (size_t)n * sizeof *t->tok);
    t->tok_len = xrealloc(t->tok_len, (size_t)n * sizeof *t->tok_len);
    t->is_added = xrealloc(t->is_added, (size_t)n);
    t->is_special = xrealloc(t->is_special, (size_t)n);
    for (int i = t->size; i < n; i++) { t->tok[i] = NULL; t->tok_len[i] = 0; t->is_added[i] = t->is_special[i] = 0; }
    t->size = n;
}

/* Token ids index dense arrays (id -> token), so a file naming id 100000000 would allocate gigabytes:
 * ids stay below 2^20 (1048576), four times the largest real vocabularies (Qwen2's has 151665 tokens,
 * Gemma's 256000). */
#define TOKEN_ID_MAX 1048575

/* A JSON number usable as a token id: whole and in 0..TOKEN_ID_MAX (checked on the double: converting an
 * out-of-range double such as 1e300 to int is undefined behaviour). -1 otherwise. */
static int json_token_id(const cJSON *v) {
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= TOKEN_ID_MAX) || v->valuedouble != (double)(int)v->valuedouble) return -1;
    return (int)v->valuedouble;
}

/* Vocabulary from a JSON object {"token": id, ...}. */
static int vocab_from_json(Tokenizer *t, const cJSON *vocab, const char *path, Err *e) {
    if (!cJSON_IsObject(vocab)) return err_set(e, "%s: the vocabulary must be a JSON object of token -> id", path);
    int n = cJSON_GetArraySize(vocab), max_id = -1;
    for (const cJSON *it = vocab->child; it; it = it->next) {
        if (json_token_id(it) < 0)
            return err_set(e, "%s: vocabulary entry \"%s\" must have an integer id in 0..%d", path, it->string, TOKEN_ID_MAX);
        if (json_token_id(it) > max_id) max_id = json_token_id(it);
    }
    tok_reserve(t, max_id);
    strmap_init(&t->vocab, (size_t)n + 64);
    for (const cJSON *it = vocab->child; it; it = it->next) {
        int id = (int)it->valuedouble;
        if (t->tok[id]) return err_set(e, "%s: id %d is used by both \"%s\" and \"%s\"", path, id, t->tok[id], it->string);
        t->tok[id] = xstrdup(it->string);
        t->tok_len[id] = (uint32_t)strlen(it->string);
        strmap_put(&t->vocab, t->tok[id], t->tok_len[id], id);
    }
    return 0;
}

static int merge_add(Tokenizer *t, const char *a, size_t na, const char *b, size_t nb, int rank, const char *path, Err *e) {
    int32_t ia = strmap_get(&t->vocab, a, na), ib = strmap_get(&t->vocab, b, nb);
    char *ab = xmalloc(na + nb + 1);
    memcpy(ab, a, na); memcpy(ab + na, b, nb); ab[na + nb] = 0;
    int32_t iab = strmap_get(&t->vocab, ab, na + nb);
    if (ia < 0 || ib < 0 || iab < 0) {
        err_set(e, "%s: merge %d (\"%.*s\" \"%.*s\") uses a token that is not in the vocabulary", path, rank + 1, (int)na, a, (int)nb, b);
        free(ab);
        return -1;
    }
    free(ab);
    size_t s = pairmap_slot(&t->merges, pair_key(ia, ib));
    if (t->merges.keys[s] != PAIR_EMPTY) return 0;   /* a repeated merge keeps its first (lowest) rank */
    t->merges.keys[s] = pair_key(ia, ib);
    t->merges.rank[s] = rank;
    t->merges.merged[s] = iab;
    return 0;
}

/* One "a b" merge line/string. */
static int merge_add_line(Tokenizer *t, const char *s, size_t n, int rank, const char *path, Err *e) {
    const char *sp = memchr(s, ' ', n);
    if (!sp || sp == s || sp + 1 == s + n || memchr(sp + 1, ' ', (size_t)(s + n - sp - 1)))
        return err_set(e, "%s: merge %d \"%.*s\" must be two tokens separated by one space", path, rank + 1, (int)n, s);
    return merge_add(t, s, (size_t)(sp - s), sp + 1, (size_t)(s + n - sp - 1), rank, path, e);
}

static int added_add(Tokenizer *t, const char *content, int id, int special, const char *path, Err *e) {
    if (!content[0]) return err_set(e, "%s: added token %d has empty content", path, id);
    if (id < 0 || id > TOKEN_ID_MAX) return err_set(e, "%s: added token \"%s\" has an invalid id (expected an integer in 0..%d)", path, content, TOKEN_ID_MAX);
    for (int i = 0; i < t->n_added; i++) {
        if (t->added[i].id == id) {
            if (strcmp(t->added[i].content, content) != 0)
                return err_set(e, "%s: added token %d is \"%s\" here but \"%s\" elsewhere", path, id, content, t->added[i].content);
            if (special >= 0) t->is_special[id] = (uint8_t)special;
            return 0;
        }
    }
    int32_t vid = strmap_get(&t->vocab, content, strlen(content));
    if (vid >= 0 && vid != id) return err_set(e, "%s: added token \"%s\" has id %d but the vocabulary gives %d", path, content, id, vid);
    tok_reserve(t, id);
    if (t->tok[id] && strcmp(t->tok[id], content) != 0)
        return err_set(e, "%s: added token \"%s\" reuses id %d of \"%s\"", path, content, id, t->tok[id]);
    if (!t->tok[id]) { t->tok[id] = xstrdup(content); t->tok_len[id] = (uint32_t)strlen(content); }
    t->is_added[id] = 1;
    t->is_special[id] = (uint8_t)(special > 0);
    t->added = xrealloc(t->added, (size_t)(t->n_added + 1) * sizeof *t->added);
    t->added[t->n_added++] = (AddedToken){ t->tok[id], t->tok_len[id], id, special > 0 };
    return 0;
}

static cJSON *json_load(const char *path, Err *e) {
    size_t len;
    char *text = file_read_all(path, &len, e);
    if (!text) return NULL;
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    if (!j) err_set(e, "%s: not valid JSON", path);
    return j;
}

static int load_tokenizer_json(Tokenizer *t, const char *path, Err *e) {
    cJSON *j = json_load(path, e);
    if (!j) return -1;
    int rc = -1;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
    if (!cJSON_IsObject(model) || (type && (!cJSON_IsString(type) || strcmp(type->valuestring, "BPE") != 0))) {
        err_set(e, "%s: model.type must be \"BPE\"", path); goto done;
    }
    if (vocab_from_json(t, cJSON_GetObjectItemCaseSensitive(model, "vocab"), path, e)) goto done;
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    if (!cJSON_IsArray(merges)) { err_set(e, "%s: model.merges must be an array", path); goto done; }
    pairmap_init(&t->merges, (size_t)cJSON_GetArraySize(merges));
    int rank = 0;
    for (const cJSON *m = merges->child; m; m = m->next, rank++) {
        if (cJSON_IsString(m)) {
            if (merge_add_line(t, m->valuestring, strlen(m->valuestring), rank, path, e)) goto done;
        } else if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 && cJSON_IsString(m->child) && cJSON_IsString(m->child->next)) {
            const char *a = m->child->valuestring, *b = m->child->next->valuestring;
            if (merge_add(t, a, strlen(a), b, strlen(b), rank, path, e)) goto done;
        } else { err_set(e, "%s: merge %d must be \"a b\" or [\"a\", \"b\"]", path, rank + 1); goto done; }
    }
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(j, "added_tokens");
    for (const cJSON *a = cJSON_IsArray(added) ? added->child : NULL; a; a = a->next) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(a, "id"), *c = cJSON_GetObjectItemCaseSensitive(a, "content");
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(a, "special");
        if (!cJSON_IsNumber(id) || !cJSON_IsString(c)) { err_set(e, "%s: every added_tokens entry needs \"id\" and \"content\"", path); goto done; }
        if (added_add(t, c->valuestring, json_token_id(id), cJSON_IsTrue(sp), path, e)) goto done;
    }
    rc = 0;
done:
    cJSON_Delete(j);
    return rc;
}

static int load_vocab_merges(Tokenizer *t, const char *dir, Err *e) {
    char *vpath = path_join(dir, "vocab.json"), *mpath = path_join(dir, "merges.txt");
    int rc = -1;
    char *text = NULL;
    cJSON *j = json_load(vpath, e);
    if (!j) goto done;
    if (vocab_from_json(t, j, vpath, e)) goto done;
    size_t len;
    text = file_read_all(mpath, &len, e);
    if (!text) goto done;
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    pairmap_init(&t->merges, lines);
    int rank = 0;
    for (size_t p = 0; p < len;) {
        size_t q = p;
        while (q < len && text[q] != '\n') q++;
        size_t n = q - p;
        if (n && text[p + n - 1] == '\r') n--;
        int header = p == 0 && n >= 8 && memcmp(text, "#version", 8) == 0;
        if (n && !header) { if (merge_add_line(t, text + p, n, rank, mpath, e)) goto done; rank++; }
        p = q + 1;
    }
    rc = 0;
done:
    cJSON_Delete(j);
    free(text); free(vpath); free(mpath);
    return rc;
}

/* tokenizer_config.json `added_tokens_decoder` and added_tokens.json, when present. */
static int load_added_files(Tokenizer *t, const char *dir, Err *e) {
    char *path = path_join(dir, "tokenizer_config.json");
    int rc = -1;
    cJSON *j = NULL;
    if (file_exists(path)) {
        if (!(j = json_load(path, e))) goto done;
        const cJSON *dec = cJSON_GetObjectItemCaseSensitive(j, "added_tokens_decoder");
        for (const cJSON *a = cJSON_IsObject(dec) ? dec->child : NULL; a; a = a->next) {
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(a, "content"), *sp = cJSON_GetObjectItemCaseSensitive(a, "special");
            char *end;
            long id = strtol(a->string, &end, 10);
            if (id < 0 || id > TOKEN_ID_MAX) id = -1;   /* added_add names the invalid id */
            if (*end || end == a->string || !cJSON_IsString(c)) { err_set(e, "%s: added_tokens_decoder \"%s\" needs an integer key and \"content\"", path, a->string); goto done; }
            if (added_add(t, c->valuestring, (int)id, cJSON_IsTrue(sp), path, e)) goto done;
        }
        cJSON_Delete(j); j = NULL;
    }
    free(path);
    path = path_join(dir, "added_tokens.json");
    if (file_exists(path)) {
        if (!(j = json_load(path, e))) goto done;
        for (const cJSON *a = cJSON_IsObject(j) ? j->child : NULL; a; a = a->next) {
            if (!cJSON_IsNumber(a)) { err_set(e, "%s: \"%s\" must map to an integer id", path, a->string); goto done; }
            /* special unknown here (-1): keeps what the other files said, non-special otherwise */
            if (added_add(t, a->string, json_token_id(a), -1, path, e)) goto done;
        }
    }
    rc = 0;
done:
    cJSON_Delete(j);
    free(path);
    return rc;
}

Tokenizer *tokenizer_load(const char *dir, Err *e) {
    Tokenizer *t = xcalloc(1, sizeof *t);
    byte_map_init(t);
    char *tj = path_join(dir, "tokenizer.json"), *vj = path_join(dir, "vocab.json");
    int rc;
    if (file_exists(tj)) rc = load_tokenizer_json(t, tj, e);
    else if (file_exists(vj)) rc = load_vocab_merges(t, dir, e);
    else rc = err_set(e, "%s: no tokenizer.json or vocab.json + merges.txt in this folder", dir);
    free(tj); free(vj);
    if (rc || load_added_files(t, dir, e)) { tokenizer_free(t); return NULL; }
    for (int b = 0; b < 256; b++) {
        t->byte_id[b] = strmap_get(&t->vocab, t->byte_char[b], t->byte_char_len[b]);
        if (t->byte_id[b] < 0) {
            err_set(e, "%s: the vocabulary lacks the byte-level token of byte 0x%02X (not a byte-level BPE tokenizer)", dir, b);
            tokenizer_free(t); return NULL;
        }
    }
    int ec; PCRE2_SIZE eo;
    t->re = pcre2_compile((PCRE2_SPTR)QWEN2_PRETOKENIZE, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &ec, &eo, NULL);
    if (!t->re) { err_set(e, "pre-tokenizer regex does not compile (PCRE2 error %d at %zu)", ec, (size_t)eo); tokenizer_free(t); return NULL; }
    pcre2_jit_compile(t->re, PCRE2_JIT_COMPLETE);   /* optional speed-up; the interpreter is the fallback */
    t->md = pcre2_match_data_create_from_pattern(t->re, NULL);
    return t;
}

/* ---- encoding ------------------------------------------------------------------------------ */

/* BPE of one pre-token piece: bytes -> byte ids, then merge the lowest-ranked adjacent pair
 * (leftmost on ties) until none has a rank. sym is scratch of n entries. */
static int bpe_piece(const Tokenizer *t, const uint8_t *s, size_t n, int32_t *sym) {
    int m = (int)n;
    for (int i = 0; i < m; i++) sym[i] = t->byte_id[s[i]];
    while (m > 1) {
        int best = -1; int32_t best_rank = INT32_MAX, best_id = 0;
        for (int i = 0; i + 1 < m; i++) {
            size_t k = pairmap_slot(&t->merges, pair_key(sym[i], sym[i + 1]));
            if (t->merges.keys[k] != PAIR_EMPTY && t->merges.rank[k] < best_rank) {
                best_rank = t->merges.rank[k]; best_id = t->merges.merged[k]; best = i;
            }
        }
        if (best < 0) break;
        sym[best] = best_id;
        memmove(sym + best + 1, sym + best + 2, (size_t)(m - best - 2) * sizeof *sym);
        m--;
    }
    return m;
}

static void encode_piece(Tokenizer *t, const uint8_t *s, size_t n, TokenIds *out) {
    PieceCache *c = &t->cache;
    if (c->cap) {
        size_t i = cache_slot(c, s, n);
        if (c->keys[i]) { for (int k = 0; k < c->nids[i]; k++) token_ids_push(out, c->ids[i][k]); return; }
    }
    int32_t *sym = xmalloc((n ? n : 1) * sizeof *sym);
    int m = bpe_piece(t, s, n, sym);
    for (int k = 0; k < m; k++) token_ids_push(out, sym[k]);
    cache_reserve(c);
    size_t i = cache_slot(c, s, n);
    c->keys[i] = xmalloc(n ? n : 1); memcpy(c->keys[i], s, n);
    c->lens[i] = (uint32_t)n; c->ids[i] = sym; c->nids[i] = m; c->n++;
}

/* A segment without added tokens: NFC, pre-tokenise, BPE. */
static int encode_segment(Tokenizer *t, const char *s, size_t n, TokenIds *out, Err *e) {
    if (!n) return 0;
    utf8proc_uint8_t *nfc = NULL;
    utf8proc_ssize_t nn = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &nfc, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (nn < 0) return err_set(e, "text is not valid UTF-8 (%s)", utf8proc_errmsg(nn));
    PCRE2_SIZE off = 0;
    while (off < (PCRE2_SIZE)nn) {
        int r = pcre2_match(t->re, nfc, (PCRE2_SIZE)nn, off, PCRE2_NO_UTF_CHECK, t->md, NULL);
        if (r < 0) { free(nfc); return err_set(e, "pre-tokenizer regex failed at byte %zu (PCRE2 error %d)", (size_t)off, r); }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(t->md);
        /* The pattern covers every character, so matches are contiguous; a gap would mean text the
         * regex skipped, which the HF Split(Isolated) also keeps as its own piece. */
        if (ov[0] > off) encode_piece(t, nfc + off, ov[0] - off, out);
        if (ov[1] == ov[0]) { free(nfc); return err_set(e, "pre-tokenizer regex matched an empty piece at byte %zu", (size_t)off); }
        encode_piece(t, nfc + ov[0], ov[1] - ov[0], out);
        off = ov[1];
    }
    free(nfc);
    return 0;
}

int tokenizer_encode(Tokenizer *t, const char *text, size_t len, TokenIds *out, Err *e) {
    size_t seg = 0, p = 0;
    while (p < len) {
        const AddedToken *best = NULL;
        if (t->n_added) {
            for (int i = 0; i < t->n_added; i++) {
                const AddedToken *a = &t->added[i];
                if (a->content[0] == text[p] && a->len <= len - p && memcmp(text + p, a->content, a->len) == 0 &&
                    (!best || a->len > best->len)) best = a;
            }
        }
        if (!best) { p++; continue; }
        if (encode_segment(t, text + seg, p - seg, out, e)) return -1;
        token_ids_push(out, best->id);
        p += best->len;
        seg = p;
    }
    return encode_segment(t, text + seg, len - seg, out, e);
}

int tokenizer_encode_with_images(Tokenizer *t, const char *text, size_t len, const int (*grid_thw)[3],
                                 int n_images, int merge_size, TokenIds *out, Err *e) {
    TokenIds raw = {0};
    if (merge_size <= 0) return err_set(e, "image token expansion: merge_size must be positive, got %d", merge_size);
    if (tokenizer_encode(t, text, len, &raw, e)) { token_ids_free(&raw); return -1; }
    int seen = 0;
    const int32_t pad = tokenizer_token_to_id(t, "<|image_pad|>");   /* any vocabulary, not only Qwen's ids */
    for (int i = 0; i < raw.n; i++) seen += raw.ids[i] == pad;
    if (seen != n_images) {
        token_ids_free(&raw);
        return err_set(e, "the prompt has %d <|image_pad|> tokens but %d images were given", seen, n_images);
    }
    int k = 0;
    for (int i = 0; i < raw.n; i++) {
        if (raw.ids[i] != pad) { token_ids_push(out, raw.ids[i]); continue; }
        const int *g = grid_thw[k++];
        long cells = (long)g[0] * g[1] * g[2], per = (long)merge_size * merge_size;
        if (g[0] <= 0 || g[1] <= 0 || g[2] <= 0 || cells % per) {
            token_ids_free(&raw);
            return err_set(e, "image %d: grid (t,h,w) = (%d,%d,%d) is not a positive grid divisible by merge_size^2 = %ld", k, g[0], g[1], g[2], per);
        }
        for (long c = 0; c < cells / per; c++) token_ids_push(out, pad);
    }
    token_ids_free(&raw);
    return 0;
}

/* ---- decoding and lookups ------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when the bytes there are not one. */
static int utf8_valid_len(const uint8_t *s, size_t n) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t r = utf8proc_iterate(s, (utf8proc_ssize_t)n, &cp);
    return r > 0 ? (int)r : 0;
}

char *tokenizer_decode(const Tokenizer *t, const int32_t *ids, int n, int skip_special, Err *e) {
    size_t cap = 64, len = 0;
    uint8_t *bytes = xmalloc(cap);
    for (int i = 0; i < n; i++) {
        int id = ids[i];
        if (id < 0 || id >= t->size || !t->tok[id]) { free(bytes); err_set(e, "decode: id %d is not in the vocabulary (size %d)", id, t->size); return NULL; }
        if (t->is_added[id] && skip_special && t->is_special[id]) continue;
        const uint8_t *s = (const uint8_t *)t->tok[id];
        size_t sn = t->tok_len[id];
        if (len + sn + 4 > cap) { while (len + sn + 4 > cap) cap *= 2; bytes = xrealloc(bytes, cap); }
        if (t->is_added[id]) { memcpy(bytes + len, s, sn); len += sn; continue; }
        for (size_t k = 0; k < sn;) {   /* each char of a vocabulary token is one byte-level char */
            utf8proc_int32_t cp;
            utf8proc_ssize_t r = utf8proc_iterate(s + k, (utf8proc_ssize_t)(sn - k), &cp);
            if (r <= 0 || cp >= 512 || t->char_byte[cp] < 0) {
                free(bytes); err_set(e, "decode: token %d \"%s\" is not byte-level text", id, t->tok[id]); return NULL;
            }
            bytes[len++] = (uint8_t)t->char_byte[cp];
            k += (size_t)r;
        }
    }
    /* errors="replace": every byte that does not start a valid sequence becomes U+FFFD. */
    char *out = xmalloc(len * 3 + 1);
    size_t o = 0;
    for (size_t k = 0; k < len;) {
        int v = utf8_valid_len(bytes + k, len - k);
        if (v) { memcpy(out + o, bytes + k, (size_t)v); o += (size_t)v; k += (size_t)v; continue; }
        /* skip the maximal prefix of a valid sequence (Python's "maximal subpart" rule) */
        size_t skip = 1;
        uint8_t b0 = bytes[k];
        int need = b0 >= 0xF0 && b0 <= 0xF4 ? 4 : b0 >= 0xE0 && b0 <= 0xEF ? 3 : b0 >= 0xC2 && b0 <= 0xDF ? 2 : 1;
        for (int q = 1; q < need && k + (size_t)q < len; q++) {
            uint8_t b = bytes[k + (size_t)q];
            uint8_t lo = 0x80, hi = 0xBF;
            if (q == 1) {
                if (b0 == 0xE0) lo = 0xA0;
                if (b0 == 0xED) hi = 0x9F;
                if (b0 == 0xF0) lo = 0x90;
                if (b0 == 0xF4) hi = 0x8F;
            }
            if (b < lo || b > hi) break;
            skip++;
        }
        memcpy(out + o, "\xEF\xBF\xBD", 3); o += 3;
        k += skip;
    }
    out[o] = 0;
    free(bytes);
    return out;
}

int tokenizer_token_to_id(const Tokenizer *t, const char *token) {
    size_t n = strlen(token);
    for (int i = 0; i < t->n_added; i++) if (t->added[i].len == n && memcmp(t->added[i].content, token, n) == 0) return t->added[i].id;
    return strmap_get(&t->vocab, token, n);
}

const char *tokenizer_id_to_token(const Tokenizer *t, int id) {
    return id >= 0 && id < t->size ? t->tok[id] : NULL;
}

int tokenizer_size(const Tokenizer *t) { return t->size; }
