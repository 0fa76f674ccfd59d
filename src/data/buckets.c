#include "data/buckets.h"
#include "base/rng.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int resolution_type_parse(const char *s, ResolutionType *out, Err *e) {
    if (!s || !strcmp(s, "pixel_area")) { *out = RES_PIXEL_AREA; return 0; }
    if (!strcmp(s, "pixel")) { *out = RES_PIXEL; return 0; }
    if (!strcmp(s, "area")) { *out = RES_AREA; return 0; }
    return err_setc(e, EXIT_USAGE, "resolution_type \"%s\": expected pixel, area or pixel_area", s);
}

int crop_style_parse(const char *s, CropStyle *out, Err *e) {
    if (!s || !strcmp(s, "random")) { *out = CROP_STYLE_RANDOM; return 0; }
    if (!strcmp(s, "center") || !strcmp(s, "centre")) { *out = CROP_STYLE_CENTER; return 0; }
    if (!strcmp(s, "corner")) { *out = CROP_STYLE_CORNER; return 0; }
    if (!strcmp(s, "face")) return err_setc(e, EXIT_USAGE, "crop_style \"face\": not supported yet: face detection (use random, center or corner)");
    return err_setc(e, EXIT_USAGE, "crop_style \"%s\": expected random, center, centre or corner", s);
}

int crop_aspect_parse(const char *s, CropAspect *out, Err *e) {
    if (!s || !strcmp(s, "square")) { *out = CROP_ASPECT_SQUARE; return 0; }
    if (!strcmp(s, "preserve")) { *out = CROP_ASPECT_PRESERVE; return 0; }
    if (!strcmp(s, "closest")) { *out = CROP_ASPECT_CLOSEST; return 0; }
    if (!strcmp(s, "random")) { *out = CROP_ASPECT_RANDOM; return 0; }
    return err_setc(e, EXIT_USAGE, "crop_aspect \"%s\": expected square, preserve, closest or random", s);
}

void bucket_params_default(BucketParams *p) {
    memset(p, 0, sizeof *p);
    p->type = RES_PIXEL_AREA;
    p->resolution = 1024;
    p->alignment = 64;
    p->rounding = 2;
    p->crop_style = CROP_STYLE_RANDOM;
    p->crop_aspect = CROP_ASPECT_SQUARE;
    p->max_upscale_threshold = -1;
}

/* Python's round(x, n): correctly rounded from the exact binary value, ties to even — which is
 * what glibc's printf does, so the decimal text round-trips to the same double. */
double aspect_round(double x, int n) {
    char buf[64];
    snprintf(buf, sizeof buf, "%.*f", n < 0 ? 0 : n > 12 ? 12 : n, x);
    return strtod(buf, NULL);
}

/* SimpleTuner's _round_to_nearest_multiple: round half to even (Python round), at least one step. */
static int round_multiple(double v, int a) {
    int r = (int)(nearbyint(v / a) * a);
    return r < a ? a : r;
}

static double megapixels(const BucketParams *p, double v) {
    return p->type == RES_PIXEL_AREA ? v * v / 1e6 : v;
}

/* Edge of the square bucket. Area types map the usual megapixel values onto the familiar square
 * sizes as SimpleTuner does (1.0 MP -> 1024², not 1000²). */
static int square_edge(const BucketParams *p) {
    if (p->type == RES_PIXEL) return round_multiple(p->resolution, p->alignment);
    static const double mp[5] = { 0.25, 0.5, 1.0, 2.0, 4.0 }, px[5] = { 512, 768, 1024, 1536, 2048 };
    double m = megapixels(p, p->resolution), area = m * 1e6;
    for (int i = 0; i < 5; i++) if (fabs(m - mp[i]) < 0.05) { area = px[i] * px[i]; break; }
    return round_multiple(sqrt(area), p->alignment);
}

void bucket_size_for_aspect(const BucketParams *p, double ar, int *w, int *h) {
    int a = p->alignment, W, H;
    if (p->type == RES_PIXEL) {
        double R = p->resolution;
        if (ar >= 1.0) { H = (int)R; W = (int)(R * ar); }
        else { W = (int)R; H = (int)(R / ar); }
        W = round_multiple(W, a); H = round_multiple(H, a);
    } else {
        int edge = round_multiple((int)sqrt(megapixels(p, p->resolution) * 1e6), a);
        W = round_multiple(edge * sqrt(ar), a);
        H = round_multiple(edge / sqrt(ar), a);
    }
    if (ar == 1.0 || aspect_round((double)W / H, 2) == 1.0) W = H = square_edge(p);
    *w = W; *h = H;
}

/* Smallest resize of (w, h) that keeps its aspect and covers (tw, th). */
static void cover(int w, int h, int tw, int th, int *iw, int *ih) {
    double s = fmax((double)tw / w, (double)th / h);
    int W = (int)floor(w * s + 0.5), H = (int)floor(h * s + 0.5);
    *iw = W < tw ? tw : W;
    *ih = H < th ? th : H;
}

static uint64_t image_hash(const BucketParams *p, const char *rel, uint64_t purpose) {
    return hash64(rel, strlen(rel), p->seed ^ purpose);
}

static double pick_crop_aspect(const BucketParams *p, double ar, int w, int h, const char *rel) {
    if (p->crop_aspect == CROP_ASPECT_CLOSEST) {
        int best = 0;
        for (int i = 1; i < p->n_crop_aspects; i++)
            if (fabs(p->crop_aspects[i] - ar) < fabs(p->crop_aspects[best] - ar)) best = i;
        return p->crop_aspects[best];
    }
    double total = 0;
    for (int i = 0; i < p->n_crop_aspects; i++) total += p->crop_aspect_weights[i];
    double u = (double)(image_hash(p, rel, 0xA5BEC7u) >> 11) * 0x1.0p-53;
    if (total <= 0) {
        /* plain list: drawn uniformly among the buckets that do not upscale too much */
        int ok[BUCKET_MAX_CROP_ASPECTS], n = 0;
        for (int i = 0; i < p->n_crop_aspects; i++) {
            int tw, th;
            bucket_size_for_aspect(p, p->crop_aspects[i], &tw, &th);
            double lim = 1 + p->max_upscale_threshold;
            if (p->max_upscale_threshold < 0 || (tw <= w * lim && th <= h * lim)) ok[n++] = i;
        }
        if (n == 0) return 1.0;   /* none fits: square, as upstream */
        return p->crop_aspects[ok[(int)(u * n) % n]];
    }
    double acc = 0;
    for (int i = 0; i < p->n_crop_aspects; i++) {
        acc += p->crop_aspect_weights[i] / total;
        if (u < acc) return p->crop_aspects[i];
    }
    return p->crop_aspects[p->n_crop_aspects - 1];
}

int bucket_geometry(const BucketParams *p, int w, int h, const char *rel, SampleGeometry *g,
                    char *why, size_t why_len, Err *e) {
    memset(g, 0, sizeof *g);
    if (p->alignment <= 0) return err_setc(e, EXIT_USAGE, "aspect_bucket_alignment %d: expected a positive multiple of 8", p->alignment);
    if (p->resolution <= 0) return err_setc(e, EXIT_USAGE, "resolution %g: expected a positive value", p->resolution);
    if ((p->crop_aspect == CROP_ASPECT_CLOSEST || p->crop_aspect == CROP_ASPECT_RANDOM) && p->crop && p->n_crop_aspects == 0)
        return err_setc(e, EXIT_USAGE, "crop_aspect %s needs crop_aspect_buckets", p->crop_aspect == CROP_ASPECT_CLOSEST ? "closest" : "random");
    if (w <= 0 || h <= 0) return err_set(e, "%s: image has no pixels (%dx%d)", rel, w, h);
    g->orig_w = w; g->orig_h = h;
    double ar = aspect_round((double)w / h, p->rounding);
    /* filters */
    if (p->minimum_image_size > 0) {
        int small = p->type == RES_PIXEL ? (w < p->minimum_image_size || h < p->minimum_image_size)
                                         : (double)w * h / 1e6 < megapixels(p, p->minimum_image_size);
        if (small) { snprintf(why, why_len, "smaller than minimum_image_size %g (%dx%d)", p->minimum_image_size, w, h); return 1; }
    }
    if (p->minimum_aspect_ratio > 0 && ar < p->minimum_aspect_ratio) {
        snprintf(why, why_len, "aspect ratio %.2f below minimum_aspect_ratio %g (%dx%d)", ar, p->minimum_aspect_ratio, w, h); return 1;
    }
    if (p->maximum_aspect_ratio > 0 && ar > p->maximum_aspect_ratio) {
        snprintf(why, why_len, "aspect ratio %.2f above maximum_aspect_ratio %g (%dx%d)", ar, p->maximum_aspect_ratio, w, h); return 1;
    }
    int crop_square = p->crop && p->crop_aspect == CROP_ASPECT_SQUARE;
    if (crop_square) {
        g->target_w = g->target_h = square_edge(p);
    } else {
        double bar = p->crop && p->crop_aspect != CROP_ASPECT_PRESERVE ? pick_crop_aspect(p, ar, w, h, rel) : ar;
        bucket_size_for_aspect(p, bar, &g->target_w, &g->target_h);
    }
    if (crop_square) {
        /* crop from the image at its own scale, after the optional downsample of big images */
        int ww = w, wh = h;
        if (p->maximum_image_size > 0 && p->target_downsample_size > 0) {
            double s = 1;
            if (p->type == RES_PIXEL) {
                if (w > p->maximum_image_size || h > p->maximum_image_size) s = p->target_downsample_size / (double)(w < h ? w : h);
            } else if ((double)w * h / 1e6 > megapixels(p, p->maximum_image_size)) {
                s = sqrt(megapixels(p, p->target_downsample_size) * 1e6 / ((double)w * h));
            }
            if (s < 1) { ww = (int)floor(w * s + 0.5); wh = (int)floor(h * s + 0.5); }
        }
        if (ww >= g->target_w && wh >= g->target_h) { g->inter_w = ww; g->inter_h = wh; }
        else cover(ww, wh, g->target_w, g->target_h, &g->inter_w, &g->inter_h);
    } else {
        cover(w, h, g->target_w, g->target_h, &g->inter_w, &g->inter_h);
    }
    int slack_x = g->inter_w - g->target_w, slack_y = g->inter_h - g->target_h;
    switch (p->crop_style) {
    case CROP_STYLE_CENTER: g->crop_x = slack_x / 2; g->crop_y = slack_y / 2; break;
    case CROP_STYLE_CORNER: g->crop_x = g->crop_y = 0; break;
    default: {
        uint64_t r = image_hash(p, rel, 0xC809u);
        g->crop_x = slack_x > 0 ? (int)(r % (uint64_t)(slack_x + 1)) : 0;
        g->crop_y = slack_y > 0 ? (int)((r >> 32) % (uint64_t)(slack_y + 1)) : 0;
    }
    }
    return 0;
}
