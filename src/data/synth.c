#include "data/synth.h"
#include "base/rng.h"
#include "image/sheet.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { SHAPE_CIRCLE, SHAPE_SQUARE, SHAPE_TRIANGLE, SHAPE_COUNT } ShapeKind;
typedef struct { ShapeKind kind; int color; float cx, cy, r; } Shape; /* centre and radius as fractions */

static const char *SHAPE_NAMES[SHAPE_COUNT] = {"circle", "square", "triangle"};
static const struct { const char *name; uint8_t rgb[3]; } COLORS[] = {
    {"red", {220, 40, 40}}, {"green", {40, 170, 60}}, {"blue", {40, 80, 220}},
    {"yellow", {235, 205, 40}}, {"purple", {140, 60, 180}}, {"orange", {245, 140, 30}},
    {"white", {245, 245, 245}}, {"black", {20, 20, 20}},
};
#define N_COLORS ((int)(sizeof COLORS / sizeof *COLORS))

static Image image_new(int w, int h) {
    Image im = {w, h, 3, malloc((size_t)w * h * 3)};
    return im;
}

static void fill_background(Image *im, const uint8_t top[3], const uint8_t bottom[3]) {
    for (int y = 0; y < im->height; y++) {
        float t = im->height > 1 ? (float)y / (float)(im->height - 1) : 0.0f;
        uint8_t c[3];
        for (int k = 0; k < 3; k++) c[k] = (uint8_t)(top[k] + t * (bottom[k] - top[k]) + 0.5f);
        for (int x = 0; x < im->width; x++) memcpy(im->data + ((size_t)y * im->width + x) * 3, c, 3);
    }
}

static int inside(const Shape *s, float px, float py) {
    float dx = px - s->cx, dy = py - s->cy;
    switch (s->kind) {
    case SHAPE_CIRCLE: return dx * dx + dy * dy <= s->r * s->r;
    case SHAPE_SQUARE: return dx >= -s->r && dx <= s->r && dy >= -s->r && dy <= s->r;
    default: /* upward triangle: apex at top, base at bottom */
        if (dy < -s->r || dy > s->r) return 0;
        float half = s->r * (dy + s->r) / (2.0f * s->r);
        return dx >= -half && dx <= half;
    }
}

static void draw_shape(Image *im, const Shape *s) {
    int size = im->width < im->height ? im->width : im->height;
    for (int y = 0; y < im->height; y++)
        for (int x = 0; x < im->width; x++) {
            float px = ((float)x + 0.5f - 0.5f * im->width) / size + 0.5f;
            float py = ((float)y + 0.5f - 0.5f * im->height) / size + 0.5f;
            if (inside(s, px, py)) memcpy(im->data + ((size_t)y * im->width + x) * 3, COLORS[s->color].rgb, 3);
        }
}

static void render(Image *im, const Shape *shapes, int n, const uint8_t bg0[3], const uint8_t bg1[3]) {
    fill_background(im, bg0, bg1);
    for (int i = 0; i < n; i++) draw_shape(im, &shapes[i]);
}

static int pick_color(Rng *r, int avoid) {
    int c;
    do c = (int)rng_below(r, 6); while (c == avoid); /* the 6 saturated colours */
    return c;
}

static Shape random_shape(Rng *r) {
    Shape s;
    s.kind = (ShapeKind)rng_below(r, SHAPE_COUNT);
    s.color = pick_color(r, -1);
    s.r = 0.08f + 0.07f * (float)rng_uniform(r);
    s.cx = 0.2f + 0.6f * (float)rng_uniform(r);
    s.cy = 0.2f + 0.6f * (float)rng_uniform(r);
    return s;
}

static const struct { const char *name; float x, y; } PLACES[] = {
    {"top left", 0.25f, 0.25f}, {"top right", 0.75f, 0.25f},
    {"bottom left", 0.25f, 0.75f}, {"bottom right", 0.75f, 0.75f}, {"centre", 0.5f, 0.5f},
};

void synth_pair(uint64_t seed, int index, int n_refs, int width, int height, SynthPair *out) {
    memset(out, 0, sizeof *out);
    if (n_refs < 1) n_refs = 1;
    if (n_refs > 3) n_refs = 3;
    Rng r;
    rng_seed_stream(&r, seed, (uint64_t)index);
    uint8_t bg0[3], bg1[3];
    for (int k = 0; k < 3; k++) { bg0[k] = (uint8_t)(150 + rng_below(&r, 90)); bg1[k] = (uint8_t)(90 + rng_below(&r, 90)); }
    Shape before[4], after[5];
    int nb = 1 + (int)rng_below(&r, 3);
    for (int i = 0; i < nb; i++) before[i] = random_shape(&r);
    memcpy(after, before, sizeof before);
    int na = nb;
    Shape *t = &after[0];
    const char *shape = SHAPE_NAMES[before[0].kind], *color = COLORS[before[0].color].name;
    Shape extra = random_shape(&r);
    int swatch = pick_color(&r, extra.color);
    int op = n_refs >= 2 ? 5 : (int)rng_below(&r, 5);
    switch (op) {
    case 0: { /* recolour */
        int c = pick_color(&r, t->color);
        t->color = c;
        snprintf(out->instruction, sizeof out->instruction, "make the %s %s %s", color, shape, COLORS[c].name);
        break;
    }
    case 1: { /* move */
        int p = (int)rng_below(&r, 5);
        t->cx = PLACES[p].x; t->cy = PLACES[p].y;
        snprintf(out->instruction, sizeof out->instruction, "move the %s %s to the %s", color, shape, PLACES[p].name);
        break;
    }
    case 2: { /* add */
        int p = (int)rng_below(&r, 5);
        extra.cx = PLACES[p].x; extra.cy = PLACES[p].y;
        after[na++] = extra;
        snprintf(out->instruction, sizeof out->instruction, "add a %s %s in the %s", COLORS[extra.color].name, SHAPE_NAMES[extra.kind], PLACES[p].name);
        break;
    }
    case 3: /* remove */
        memmove(&after[0], &after[1], (size_t)(na - 1) * sizeof *after);
        na--;
        snprintf(out->instruction, sizeof out->instruction, "remove the %s %s", color, shape);
        break;
    case 4: /* resize */
        t->r *= 1.6f;
        snprintf(out->instruction, sizeof out->instruction, "make the %s %s bigger", color, shape);
        break;
    default: { /* multi-reference: add the object of picture 2 (in the colour of picture 3) */
        int p = (int)rng_below(&r, 5);
        Shape placed = extra;
        placed.cx = PLACES[p].x; placed.cy = PLACES[p].y;
        if (n_refs >= 3) {
            placed.color = swatch;
            snprintf(out->instruction, sizeof out->instruction,
                     "put the %s from Picture 2 in the %s of Picture 1, coloured like Picture 3", SHAPE_NAMES[extra.kind], PLACES[p].name);
        } else {
            snprintf(out->instruction, sizeof out->instruction,
                     "put the %s from Picture 2 in the %s of Picture 1", SHAPE_NAMES[extra.kind], PLACES[p].name);
        }
        after[na++] = placed;
        break;
    }
    }
    out->n_refs = n_refs;
    out->refs[0] = image_new(width, height);
    render(&out->refs[0], before, nb, bg0, bg1);
    out->edit = image_new(width, height);
    render(&out->edit, after, na, bg0, bg1);
    /* a word of text in both, so the model also sees content it must keep */
    static const char *WORDS[] = {"EDIT", "ST", "C17", "LORA", "FLOW"};
    const char *word = WORDS[rng_below(&r, 5)];
    const uint8_t ink[3] = {30, 30, 30};
    int scale = height >= 128 ? 2 : 1;
    text_draw(&out->refs[0], 4, height - 9 * scale, word, scale, ink);
    text_draw(&out->edit, 4, height - 9 * scale, word, scale, ink);
    if (n_refs >= 2) {
        static const uint8_t plain[3] = {235, 235, 235};
        Shape centred = extra;
        centred.cx = 0.5f; centred.cy = 0.5f; centred.r = 0.3f;
        out->refs[1] = image_new(width, height);
        render(&out->refs[1], &centred, 1, plain, plain);
    }
    if (n_refs >= 3) {
        out->refs[2] = image_new(width, height);
        render(&out->refs[2], NULL, 0, COLORS[swatch].rgb, COLORS[swatch].rgb);
    }
}

void synth_pair_free(SynthPair *p) {
    image_free(&p->edit);
    for (int i = 0; i < 3; i++) image_free(&p->refs[i]);
}
