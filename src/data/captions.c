#include "data/captions.h"
#include "data/discovery.h"
#include "base/files.h"
#include "base/utf8.h"
#include "base/rng.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

int caption_strategy_parse(const char *s, CaptionStrategy *out, Err *e) {
    if (!s || !strcmp(s, "null")) { *out = CAPTION_NONE; return 0; }
    if (!strcmp(s, "textfile")) { *out = CAPTION_TEXTFILE; return 0; }
    if (!strcmp(s, "filename")) { *out = CAPTION_FILENAME; return 0; }
    if (!strcmp(s, "instanceprompt") || !strcmp(s, "instance_prompt")) { *out = CAPTION_INSTANCEPROMPT; return 0; }
    if (!strcmp(s, "parquet") || !strcmp(s, "csv") || !strcmp(s, "huggingface") || !strcmp(s, "webshart"))
        return err_setc(e, EXIT_USAGE, "caption_strategy \"%s\": not supported yet: %s captions (use textfile, filename, instanceprompt or null)", s, s);
    return err_setc(e, EXIT_USAGE, "caption_strategy \"%s\": expected one of textfile, filename, instanceprompt, null", s);
}

int caption_spec_check(const CaptionSpec *spec, const char *id, Err *e) {
    int needs_prompt = spec->strategy == CAPTION_INSTANCEPROMPT ||
                       (spec->strategy != CAPTION_NONE && (spec->only_instance_prompt || spec->prepend_instance_prompt));
    if (needs_prompt && (!spec->instance_prompt || !spec->instance_prompt[0]))
        return err_setc(e, EXIT_USAGE, "dataset \"%s\": instance_prompt is required with %s", id,
                        spec->strategy == CAPTION_INSTANCEPROMPT ? "caption_strategy instanceprompt"
                        : spec->only_instance_prompt ? "only_instance_prompt" : "prepend_instance_prompt");
    return 0;
}

char *caption_file_path(const char *root, const char *rel) {
    char *stem = path_strip_extension(rel);
    char *name = xasprintf("%s.txt", stem);
    char *p = path_join(root, name);
    free(stem); free(name);
    return p;
}

static void list_add(CaptionList *c, const char *s, size_t n, const CaptionSpec *spec) {
    if (c->n == c->cap) { c->cap = c->cap ? 2 * c->cap : 4; c->text = xrealloc(c->text, sizeof(char *) * (size_t)c->cap); }
    c->text[c->n++] = spec->prepend_instance_prompt ? xasprintf("%s %.*s", spec->instance_prompt, (int)n, s)
                                                    : xasprintf("%.*s", (int)n, s);
}

/* One line without its CR/LF and surrounding blanks (editors add "\r\n" and trailing spaces, which
 * would otherwise become tokens). */
static void trim(const char **s, size_t *n) {
    while (*n && isspace((unsigned char)(*s)[0])) { (*s)++; (*n)--; }
    while (*n && isspace((unsigned char)(*s)[*n - 1])) (*n)--;
}

int caption_load(const CaptionSpec *spec, const char *root, const char *rel, CaptionList *out, Err *e) {
    memset(out, 0, sizeof *out);
    if (spec->strategy == CAPTION_NONE) return 0;
    if (spec->only_instance_prompt || spec->strategy == CAPTION_INSTANCEPROMPT) {
        CaptionSpec plain = *spec; plain.prepend_instance_prompt = 0;
        list_add(out, spec->instance_prompt, strlen(spec->instance_prompt), &plain);
        return 0;
    }
    if (spec->strategy == CAPTION_FILENAME) {
        size_t bad = utf8_invalid_at(rel, strlen(rel));
        if (bad < strlen(rel))
            return err_setc(e, EXIT_USAGE, "%s/%s: the file name is not valid UTF-8 (byte 0x%02X at offset %zu), so it cannot be a "
                            "caption (caption_strategy filename): rename the file", root, rel, (unsigned char)rel[bad], bad);
        const char *slash = strrchr(rel, '/');
        char *stem = path_strip_extension(slash ? slash + 1 : rel);
        for (char *p = stem; *p; p++) if (*p == '_') *p = ' ';
        list_add(out, stem, strlen(stem), spec);
        free(stem);
        return 0;
    }
    char *path = caption_file_path(root, rel);
    if (!file_exists(path)) { err_set(e, "%s: caption file not found", path); free(path); return -1; }
    size_t len = 0;
    char *text = file_read_all(path, &len, e);
    if (!text) { free(path); return -1; }
    size_t bad = utf8_invalid_at(text, len);
    if (bad < len) {
        err_setc(e, EXIT_USAGE, "%s: caption file is not valid UTF-8 (byte 0x%02X at offset %zu): save it as UTF-8",
                 path, (unsigned char)text[bad], bad);
        free(text); free(path);
        return -1;
    }
    free(path);
    if (spec->disable_multiline_split) {
        const char *s = text; size_t n = len;
        trim(&s, &n);
        list_add(out, s, n, spec);
    } else {
        for (const char *s = text; s < text + len;) {
            const char *nl = memchr(s, '\n', (size_t)(text + len - s));
            size_t n = nl ? (size_t)(nl - s) : (size_t)(text + len - s);
            const char *t = s; size_t tn = n;
            trim(&t, &tn);
            if (tn) list_add(out, t, tn, spec);
            s += n + 1;
        }
        if (out->n == 0) list_add(out, "", 0, spec); /* an empty file is an empty caption, as upstream */
    }
    free(text);
    return 0;
}

void caption_list_free(CaptionList *c) {
    for (int i = 0; i < c->n; i++) free(c->text[i]);
    free(c->text);
    memset(c, 0, sizeof *c);
}

/* A uniform number in [0, 1) fixed by (seed, epoch, dataset, image, purpose). */
static double sample_uniform(uint64_t seed, int64_t epoch, const char *id, const char *rel, uint64_t purpose) {
    uint64_t h = hash64(id, strlen(id), seed ^ purpose);
    h = hash64(rel, strlen(rel), h ^ (uint64_t)epoch * 0x9e3779b97f4a7c15ull);
    return (double)(h >> 11) * 0x1.0p-53;
}

const char *caption_pick(const CaptionList *c, uint64_t seed, int64_t epoch, const char *id, const char *rel) {
    if (c->n == 0) return "";
    if (c->n == 1) return c->text[0];
    int k = (int)(sample_uniform(seed, epoch, id, rel, 0xCA9710u) * c->n);
    return c->text[k < c->n ? k : c->n - 1];
}

int caption_dropped(double p, uint64_t seed, int64_t epoch, const char *id, const char *rel) {
    if (p <= 0) return 0;
    if (p >= 1) return 1;
    return sample_uniform(seed, epoch, id, rel, 0xD809u) < p;
}
