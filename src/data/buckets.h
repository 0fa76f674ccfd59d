/* buckets.h — aspect buckets and per-image geometry (spec §4, SimpleTuner multiaspect/image.py).
 *
 * Every image gets: a target size (W×H, multiples of the alignment; all images of one bucket share
 * it), an intermediary size it is resized to first (keeps the image's aspect, covers the target),
 * and a crop box (x, y) inside the intermediary. Resolution types:
 *   pixel       the short edge is R, the long edge R·aspect, both snapped to the alignment;
 *   area        R megapixels: edge = round(√(R·10⁶)/a)·a, W = round(edge·√ar/a)·a, H = round(edge/√ar/a)·a;
 *   pixel_area  R is an edge in pixels, read as area R²/10⁶ (also minimum/maximum/target sizes).
 * Square buckets use the "pixel resolution" (√area snapped; SimpleTuner maps areas 0.25/0.5/1/2/4 MP
 * to 512²/768²/1024²/1536²/2048²). The bucket key is round(W/H, 2).
 * crop=false: resize to cover the target, then crop (crop_style). crop=true: crop from the image at
 * its own size (after the maximum_image_size → target_downsample_size downsample), upscaling only when
 * it does not cover the target; crop_aspect square → edge×edge, preserve → the image's bucket,
 * closest/random → a bucket from crop_aspect_buckets. */
#ifndef ST_BUCKETS_H
#define ST_BUCKETS_H
#include <stdint.h>
#include "base/error.h"

typedef enum { RES_PIXEL = 0, RES_AREA, RES_PIXEL_AREA } ResolutionType;
typedef enum { CROP_STYLE_RANDOM = 0, CROP_STYLE_CENTER, CROP_STYLE_CORNER } CropStyle;
typedef enum { CROP_ASPECT_SQUARE = 0, CROP_ASPECT_PRESERVE, CROP_ASPECT_CLOSEST, CROP_ASPECT_RANDOM } CropAspect;

#define BUCKET_MAX_CROP_ASPECTS 32

typedef struct BucketParams {
    ResolutionType type;
    double resolution;                 /* pixels (pixel, pixel_area) or megapixels (area) */
    int alignment;                     /* aspect_bucket_alignment (qwen 32, longcat 64) */
    int rounding;                      /* aspect_bucket_rounding, decimals of the aspect (default 2) */
    double minimum_image_size;         /* 0 = unset; same unit as resolution */
    double maximum_image_size, target_downsample_size; /* 0 = unset */
    double minimum_aspect_ratio, maximum_aspect_ratio; /* 0 = unset */
    int crop;
    CropStyle crop_style;
    CropAspect crop_aspect;
    int n_crop_aspects;
    double crop_aspects[BUCKET_MAX_CROP_ASPECTS];
    double crop_aspect_weights[BUCKET_MAX_CROP_ASPECTS]; /* all 0 = uniform */
    double max_upscale_threshold;      /* < 0 = unset; crop_aspect random with a plain list: only buckets
                                          whose size is <= original·(1+t) on both edges are drawn */
    uint64_t seed;                     /* random crop offsets and random crop aspects */
} BucketParams;

typedef struct SampleGeometry {
    int orig_w, orig_h;                /* decoded size (EXIF orientation applied) */
    int inter_w, inter_h;              /* resized to this first */
    int crop_x, crop_y;                /* crop box origin inside the intermediary */
    int target_w, target_h;            /* final size = the bucket's size */
} SampleGeometry;

int resolution_type_parse(const char *s, ResolutionType *out, Err *e);
int crop_style_parse(const char *s, CropStyle *out, Err *e);
int crop_aspect_parse(const char *s, CropAspect *out, Err *e);
/* Defaults: pixel_area 1024, alignment 64, rounding 2, crop false, random, square. */
void bucket_params_default(BucketParams *p);

/* SimpleTuner's aspect: round(w/h, rounding). */
double aspect_round(double aspect, int rounding);
/* The target (bucket) size for an aspect ratio under these parameters. */
void bucket_size_for_aspect(const BucketParams *p, double aspect, int *w, int *h);

/* Geometry of one image. Returns 0 and fills g; returns 1 when a filter excludes the image, with the
 * reason in `why` (e.g. "smaller than minimum_image_size 512 (300x200)"); -1 on a parameter error.
 * `rel` seeds the random crop so the same image gets the same box every run. */
int bucket_geometry(const BucketParams *p, int w, int h, const char *rel, SampleGeometry *g,
                    char *why, size_t why_len, Err *e);

#endif
