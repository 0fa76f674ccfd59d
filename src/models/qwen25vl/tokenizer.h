/* tokenizer.h — the Qwen2 byte-level BPE tokenizer (Qwen2.5-VL, Qwen-Image, LongCat), exact to the
 * HF fast/slow tokenizers (specs/qwen25vl-spec.md §1).
 *
 * Loading (tokenizer_load(dir)): `tokenizer.json` (HF tokenizers v1.0; merges as "a b" strings or
 * ["a","b"] pairs) when present, else `vocab.json` + `merges.txt`. Added tokens are the union of
 * tokenizer.json `added_tokens`, tokenizer_config.json `added_tokens_decoder` and added_tokens.json.
 *
 * Encoding (tokenizer_encode):
 *   1. added tokens are cut out first as exact substrings (leftmost, then longest), each emits its id;
 *   2. every other segment is NFC-normalised (utf8proc);
 *   3. split by the Qwen2 pre-tokenizer regex (PCRE2, Unicode properties; `\s` = Unicode White_Space
 *      as in the Rust `regex` crate);
 *   4. each piece's UTF-8 bytes are mapped through GPT-2's bytes_to_unicode and merged by BPE, the
 *      lowest merge rank first (leftmost on ties), until no adjacent pair has a rank.
 *   No BOS/EOS is added. Text must be valid UTF-8.
 *
 * Decoding maps tokens back to bytes; invalid UTF-8 byte runs become U+FFFD (errors="replace").
 *
 * Threads: encoding keeps a per-tokenizer cache of BPE pieces, so one Tokenizer must not be used by
 * two threads at once (load one per thread, or lock). */
#ifndef ST_QWEN25VL_TOKENIZER_H
#define ST_QWEN25VL_TOKENIZER_H
#include <stddef.h>
#include <stdint.h>
#include "base/error.h"

/* Ids of the Qwen2.5-VL special tokens (identical in every Qwen2 vocabulary, spec §1.3). */
enum {
    QWEN_TOKEN_ENDOFTEXT = 151643,   /* also the pad token */
    QWEN_TOKEN_IM_START = 151644,
    QWEN_TOKEN_IM_END = 151645,
    QWEN_TOKEN_VISION_START = 151652,
    QWEN_TOKEN_VISION_END = 151653,
    QWEN_TOKEN_IMAGE_PAD = 151655,
};

typedef struct Tokenizer Tokenizer;

/* A growing id array (encode output). */
typedef struct TokenIds {
    int32_t *ids;
    int n, cap;
} TokenIds;
void token_ids_free(TokenIds *v);
void token_ids_push(TokenIds *v, int32_t id);

/* Loads DIR/tokenizer.json (or DIR/vocab.json + DIR/merges.txt) plus the added-token files.
 * Errors name the file and what was wrong. Returns NULL on error. */
Tokenizer *tokenizer_load(const char *dir, Err *e);
void tokenizer_free(Tokenizer *t);

/* Appends the ids of `text` (len bytes, UTF-8; need not be NUL-terminated) to out. */
int tokenizer_encode(Tokenizer *t, const char *text, size_t len, TokenIds *out, Err *e);

/* Same, then replaces the k-th `<|image_pad|>` token by grid_thw[k][0]*[1]*[2] / merge_size^2
 * copies of it (what Qwen2VLProcessor does on the string before tokenising; spec §1.4). The text
 * must contain exactly n_images `<|image_pad|>` tokens. merge_size is 2 for Qwen2.5-VL. */
int tokenizer_encode_with_images(Tokenizer *t, const char *text, size_t len, const int (*grid_thw)[3],
                                 int n_images, int merge_size, TokenIds *out, Err *e);

/* The UTF-8 text of ids (malloc'd, NUL-terminated). skip_special drops tokens marked special. */
char *tokenizer_decode(const Tokenizer *t, const int32_t *ids, int n, int skip_special, Err *e);

/* Id of a token given by its exact string (vocabulary form such as "Ġthe", or an added token such
 * as "<|im_end|>"); -1 when absent. */
int tokenizer_token_to_id(const Tokenizer *t, const char *token);
/* The stored string of an id (vocabulary form, or the added token's content); NULL when unknown. */
const char *tokenizer_id_to_token(const Tokenizer *t, int id);
/* One more than the largest id (vocabulary and added tokens). */
int tokenizer_size(const Tokenizer *t);
/* GPT-2's bytes_to_unicode: the vocabulary character of byte b as UTF-8 into out (NUL-terminated);
 * returns its length (1 or 2). */
int tokenizer_byte_char(int b, char out[3]);

#endif
