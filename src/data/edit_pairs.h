/* edit_pairs.h — a paired edit folder read as a list of (references, instruction, target), for
 * evaluating a model against known results (`simpletuner eval`). The layout is the one
 * `simpletuner make-dataset --kind edit-pairs` writes and the edit quickstarts' datasets use:
 *
 *   DIR/images/<rel>              the target of each edit (.png/.jpg/.jpeg/.webp, found recursively)
 *   DIR/images/<rel stem>.txt     its instruction (the first non-empty line, as eval sheets take
 *                                 the first caption)
 *   DIR/reference/<rel>           its reference; or, for edits with several references,
 *   DIR/reference_a|_b|_c/<rel>   references 1..3 in that order
 *
 * It is an edit dataset whose references are matched by file name: the folders are listed with
 * data/discovery.h and paired with data/pairing.h's rule (same relative path; a unique file with
 * the same stem and another image extension is accepted). Errors are EXIT_USAGE and name the file:
 * a missing folder, a target without its reference or instruction, a reference without its target
 * (each an incomplete pair), both `reference` and `reference_a` present. */
#ifndef ST_EDIT_PAIRS_H
#define ST_EDIT_PAIRS_H
#include "base/error.h"

#define EDIT_PAIR_MAX_REFS 3

typedef struct EditPair {
    char *name;                        /* the target's path relative to DIR/images ("pair_0000.png") */
    char *target;                      /* DIR/images/<name> */
    char *refs[EDIT_PAIR_MAX_REFS];    /* the references' paths, n_refs of them */
    int n_refs;
    char *instruction;
} EditPair;

typedef struct EditPairSet {
    int n;
    EditPair *pairs;                   /* sorted by name (bytewise), as discovery lists them */
    int n_refs;                        /* references per pair (the number of reference folders) */
} EditPairSet;

int edit_pairs_read(const char *dir, EditPairSet *out, Err *e);
void edit_pairs_free(EditPairSet *s);

#endif
