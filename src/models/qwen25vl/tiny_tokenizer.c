#include "models/qwen25vl/tiny_tokenizer.h"
#include "base/files.h"
#include "models/qwen25vl/prompt.h"
#include "models/qwen25vl/tokenizer.h"
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Words of typical edit instructions, besides the templates (prompt.h). */
static const char EDIT_WORDS[] =
    "make the add remove change replace turn into color colour red green blue yellow white black orange purple pink "
    "brown gray grey sky background foreground object objects person people cat dog car tree house sign text write "
    "move left right top bottom corner center centre small large bigger smaller circle square triangle star shape "
    "picture image photo style light lighting dark bright night day keep same while with without and of in on a an "
    "to it its from at by as is are this that put next lower upper rotate flip crop zoom blur sharpen";

/* A word as a list of vocabulary symbols (UTF-8 strings). */
typedef struct Word { char **sym; int n; int count; } Word;

static void word_free(Word *w) { for (int i = 0; i < w->n; i++) free(w->sym[i]); free(w->sym); }

/* Splits text roughly as the Qwen2 pre-tokenizer does for words: an optional leading space and a run
 * of ASCII letters. Other characters stay single bytes (they need no merges). */
static void add_words(Word **words, int *n, int *cap, const char *text) {
    for (const char *p = text; *p;) {
        const char *s = p;
        if (*p == ' ' && isalpha((unsigned char)p[1])) p++;
        if (!isalpha((unsigned char)*p)) { p = s + 1; continue; }
        while (isalpha((unsigned char)*p)) p++;
        int len = (int)(p - s);
        int found = -1;   /* one entry per distinct word; repeats raise its count */
        Word w = {xmalloc((size_t)len * sizeof(char *)), len, 1};
        for (int k = 0; k < len; k++) {
            char c[3];
            tokenizer_byte_char((unsigned char)s[k], c);
            w.sym[k] = xstrdup(c);
        }
        for (int i = 0; i < *n && found < 0; i++) {
            Word *o = &(*words)[i];
            if (o->n != w.n) continue;
            int same = 1;
            for (int k = 0; k < w.n && same; k++) same = !strcmp(o->sym[k], w.sym[k]);
            if (same) found = i;
        }
        if (found >= 0) { (*words)[found].count++; word_free(&w); continue; }
        if (*n == *cap) { *cap = *cap ? *cap * 2 : 256; *words = xrealloc(*words, (size_t)*cap * sizeof **words); }
        (*words)[(*n)++] = w;
    }
}

typedef struct PairCount { const char *a, *b; int count; } PairCount;

static int pair_cmp(const void *x, const void *y) {
    const PairCount *p = x, *q = y;
    int c = strcmp(p->a, q->a);
    return c ? c : strcmp(p->b, q->b);
}

/* The most frequent adjacent pair (ties: the smallest "a b"), or 0 when no pair occurs twice. All
 * occurrences are listed, sorted and counted run by run. */
static int best_pair(const Word *words, int n, char **a, char **b) {
    size_t total = 0, k = 0;
    for (int i = 0; i < n; i++) total += words[i].n > 1 ? (size_t)words[i].n - 1 : 0;
    PairCount *v = xmalloc((total ? total : 1) * sizeof *v);
    for (int i = 0; i < n; i++)
        for (int j = 0; j + 1 < words[i].n; j++) v[k++] = (PairCount){words[i].sym[j], words[i].sym[j + 1], words[i].count};
    qsort(v, k, sizeof *v, pair_cmp);
    int best = 1;
    *a = *b = NULL;
    for (size_t i = 0; i < k;) {
        size_t j = i;
        int cnt = 0;
        while (j < k && !pair_cmp(&v[i], &v[j])) cnt += v[j++].count;
        if (cnt > best) { best = cnt; *a = (char *)v[i].a; *b = (char *)v[i].b; }   /* sorted: first of a tie wins */
        i = j;
    }
    free(v);
    return *a != NULL;
}

static void apply_merge(Word *words, int n, const char *a, const char *b, const char *ab) {
    for (int i = 0; i < n; i++) {
        Word *w = &words[i];
        int o = 0;
        for (int k = 0; k < w->n; k++) {
            if (k + 1 < w->n && !strcmp(w->sym[k], a) && !strcmp(w->sym[k + 1], b)) {
                free(w->sym[k]); free(w->sym[k + 1]);
                w->sym[o++] = xstrdup(ab);
                k++;
            } else w->sym[o++] = w->sym[k];
        }
        w->n = o;
    }
}

static const char *const SPECIALS[] = {
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
    "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
    "<|image_pad|>", "<|video_pad|>", NULL,
};

static const char PRE_TOKENIZER[] =
    "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":"
    "\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},"
    "\"behavior\":\"Isolated\",\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":false,"
    "\"use_regex\":false}]}";
static const char BYTE_LEVEL[] = "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":false,\"use_regex\":false}";

int tiny_tokenizer_write(const char *dir, int max_merges, TinyVocabIds *ids, Err *e) {
    Word *words = NULL;
    int n = 0, cap = 0;
    for (int i = 0; qv_prompt_template(i); i++) add_words(&words, &n, &cap, qv_prompt_template(i));
    add_words(&words, &n, &cap, EDIT_WORDS);

    cJSON *root = cJSON_CreateObject(), *model = cJSON_CreateObject(), *vocab = cJSON_CreateObject(), *merges = cJSON_CreateArray();
    int next = 0;
    for (int b = 0; b < 256; b++) { char c[3]; tokenizer_byte_char(b, c); cJSON_AddNumberToObject(vocab, c, next++); }
    for (int m = 0; m < max_merges; m++) {
        char *a, *b;
        if (!best_pair(words, n, &a, &b)) break;
        char *ab = xasprintf("%s%s", a, b), *sa = xstrdup(a), *sb = xstrdup(b);
        cJSON *pair = cJSON_CreateArray();
        cJSON_AddItemToArray(pair, cJSON_CreateString(sa)); cJSON_AddItemToArray(pair, cJSON_CreateString(sb));
        cJSON_AddItemToArray(merges, pair);
        if (!cJSON_GetObjectItemCaseSensitive(vocab, ab)) cJSON_AddNumberToObject(vocab, ab, next++);
        apply_merge(words, n, sa, sb, ab);
        free(ab); free(sa); free(sb);
    }
    for (int i = 0; i < n; i++) word_free(&words[i]);
    free(words);

    cJSON *added = cJSON_CreateArray(), *decoder = cJSON_CreateObject();
    int base = next;
    for (int i = 0; SPECIALS[i]; i++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddNumberToObject(t, "id", base + i);
        cJSON_AddStringToObject(t, "content", SPECIALS[i]);
        cJSON_AddBoolToObject(t, "single_word", 0); cJSON_AddBoolToObject(t, "lstrip", 0); cJSON_AddBoolToObject(t, "rstrip", 0);
        cJSON_AddBoolToObject(t, "normalized", 0); cJSON_AddBoolToObject(t, "special", 1);
        cJSON_AddItemToArray(added, t);
        char key[16]; snprintf(key, sizeof key, "%d", base + i);
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "content", SPECIALS[i]);
        cJSON_AddBoolToObject(d, "lstrip", 0); cJSON_AddBoolToObject(d, "normalized", 0); cJSON_AddBoolToObject(d, "rstrip", 0);
        cJSON_AddBoolToObject(d, "single_word", 0); cJSON_AddBoolToObject(d, "special", 1);
        cJSON_AddItemToObject(decoder, key, d);
        next++;
    }
    *ids = (TinyVocabIds){(next + 63) / 64 * 64, base, base + 1, base + 2, base + 9, base + 10, base + 11, base + 12, base + 13};

    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddNullToObject(root, "truncation"); cJSON_AddNullToObject(root, "padding");
    cJSON_AddItemToObject(root, "added_tokens", added);
    cJSON *norm = cJSON_CreateObject(); cJSON_AddStringToObject(norm, "type", "NFC");
    cJSON_AddItemToObject(root, "normalizer", norm);
    cJSON_AddItemToObject(root, "pre_tokenizer", cJSON_Parse(PRE_TOKENIZER));
    cJSON_AddItemToObject(root, "post_processor", cJSON_Parse(BYTE_LEVEL));
    cJSON_AddItemToObject(root, "decoder", cJSON_Parse(BYTE_LEVEL));
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddNullToObject(model, "dropout"); cJSON_AddNullToObject(model, "unk_token");
    cJSON_AddStringToObject(model, "continuing_subword_prefix", ""); cJSON_AddStringToObject(model, "end_of_word_suffix", "");
    cJSON_AddBoolToObject(model, "fuse_unk", 0); cJSON_AddBoolToObject(model, "byte_fallback", 0); cJSON_AddBoolToObject(model, "ignore_merges", 0);
    cJSON_AddItemToObject(model, "vocab", vocab);
    cJSON_AddItemToObject(model, "merges", merges);
    cJSON_AddItemToObject(root, "model", model);

    cJSON *tc = cJSON_CreateObject();
    cJSON_AddBoolToObject(tc, "add_bos_token", 0); cJSON_AddBoolToObject(tc, "add_prefix_space", 0);
    cJSON_AddItemToObject(tc, "added_tokens_decoder", decoder);
    cJSON_AddNullToObject(tc, "bos_token");
    cJSON_AddStringToObject(tc, "eos_token", "<|im_end|>");
    cJSON_AddStringToObject(tc, "pad_token", "<|endoftext|>");
    cJSON_AddStringToObject(tc, "errors", "replace");
    cJSON_AddNumberToObject(tc, "model_max_length", 131072);
    cJSON_AddBoolToObject(tc, "split_special_tokens", 0);
    cJSON_AddStringToObject(tc, "tokenizer_class", "Qwen2Tokenizer");

    int rc = dir_make(dir, e);
    char *tj = cJSON_PrintUnformatted(root), *tcj = cJSON_Print(tc);
    char *p1 = path_join(dir, "tokenizer.json"), *p2 = path_join(dir, "tokenizer_config.json");
    if (!rc) rc = file_write_atomic(p1, tj, strlen(tj), e);
    if (!rc) rc = file_write_atomic(p2, tcj, strlen(tcj), e);
    free(p1); free(p2); free(tj); free(tcj);
    cJSON_Delete(root); cJSON_Delete(tc);
    return rc;
}
