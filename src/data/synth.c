/* synth.c — synthetic edit pairs; see synth.h. */
#include "data/synth.h"
#include "base/rng.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { SHAPE_CIRCLE, SHAPE_SQUARE, SHAPE_TRIANGLE, SHAPE_COUNT } ShapeKind;
/* centre and radius (half side) as fractions of the shorter side */
typedef struct { ShapeKind kind; int color; float cx, cy, r; int striped; } Shape;

static const char *SHAPE_NAMES[SHAPE_COUNT] = {"circle", "square", "triangle"};
static const struct { const char *name; uint8_t rgb[3]; } COLORS[] = {
    {"red", {220, 40, 40}}, {"green", {40, 170, 60}}, {"blue", {40, 80, 220}},
    {"yellow", {235, 205, 40}}, {"purple", {140, 60, 180}}, {"orange", {245, 140, 30}},
};
#define N_COLORS ((int)(sizeof COLORS / sizeof *COLORS))
/* named flat backgrounds, light enough for every shape colour and the ink; two spellings each */
static const struct { const char *name[2]; uint8_t rgb[3]; } BACKGROUNDS[] = {
    {{"light blue", "pale blue"}, {170, 205, 240}}, {{"pink", "pink"}, {245, 185, 205}},
    {{"grey", "gray"}, {175, 175, 175}}, {{"beige", "beige"}, {235, 220, 185}},
    {{"light green", "pale green"}, {185, 230, 180}}, {{"lavender", "lavender"}, {210, 195, 240}},
    {{"white", "white"}, {250, 250, 250}},
};
#define N_BACKGROUNDS ((int)(sizeof BACKGROUNDS / sizeof *BACKGROUNDS))
static const struct { const char *name[3]; float x, y; } PLACES[] = {
    {{"top left", "top left corner", "upper left"}, 0.25f, 0.25f},
    {{"top right", "top right corner", "upper right"}, 0.75f, 0.25f},
    {{"bottom left", "bottom left corner", "lower left"}, 0.25f, 0.75f},
    {{"bottom right", "bottom right corner", "lower right"}, 0.75f, 0.75f},
    {{"centre", "center", "middle"}, 0.5f, 0.5f},
    {{"top", "top edge", "top"}, 0.5f, 0.22f},
    {{"bottom", "bottom edge", "bottom"}, 0.5f, 0.78f},
    {{"left", "left side", "left"}, 0.22f, 0.5f},
    {{"right", "right side", "right"}, 0.78f, 0.5f},
};
#define N_PLACES ((int)(sizeof PLACES / sizeof *PLACES))
static const char *const EDIT_NAMES[SYNTH_EDIT_COUNT] = {
    "recolor", "move", "add", "remove", "background", "scale", "mirror", "stripes", "compose"};
static const uint8_t STRIPE[3] = {245, 245, 245};
#define ADDED_RADIUS 0.12f
#define STRIPES_PER_SIDE 16

/* Phrasings per edit: {obj} the named shape ("red circle"), {color} a colour, {place} a place,
 * {bg} a background colour, {new} the added shape with its article ("a blue square"). */
static const char *const T_RECOLOR[] = {"make the {obj} {color}", "turn the {obj} {color}", "change the {obj} to {color}",
                                        "paint the {obj} {color}", "recolour the {obj} {color}",
                                        "change the colour of the {obj} to {color}"};
static const char *const T_MOVE[] = {"move the {obj} to the {place}", "put the {obj} at the {place}",
                                     "shift the {obj} to the {place}", "place the {obj} at the {place}",
                                     "drag the {obj} to the {place}"};
static const char *const T_ADD[] = {"add {new} at the {place}", "put {new} at the {place}", "draw {new} at the {place}",
                                    "place {new} at the {place}", "add {new} to the {place}"};
static const char *const T_REMOVE[] = {"remove the {obj}", "delete the {obj}", "take away the {obj}", "erase the {obj}",
                                       "get rid of the {obj}"};
static const char *const T_BACKGROUND[] = {"change the background to {bg}", "make the background {bg}",
                                           "paint the background {bg}", "turn the background {bg}",
                                           "use a {bg} background", "give it a {bg} background"};
static const char *const T_BIGGER[] = {"make the {obj} bigger", "enlarge the {obj}", "make the {obj} larger",
                                       "scale up the {obj}", "increase the size of the {obj}"};
static const char *const T_SMALLER[] = {"make the {obj} smaller", "shrink the {obj}", "scale down the {obj}",
                                        "reduce the size of the {obj}", "make the {obj} a bit smaller"};
static const char *const T_MIRROR[] = {"mirror it", "mirror the image", "flip it horizontally",
                                       "flip the picture left to right", "make a mirror image of it"};
static const char *const T_STRIPES[] = {"make it striped", "make the {obj} striped", "add stripes to the {obj}",
                                        "give the {obj} stripes", "paint white stripes on the {obj}"};
#define PICK(r, t) ((t)[rng_below((r), sizeof(t) / sizeof *(t))])

const char *synth_edit_name(SynthEdit k) { return k >= 0 && k < SYNTH_EDIT_COUNT ? EDIT_NAMES[k] : "?"; }

int synth_edits_parse(const char *list, unsigned *mask, Err *e) {
    *mask = 0;
    const char *p = list;
    while (1) {
        size_t n = strcspn(p, ",");
        int found = -1;
        for (int k = 0; k < SYNTH_EDIT_COUNT; k++)
            if (strlen(EDIT_NAMES[k]) == n && !strncmp(p, EDIT_NAMES[k], n)) found = k;
        if (n == 8 && !strncmp(p, "recolour", 8)) found = SYNTH_RECOLOR;
        if (found < 0)
            return err_setc(e, EXIT_USAGE, "--edits: unknown edit '%.*s' (known: recolor, move, add, remove, background, scale, "
                                           "mirror, stripes, compose)", (int)n, p);
        *mask |= SYNTH_EDIT_BIT(found);
        if (!p[n]) break;
        p += n + 1;
    }
    return 0;
}

/* ---- drawing ---- */

static Image image_new(int w, int h) {
    Image im = {w, h, 3, malloc((size_t)w * h * 3)};
    return im;
}

typedef struct Scene {
    Shape s[5];
    int n;
    uint8_t bg0[3], bg1[3];   /* top and bottom of the background gradient (equal: flat) */
    int bg_named;             /* index into BACKGROUNDS, or -1 */
} Scene;

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

/* Subsamples per pixel side: shape outlines are anti-aliased by their coverage of SS x SS points, so
 * an edge is a smooth function of the geometry (what a small autoencoder can learn to reproduce)
 * rather than a staircase; pixels wholly inside a shape keep its exact colour. */
#define SS 4

static void render(Image *im, const Scene *sc) {
    const int W = im->width, H = im->height, size = W < H ? W : H;
    for (int y = 0; y < H; y++) {
        float t = H > 1 ? (float)y / (float)(H - 1) : 0.0f;
        uint8_t c[3];
        for (int k = 0; k < 3; k++) c[k] = (uint8_t)(sc->bg0[k] + t * (sc->bg1[k] - sc->bg0[k]) + 0.5f);
        for (int x = 0; x < W; x++) memcpy(im->data + ((size_t)y * W + x) * 3, c, 3);
    }
    for (int i = 0; i < sc->n; i++) {
        const Shape *s = &sc->s[i];
        /* the pixels whose square can meet the shape (|dx|, |dy| <= r for every kind) */
        int x0 = (int)floorf((s->cx - s->r - 0.5f) * size + 0.5f * W) - 1, x1 = (int)ceilf((s->cx + s->r - 0.5f) * size + 0.5f * W) + 1;
        int y0 = (int)floorf((s->cy - s->r - 0.5f) * size + 0.5f * H) - 1, y1 = (int)ceilf((s->cy + s->r - 0.5f) * size + 0.5f * H) + 1;
        if (x0 < 0) x0 = 0;
        if (y0 < 0) y0 = 0;
        if (x1 > W) x1 = W;
        if (y1 > H) y1 = H;
        for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++) {
                int n = 0;
                for (int sy = 0; sy < SS; sy++)
                    for (int sx = 0; sx < SS; sx++) {
                        float px = ((float)x + (sx + 0.5f) / SS - 0.5f * W) / size + 0.5f;
                        float py = ((float)y + (sy + 0.5f) / SS - 0.5f * H) / size + 0.5f;
                        n += inside(s, px, py);
                    }
                if (!n) continue;
                /* stripes follow pixel rows (by the row's centre), so a striped pixel is all stripe or all colour */
                float pyc = ((float)y + 0.5f - 0.5f * H) / size + 0.5f;
                int stripe = s->striped && ((int)floorf((pyc - (s->cy - s->r)) * STRIPES_PER_SIDE)) % 2 == 1;
                const uint8_t *col = stripe ? STRIPE : COLORS[s->color].rgb;
                uint8_t *px = im->data + ((size_t)y * W + x) * 3;
                for (int k = 0; k < 3; k++) px[k] = (uint8_t)((px[k] * (SS * SS - n) + col[k] * n + SS * SS / 2) / (SS * SS));
            }
    }
}

static Image render_new(const Scene *sc, int w, int h) {
    Image im = image_new(w, h);
    render(&im, sc);
    return im;
}

static void flip_horizontal(Image *im) {
    for (int y = 0; y < im->height; y++) {
        uint8_t *row = im->data + (size_t)y * im->width * 3;
        for (int a = 0, b = im->width - 1; a < b; a++, b--)
            for (int k = 0; k < 3; k++) { uint8_t t = row[a * 3 + k]; row[a * 3 + k] = row[b * 3 + k]; row[b * 3 + k] = t; }
    }
}

/* ---- scenes ---- */

/* radius of the disc that holds the shape */
static float bound(const Shape *s) { return s->kind == SHAPE_CIRCLE ? s->r : 1.42f * s->r; }

static int overlaps(const Shape *a, const Shape *b) {
    float dx = a->cx - b->cx, dy = a->cy - b->cy, d = bound(a) + bound(b) + 0.03f;
    return dx * dx + dy * dy < d * d;
}

/* 1 when s overlaps none of sc's shapes other than `skip` */
static int is_free(const Scene *sc, const Shape *s, int skip) {
    for (int i = 0; i < sc->n; i++)
        if (i != skip && overlaps(s, &sc->s[i])) return 0;
    return 1;
}

static int color_used(const Scene *sc, int c) {
    for (int i = 0; i < sc->n; i++)
        if (sc->s[i].color == c) return 1;
    return 0;
}

static int free_color(Rng *r, const Scene *sc) {
    int c;
    do c = (int)rng_below(r, N_COLORS); while (color_used(sc, c));
    return c;
}

static void random_scene(Rng *r, int n_shapes, Scene *sc) {
    memset(sc, 0, sizeof *sc);
    sc->bg_named = -1;
    if (rng_below(r, 10) < 4) {   /* a named flat colour, or a two-tone gradient */
        sc->bg_named = (int)rng_below(r, N_BACKGROUNDS);
        memcpy(sc->bg0, BACKGROUNDS[sc->bg_named].rgb, 3);
        memcpy(sc->bg1, BACKGROUNDS[sc->bg_named].rgb, 3);
    } else {
        for (int k = 0; k < 3; k++) { sc->bg0[k] = (uint8_t)(150 + rng_below(r, 90)); sc->bg1[k] = (uint8_t)(90 + rng_below(r, 90)); }
    }
    for (int i = 0; i < n_shapes; i++) {
        Shape s = {0};
        s.kind = (ShapeKind)rng_below(r, SHAPE_COUNT);
        s.color = free_color(r, sc);
        for (int tries = 0; tries < 50; tries++) {   /* keep shapes apart (rarely impossible: then overlap) */
            s.r = 0.08f + 0.07f * (float)rng_uniform(r);
            s.cx = 0.2f + 0.6f * (float)rng_uniform(r);
            s.cy = 0.2f + 0.6f * (float)rng_uniform(r);
            if (is_free(sc, &s, -1)) break;
        }
        sc->s[sc->n++] = s;
    }
}

/* A place for shape s (index skip in sc, or -1 for a new one) among the first n_places: uniformly among those where
 * it overlaps nothing and (moving) lands at least 0.15 away; else among the far-enough ones. */
static int pick_place(Rng *r, const Scene *sc, const Shape *s, int skip, int n_places) {
    int ok[N_PLACES], n_ok = 0, far[N_PLACES], n_far = 0;
    for (int p = 0; p < n_places; p++) {
        Shape t = *s;
        t.cx = PLACES[p].x; t.cy = PLACES[p].y;
        float dx = t.cx - s->cx, dy = t.cy - s->cy;
        if (skip >= 0 && dx * dx + dy * dy < 0.15f * 0.15f) continue;
        far[n_far++] = p;
        if (is_free(sc, &t, skip)) ok[n_ok++] = p;
    }
    return n_ok ? ok[rng_below(r, (uint64_t)n_ok)] : far[rng_below(r, (uint64_t)n_far)];
}

/* ---- instructions ---- */

typedef struct Words { const char *obj_color, *obj_shape, *color, *place, *bg, *new_color, *new_shape; } Words;

/* Expands the {…} fields of template t into out. */
static void fill(char *out, size_t cap, const char *t, const Words *w) {
    size_t n = 0;
    out[0] = 0;
    while (*t && n + 1 < cap) {
        char piece[96];
        const char *add = NULL;
        if (!strncmp(t, "{obj}", 5)) { snprintf(piece, sizeof piece, "%s %s", w->obj_color, w->obj_shape); add = piece; t += 5; }
        else if (!strncmp(t, "{color}", 7)) { add = w->color; t += 7; }
        else if (!strncmp(t, "{place}", 7)) { add = w->place; t += 7; }
        else if (!strncmp(t, "{bg}", 4)) { add = w->bg; t += 4; }
        else if (!strncmp(t, "{new}", 5)) {
            snprintf(piece, sizeof piece, "%s %s %s", strchr("aeiou", w->new_color[0]) ? "an" : "a", w->new_color, w->new_shape);
            add = piece;
            t += 5;
        } else { out[n++] = *t++; out[n] = 0; continue; }
        n += (size_t)snprintf(out + n, cap - n, "%s", add);
        if (n >= cap) n = cap - 1;
    }
}

/* ---- pairs ---- */

static void info_shape(SynthEditInfo *in, const Shape *s, int after) {
    if (after) { memcpy(in->color_after, COLORS[s->color].rgb, 3); in->cx_after = s->cx; in->cy_after = s->cy; in->r_after = s->r; }
    else { memcpy(in->color_before, COLORS[s->color].rgb, 3); in->cx_before = s->cx; in->cy_before = s->cy; in->r_before = s->r; }
}

static void single_reference_pair(Rng *r, unsigned edits, int width, int height, SynthPair *out) {
    SynthEdit kinds[SYNTH_EDIT_COUNT];
    int nk = 0;
    for (int k = 0; k < SYNTH_EDIT_COUNT; k++)
        if (k != SYNTH_COMPOSE && (edits & SYNTH_EDIT_BIT(k))) kinds[nk++] = (SynthEdit)k;
    if (!nk) { for (int k = 0; k <= SYNTH_SCALE; k++) kinds[nk++] = (SynthEdit)k; }
    SynthEdit kind = kinds[rng_below(r, (uint64_t)nk)];
    Scene before, after;
    random_scene(r, kind == SYNTH_STRIPES ? 1 : 1 + (int)rng_below(r, 3), &before);
    after = before;
    const int ti = before.n - 1;          /* the named shape: drawn last */
    Shape *t = &after.s[ti];
    Words w = { COLORS[t->color].name, SHAPE_NAMES[t->kind], NULL, NULL, NULL, NULL, NULL };
    SynthEditInfo *in = &out->info;
    in->kind = kind;
    info_shape(in, &before.s[ti], 0);
    const char *tmpl = NULL;
    int flip = 0;
    switch (kind) {
    case SYNTH_RECOLOR:
        t->color = free_color(r, &before);
        w.color = COLORS[t->color].name;
        tmpl = PICK(r, T_RECOLOR);
        break;
    case SYNTH_MOVE: {
        int p = pick_place(r, &before, t, ti, N_PLACES);
        t->cx = PLACES[p].x; t->cy = PLACES[p].y;
        w.place = PLACES[p].name[rng_below(r, 3)];
        tmpl = PICK(r, T_MOVE);
        break;
    }
    case SYNTH_ADD: {
        Shape s = { .kind = (ShapeKind)rng_below(r, SHAPE_COUNT), .color = free_color(r, &before), .r = ADDED_RADIUS };
        s.cx = s.cy = -1.0f;
        int p = pick_place(r, &before, &s, -1, N_PLACES);
        s.cx = PLACES[p].x; s.cy = PLACES[p].y;
        after.s[after.n++] = s;
        w.new_color = COLORS[s.color].name; w.new_shape = SHAPE_NAMES[s.kind];
        w.place = PLACES[p].name[rng_below(r, 3)];
        info_shape(in, &s, 0);
        tmpl = PICK(r, T_ADD);
        break;
    }
    case SYNTH_REMOVE:
        after.n--;
        tmpl = PICK(r, T_REMOVE);
        break;
    case SYNTH_BACKGROUND: {
        int b;
        do b = (int)rng_below(r, N_BACKGROUNDS); while (b == before.bg_named);
        after.bg_named = b;
        memcpy(after.bg0, BACKGROUNDS[b].rgb, 3);
        memcpy(after.bg1, BACKGROUNDS[b].rgb, 3);
        memcpy(in->color_before, before.bg0, 3);
        w.bg = BACKGROUNDS[b].name[rng_below(r, 2)];
        tmpl = PICK(r, T_BACKGROUND);
        break;
    }
    case SYNTH_SCALE: {
        int bigger = (int)rng_below(r, 2);
        t->r *= bigger ? 1.5f : 0.6f;
        tmpl = bigger ? PICK(r, T_BIGGER) : PICK(r, T_SMALLER);
        break;
    }
    case SYNTH_MIRROR:
        flip = 1;
        tmpl = PICK(r, T_MIRROR);
        break;
    case SYNTH_STRIPES:
        t->striped = 1;
        tmpl = PICK(r, T_STRIPES);
        break;
    default:
        break;
    }
    if (kind == SYNTH_ADD) info_shape(in, &after.s[after.n - 1], 1);
    else if (kind == SYNTH_BACKGROUND) memcpy(in->color_after, after.bg0, 3);
    else if (kind != SYNTH_REMOVE && kind != SYNTH_MIRROR) info_shape(in, t, 1);
    fill(out->instruction, sizeof out->instruction, tmpl, &w);
    out->n_refs = 1;
    out->refs[0] = render_new(&before, width, height);
    if (flip) {
        out->edit = render_new(&before, width, height);
        flip_horizontal(&out->edit);
    } else {
        out->edit = render_new(&after, width, height);
    }
}

/* Multi-reference: add the object of picture 2 (in the colour of picture 3) to picture 1. */
static void compose_pair(Rng *r, int n_refs, int width, int height, SynthPair *out) {
    Scene before, after;
    random_scene(r, 1 + (int)rng_below(r, 3), &before);
    after = before;
    Shape extra = { .kind = (ShapeKind)rng_below(r, SHAPE_COUNT), .color = free_color(r, &before), .r = ADDED_RADIUS };
    extra.cx = extra.cy = -1.0f;
    int p = pick_place(r, &before, &extra, -1, 5);   /* "in the <corner or centre> of Picture 1" */
    int swatch;
    do swatch = (int)rng_below(r, N_COLORS); while (swatch == extra.color);
    Shape placed = extra;
    placed.cx = PLACES[p].x; placed.cy = PLACES[p].y;
    if (n_refs >= 3) {
        placed.color = swatch;
        snprintf(out->instruction, sizeof out->instruction,
                 "put the %s from Picture 2 in the %s of Picture 1, coloured like Picture 3", SHAPE_NAMES[extra.kind], PLACES[p].name[0]);
    } else {
        snprintf(out->instruction, sizeof out->instruction,
                 "put the %s from Picture 2 in the %s of Picture 1", SHAPE_NAMES[extra.kind], PLACES[p].name[0]);
    }
    after.s[after.n++] = placed;
    out->info.kind = SYNTH_COMPOSE;
    info_shape(&out->info, &extra, 0);
    info_shape(&out->info, &placed, 1);
    out->n_refs = n_refs;
    out->refs[0] = render_new(&before, width, height);
    out->edit = render_new(&after, width, height);
    Scene obj = { .n = 1, .bg_named = -1 };
    static const uint8_t plain[3] = {235, 235, 235};
    memcpy(obj.bg0, plain, 3);
    memcpy(obj.bg1, plain, 3);
    obj.s[0] = extra;
    obj.s[0].cx = 0.5f; obj.s[0].cy = 0.5f; obj.s[0].r = 0.3f;
    out->refs[1] = render_new(&obj, width, height);
    if (n_refs >= 3) {
        Scene sw = { .n = 0, .bg_named = -1 };
        memcpy(sw.bg0, COLORS[swatch].rgb, 3);
        memcpy(sw.bg1, COLORS[swatch].rgb, 3);
        out->refs[2] = render_new(&sw, width, height);
    }
}

void synth_edit_pair(uint64_t seed, int index, unsigned edits, int n_refs, int width, int height, SynthPair *out) {
    memset(out, 0, sizeof *out);
    if (n_refs < 1) n_refs = 1;
    if (n_refs > 3) n_refs = 3;
    Rng r;
    rng_seed_stream(&r, seed, (uint64_t)index);
    if (n_refs >= 2) compose_pair(&r, n_refs, width, height, out);
    else single_reference_pair(&r, edits, width, height, out);
}

void synth_pair(uint64_t seed, int index, int n_refs, int width, int height, SynthPair *out) {
    synth_edit_pair(seed, index, SYNTH_EDITS_DEFAULT, n_refs, width, height, out);
}

void synth_pair_free(SynthPair *p) {
    image_free(&p->edit);
    for (int i = 0; i < 3; i++) image_free(&p->refs[i]);
}

int synth_backgrounds(SynthColor *out, int max) {
    for (int i = 0; i < N_BACKGROUNDS && i < max; i++)
        out[i] = (SynthColor){BACKGROUNDS[i].name[0], {BACKGROUNDS[i].rgb[0], BACKGROUNDS[i].rgb[1], BACKGROUNDS[i].rgb[2]}};
    return N_BACKGROUNDS;
}

void synth_scene(uint64_t seed, int index, int width, int height, Image *out) {
    SynthPair p;
    synth_edit_pair(seed, index / 2, SYNTH_EDITS_ALL_SINGLE, 1, width, height, &p);
    if (index % 2) { *out = p.edit; p.edit.data = NULL; }
    else { *out = p.refs[0]; p.refs[0].data = NULL; }
    synth_pair_free(&p);
}
