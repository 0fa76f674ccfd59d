/* synth.h — synthetic edit pairs for the bundled demo, the tiny models' pretraining and the
 * end-to-end tests: a source scene of coloured shapes on a background, an instruction, and the
 * edited scene that follows it. Deterministic from (seed, index).
 *
 * Scenes: 1–3 shapes (circle, square, triangle) of distinct colours (red, green, blue, yellow,
 * purple, orange) placed without overlap, on a random two-tone gradient or a named flat colour;
 * the shape an edit names is drawn last (on top). Outlines are anti-aliased (pixel coverage), so
 * every resolution shows the same scene, positions and sizes being fractions of the shorter side.
 * (No text: at the tiny models' 64-128 px a word has 1-2 px strokes, detail an 8x VAE cannot keep
 * and no edit is about.)
 *
 * Edits (the instruction's wording is drawn from several phrasings per edit):
 *   recolor     the named shape gets another colour           "make the red circle blue"
 *   move        the named shape moves to a named place         "move the red circle to the top left"
 *               (corners, centre, top, bottom, left, right)
 *   add         a new shape (radius 0.12) at a named place     "add a blue square at the top right"
 *   remove      the named shape disappears                     "remove the red circle"
 *   background  the background becomes a named flat colour     "make the background pink"
 *   scale       the named shape grows x1.5 or shrinks x0.6     "make the red circle bigger"
 *   mirror      the whole picture flips left to right          "mirror it"
 *   stripes     the scene's one shape gets white horizontal stripes (1/16 of the side apart)
 *                                                              "make it striped"
 *   compose     (2–3 references) put the object of Picture 2, coloured like Picture 3, into Picture 1
 * The default set is the first six; mirror and stripes are kept out of it on purpose (edits the
 * pretrained tiny models have never seen, for the LoRA demo). */
#ifndef ST_SYNTH_H
#define ST_SYNTH_H
#include <stdint.h>
#include "base/error.h"
#include "image/image.h"

typedef enum {
    SYNTH_RECOLOR, SYNTH_MOVE, SYNTH_ADD, SYNTH_REMOVE, SYNTH_BACKGROUND, SYNTH_SCALE,
    SYNTH_MIRROR, SYNTH_STRIPES, SYNTH_COMPOSE, SYNTH_EDIT_COUNT
} SynthEdit;

#define SYNTH_EDIT_BIT(k) (1u << (k))
#define SYNTH_EDITS_DEFAULT (SYNTH_EDIT_BIT(SYNTH_RECOLOR) | SYNTH_EDIT_BIT(SYNTH_MOVE) | SYNTH_EDIT_BIT(SYNTH_ADD) | \
                             SYNTH_EDIT_BIT(SYNTH_REMOVE) | SYNTH_EDIT_BIT(SYNTH_BACKGROUND) | SYNTH_EDIT_BIT(SYNTH_SCALE))
/* Every single-reference edit (the images the VAEs learn to reconstruct). */
#define SYNTH_EDITS_ALL_SINGLE (SYNTH_EDITS_DEFAULT | SYNTH_EDIT_BIT(SYNTH_MIRROR) | SYNTH_EDIT_BIT(SYNTH_STRIPES))

/* "recolor", "move", ... as in the table above. */
const char *synth_edit_name(SynthEdit k);
/* A comma-separated list of edit names ("recolour" is taken too) into a bit set; errors name the
 * unknown entry and list the known ones (EXIT_USAGE). */
int synth_edits_parse(const char *list, unsigned *mask, Err *e);

/* What an edit did to its shape (fractions of the shorter side), for tests and tools. */
typedef struct SynthEditInfo {
    SynthEdit kind;
    uint8_t color_before[3], color_after[3];   /* the shape's colour (add: the new shape's, both);
                                                   background: the old top-left and the new background */
    float cx_before, cy_before, r_before;      /* the shape before (remove, recolor, move, scale, stripes) */
    float cx_after, cy_after, r_after;         /* after (recolor, move, add, scale, stripes) */
} SynthEditInfo;

typedef struct SynthPair {
    Image edit;           /* the target image the model learns to produce */
    Image refs[3];        /* refs[0] = source scene; compose: refs[1] = object; refs[2] = colour swatch */
    int n_refs;
    char instruction[256];
    SynthEditInfo info;
} SynthPair;

/* Pair `index` of a dataset made with `seed`, width x height RGB. With n_refs >= 2 the edit is
 * compose; otherwise one of the edits in `edits` (those other than compose; the default set when
 * none is), chosen uniformly from (seed, index). */
void synth_edit_pair(uint64_t seed, int index, unsigned edits, int n_refs, int width, int height, SynthPair *out);
/* The same with the default edits. */
void synth_pair(uint64_t seed, int index, int n_refs, int width, int height, SynthPair *out);
void synth_pair_free(SynthPair *p);

/* An image of the kind the edit datasets hold (the source or the target of any single-reference
 * edit, mirror and stripes included), for training image models (the VAEs) on that distribution:
 * image `index` of `seed`, width x height RGB. */
void synth_scene(uint64_t seed, int index, int width, int height, Image *out);

/* The named flat backgrounds of the scenes (first spelling). Fills up to max entries and returns
 * how many there are. A VAE has to reproduce each of them over a whole image: a background fills
 * most of a scene. (Shape colours only ever cover small areas, so they are not listed.) */
typedef struct SynthColor { const char *name; uint8_t rgb[3]; } SynthColor;
int synth_backgrounds(SynthColor *out, int max);

#endif
