/* synth_write.h — writes a synthetic edit dataset (data/synth.h) in the quickstarts' layout:
 * out/images/pair_NNNN.png + .txt, and out/reference/ (1 reference) or out/reference_a|b|c/. */
#ifndef ST_SYNTH_WRITE_H
#define ST_SYNTH_WRITE_H
#include <stdint.h>
#include "base/error.h"

/* edits: a set of SYNTH_EDIT_BIT()s (synth.h); with refs >= 2 the pairs are compose edits. */
int synth_dataset_write(const char *out, long count, int refs, unsigned edits, int width, int height, uint64_t seed, Err *e);

#endif
