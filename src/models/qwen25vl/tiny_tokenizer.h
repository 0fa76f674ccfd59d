/* tiny_tokenizer.h — a small Qwen2-style vocabulary for the tiny and small models init-model
 * writes: the 256 byte-level symbols, byte-pair merges learnt from the pipelines' own prompt
 * templates and a list of common edit-instruction words (so templates and instructions stay a
 * few dozen tokens, as with the real vocabulary), and the Qwen2.5-VL special tokens after them.
 * Written as tokenizer.json (HF tokenizers v1.0, Qwen2 pre-tokenizer) + tokenizer_config.json, so
 * tokenizer_load and the HF libraries read it like the real one. Deterministic. */
#ifndef ST_QWEN25VL_TINY_TOKENIZER_H
#define ST_QWEN25VL_TINY_TOKENIZER_H
#include "base/error.h"

/* The ids the text encoder's config must name for this vocabulary. */
typedef struct TinyVocabIds {
    int vocab_size;            /* embedding rows: every id below, rounded up to a multiple of 64 */
    int endoftext, im_start, im_end, vision_start, vision_end, vision_pad, image_pad, video_pad;
} TinyVocabIds;

/* Writes dir/tokenizer.json and dir/tokenizer_config.json with at most max_merges merges. */
int tiny_tokenizer_write(const char *dir, int max_merges, TinyVocabIds *ids, Err *e);

#endif
