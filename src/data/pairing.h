/* pairing.h — matching each edit image with its reference in one conditioning dataset.
 *
 * The rule is SimpleTuner's (same relative path, extension included), made forgiving where it is
 * unambiguous and loud where it is not:
 *   - "sub/a.png" pairs with the reference "sub/a.png";
 *   - when that is absent, a UNIQUE reference with the same stem and another image extension
 *     ("sub/a.jpg") is accepted and reported, unless an edit image claims it by its exact name;
 *   - two candidates ("sub/a.jpg" and "sub/a.webp") are an error naming both;
 *   - edit images without a reference make ONE error per conditioning dataset giving the count and
 *     the first 10 relative paths. */
#ifndef ST_PAIRING_H
#define ST_PAIRING_H
#include "base/error.h"
#include "data/discovery.h"

#define PAIR_LIST_MAX 10

typedef struct PairNames {
    const char *edit_id;   /* dataset ids and the reference root, for messages */
    const char *cond_id;
    const char *cond_dir;
} PairNames;

typedef struct PairStats {
    int matched_exact, matched_stem, missing;
    int unused;            /* references no edit image uses (reported, not an error) */
} PairStats;

/* ref_index[i] = index in `cond` of the reference of edit->rel[i], or -1 when missing.
 * Returns -1 only on an ambiguous stem (message names both files); missing pairs are counted in
 * st->missing and described by pair_missing_message. */
int pair_images(const PairNames *names, const FileList *edit, const FileList *cond, int *ref_index,
                PairStats *st, Err *e);
/* The one-line error for missing pairs (malloc'd), e.g.
 * conditioning dataset "refs" (/data/refs): 3 of 10 images of dataset "edits" have no reference with
 * the same relative path: a.png, sub/b.png, c.jpg */
char *pair_missing_message(const PairNames *names, const FileList *edit, const int *ref_index, int n_missing);

#endif
