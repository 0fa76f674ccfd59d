/* libFuzzer target: tokenizer loading and encoding. Input: a mode byte, then parts split at FUZZ_SEP:
 *   't' tokenizer.json | tokenizer_config.json | text        'v' vocab.json | merges.txt | text
 * The text is encoded (added tokens, NFC, the Qwen2 pre-tokenizer regex, BPE) and decoded back. */
#include "fuzz_common.h"
#include "models/qwen25vl/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    if (n < 1) return 0;
    const uint8_t *part[FUZZ_MAX_PARTS]; size_t len[FUZZ_MAX_PARTS];
    int np = fuzz_split(data + 1, n - 1, part, len, 3);
    if (np < 3) return 0;
    char dir[128], a[192], b[192], c[192];
    FUZZ_PATH(dir, "tok");
    mkdir(dir, 0700);
    const char *names_t[2] = {"tokenizer.json", "tokenizer_config.json"}, *names_v[2] = {"vocab.json", "merges.txt"};
    const char *const *names = data[0] == 'v' ? names_v : names_t;
    const char *all[4] = {"tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt"};
    for (int i = 0; i < 4; i++) { snprintf(c, sizeof c, "%s/%s", dir, all[i]); unlink(c); }
    snprintf(a, sizeof a, "%s/%s", dir, names[0]); fuzz_write(a, part[0], len[0]);
    snprintf(b, sizeof b, "%s/%s", dir, names[1]);
    if (data[0] == 'v' || len[1]) fuzz_write(b, part[1], len[1]);
    Err e = {0};
    Tokenizer *t = tokenizer_load(dir, &e);
    if (!t) return 0;
    TokenIds ids = {0};
    if (tokenizer_encode(t, (const char *)part[2], len[2], &ids, &e) == 0) {
        char *s = tokenizer_decode(t, ids.ids, ids.n, 0, &e);
        free(s);
    }
    token_ids_free(&ids);
    tokenizer_free(t);
    return 0;
}
