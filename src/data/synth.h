/* synth.h — synthetic edit pairs for the bundled demo and the end-to-end tests: a source scene of
 * coloured shapes (and a word of text), an instruction, and the edited scene that follows it
 * (recolour, move, add, remove, resize). With 2–3 references, the extra references show the
 * object to add (picture 2) and the colour to use (picture 3). Deterministic from (seed, index). */
#ifndef ST_SYNTH_H
#define ST_SYNTH_H
#include <stdint.h>
#include "image/image.h"

typedef struct SynthPair {
    Image edit;           /* the target image the model learns to produce */
    Image refs[3];        /* refs[0] = source scene; refs[1] = object; refs[2] = colour swatch */
    int n_refs;
    char instruction[256];
} SynthPair;

/* Builds pair `index` of a dataset made with `seed`; images are width x height RGB. */
void synth_pair(uint64_t seed, int index, int n_refs, int width, int height, SynthPair *out);
void synth_pair_free(SynthPair *p);

#endif
