/* fuzz_common.h — shared by the libFuzzer targets (tests/fuzz/fuzz_*.c) and the seed-corpus writer
 * (make_corpus.c): the layout of multi-file inputs and a private scratch folder per process.
 *
 * Readers that take paths get the fuzz input written to files in that folder; inputs made of several
 * files are split at FUZZ_SEP (a byte pair that JSON and text seeds never contain, so mutations keep
 * the parts apart). */
#ifndef ST_FUZZ_COMMON_H
#define ST_FUZZ_COMMON_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FUZZ_SEP "\x00\xfe"
#define FUZZ_SEP_LEN 2
#define FUZZ_MAX_PARTS 4

/* The cache target's fixed key: every seed entry is stored under it, so seeds are cache hits. */
#define FUZZ_CACHE_NAME "sub/a.png"
#define FUZZ_CACHE_SETTINGS "vae qwen_image edit-v1 1024x1024 crop 0 0"
#define FUZZ_CACHE_SOURCE_TEXT "a source image's bytes"
#define FUZZ_CACHE_SOURCE_MTIME 1700000000   /* fixed, so the stamp written in the seeds stays valid */

/* The LoRA target's module names (a Qwen-Image block's LoRA-able linears). */
static const char *const FUZZ_LORA_MODULES[] = {
    "transformer_blocks.0.attn.to_q", "transformer_blocks.0.attn.to_k", "transformer_blocks.0.attn.to_v",
    "transformer_blocks.0.attn.to_out.0", "transformer_blocks.0.attn.add_q_proj", "transformer_blocks.0.img_mlp.net.0.proj",
    "transformer_blocks.0.img_mlp.net.2", "transformer_blocks.1.attn.to_q",
};
#define FUZZ_LORA_N_MODULES (int)(sizeof FUZZ_LORA_MODULES / sizeof *FUZZ_LORA_MODULES)

/* Splits data at FUZZ_SEP into at most max parts (the last part keeps any further separators). */
static inline int fuzz_split(const uint8_t *data, size_t n, const uint8_t **part, size_t *len, int max) {
    int k = 0;
    size_t start = 0;
    for (size_t i = 0; i + FUZZ_SEP_LEN <= n && k < max - 1; i++)
        if (!memcmp(data + i, FUZZ_SEP, FUZZ_SEP_LEN)) {
            part[k] = data + start; len[k] = i - start; k++;
            start = i + FUZZ_SEP_LEN;
            i = start - 1;
        }
    part[k] = data + start; len[k] = n - start; k++;
    return k;
}

static inline void fuzz_write(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); abort(); }
    if (n && fwrite(data, 1, n, f) != n) { perror(path); abort(); }
    fclose(f);
}

/* A scratch folder of this process, made once and removed at exit: /dev/shm/st_fuzz_<pid> (memory;
 * a disk folder made the file writes of every execution the bottleneck), else /tmp/st_fuzz_<pid>. */
static char fuzz_dir_path[64];
static void fuzz_dir_remove(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir_path);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", fuzz_dir_path);
}
static inline const char *fuzz_dir(void) {
    if (!fuzz_dir_path[0]) {
        struct stat st;
        const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%s/st_fuzz_%d", base, (int)getpid());
        mkdir(fuzz_dir_path, 0700);
        atexit(fuzz_dir_remove);
    }
    return fuzz_dir_path;
}
/* fuzz_dir()/name (static buffer per call site). */
#define FUZZ_PATH(buf, name) (snprintf(buf, sizeof buf, "%s/%s", fuzz_dir(), name), buf)

#endif
