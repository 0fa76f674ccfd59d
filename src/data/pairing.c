#include "data/pairing.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* First index whose name is >= key (names sorted with strcmp). */
static int lower_bound(const FileList *l, const char *key) {
    int lo = 0, hi = l->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (strcmp(l->rel[mid], key) < 0) lo = mid + 1; else hi = mid;
    }
    return lo;
}

/* References named "<stem>.<image ext>", other than the exact name; returns how many (first two
 * in c[0], c[1]). Names sharing the prefix "<stem>." are contiguous in sorted order. */
static int stem_candidates(const FileList *edit, const FileList *cond, const char *rel, int c[2]) {
    char *stem = path_strip_extension(rel);
    char *prefix = xasprintf("%s.", stem);
    size_t pn = strlen(prefix);
    int n = 0;
    for (int i = lower_bound(cond, prefix); i < cond->n && !strncmp(cond->rel[i], prefix, pn); i++) {
        const char *cand = cond->rel[i];
        if (strchr(cand + pn, '.') || strchr(cand + pn, '/')) continue; /* "a.b.png" has stem "a.b" */
        if (!strcmp(cand, rel) || !is_image_name(cand)) continue;
        if (filelist_find(edit, cand) >= 0) continue;                   /* claimed by its own edit image */
        if (n < 2) c[n] = i;
        n++;
    }
    free(stem); free(prefix);
    return n;
}

int pair_images(const PairNames *nm, const FileList *edit, const FileList *cond, int *ref_index,
                PairStats *st, Err *e) {
    memset(st, 0, sizeof *st);
    char *used = xcalloc((size_t)cond->n + 1, 1);
    int logged = 0;
    for (int i = 0; i < edit->n; i++) {
        int k = filelist_find(cond, edit->rel[i]);
        if (k >= 0) { ref_index[i] = k; used[k] = 1; st->matched_exact++; continue; }
        int c[2];
        int n = stem_candidates(edit, cond, edit->rel[i], c);
        if (n > 1) {
            free(used);
            return err_setc(e, EXIT_USAGE, "conditioning dataset \"%s\" (%s): ambiguous reference for \"%s\" of dataset \"%s\": "
                            "both \"%s\" and \"%s\" match; rename or remove one", nm->cond_id, nm->cond_dir, edit->rel[i],
                            nm->edit_id, cond->rel[c[0]], cond->rel[c[1]]);
        }
        if (n == 1) {
            ref_index[i] = c[0]; used[c[0]] = 1; st->matched_stem++;
            if (logged++ < 5)
                log_info("dataset \"%s\": \"%s\" paired with \"%s\" of \"%s\" (same name, other extension)",
                         nm->edit_id, edit->rel[i], cond->rel[c[0]], nm->cond_id);
            continue;
        }
        ref_index[i] = -1;
        st->missing++;
    }
    if (st->matched_stem > 5)
        log_info("dataset \"%s\": %d images paired with a reference of another extension in \"%s\"", nm->edit_id, st->matched_stem, nm->cond_id);
    for (int k = 0; k < cond->n; k++) st->unused += !used[k];
    free(used);
    return 0;
}

char *pair_missing_message(const PairNames *nm, const FileList *edit, const int *ref_index, int n_missing) {
    size_t cap = 1024, len = 0;
    char *s = xmalloc(cap);
    len = (size_t)snprintf(s, cap, "conditioning dataset \"%s\" (%s): %d of %d images of dataset \"%s\" have no reference with the same relative path: ",
                           nm->cond_id, nm->cond_dir, n_missing, edit->n, nm->edit_id);
    int listed = 0;
    for (int i = 0; i < edit->n && listed < PAIR_LIST_MAX; i++) {
        if (ref_index[i] >= 0) continue;
        size_t need = len + strlen(edit->rel[i]) + 8;
        if (need > cap) { cap = need * 2; s = xrealloc(s, cap); }
        len += (size_t)snprintf(s + len, cap - len, "%s%s", listed ? ", " : "", edit->rel[i]);
        listed++;
    }
    if (n_missing > listed) {
        if (len + 32 > cap) { cap = len + 64; s = xrealloc(s, cap); }
        snprintf(s + len, cap - len, " and %d more", n_missing - listed);
    }
    return s;
}
