#include "data/synth_write.h"
#include "base/files.h"
#include "image/image_io.h"
#include "data/synth.h"
#include <stdio.h>
#include <stdlib.h>

static int write_pair(const char *out, const SynthPair *p, const char *name, Err *e) {
    char rel[512];
    snprintf(rel, sizeof rel, "images/%s.png", name);
    char *path = path_join(out, rel);
    int rc = image_write_png(path, &p->edit, e);
    free(path);
    if (rc) return -1;
    snprintf(rel, sizeof rel, "images/%s.txt", name);
    path = path_join(out, rel);
    char line[300];
    int n = snprintf(line, sizeof line, "%s\n", p->instruction);
    rc = file_write_atomic(path, line, (size_t)n, e);
    free(path);
    if (rc) return -1;
    for (int k = 0; k < p->n_refs; k++) {
        if (p->n_refs == 1) snprintf(rel, sizeof rel, "reference/%s.png", name);
        else snprintf(rel, sizeof rel, "reference_%c/%s.png", 'a' + k, name);
        path = path_join(out, rel);
        rc = image_write_png(path, &p->refs[k], e);
        free(path);
        if (rc) return -1;
    }
    return 0;
}

int synth_dataset_write(const char *out, long count, int refs, unsigned edits, int w, int h, uint64_t seed, Err *e) {
    const char *sub1[] = {"images", "reference"}, *sub3[] = {"images", "reference_a", "reference_b", "reference_c"};
    int nsub = refs == 1 ? 2 : 1 + refs;
    for (int k = 0; k < nsub; k++) {
        char *d = path_join(out, refs == 1 ? sub1[k] : sub3[k]);
        int rc = dir_make(d, e);
        free(d);
        if (rc) return -1;
    }
    for (long i = 0; i < count; i++) {
        SynthPair p;
        synth_edit_pair(seed, (int)i, edits, refs, w, h, &p);
        char name[32];
        snprintf(name, sizeof name, "pair_%04ld", i);
        int rc = write_pair(out, &p, name, e);
        synth_pair_free(&p);
        if (rc) return -1;
    }
    return 0;
}
