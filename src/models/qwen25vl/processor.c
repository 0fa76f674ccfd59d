/* processor.c — Qwen2-VL image processor and the pipelines' pre-resize sizes (see processor.h). */
#include "models/qwen25vl/processor.h"
#include "config/config_json.h"
#include "base/files.h"
#include "image/image_resize.h"
#include <math.h>
#include <string.h>

void qwenvl_processor_config_default(QwenVLProcessorConfig *c) {
    *c = (QwenVLProcessorConfig){
        .patch_size = 14, .merge_size = 2, .temporal_patch_size = 2,
        .min_pixels = 56 * 56, .max_pixels = 28L * 28 * 16384,
        .rescale_factor = 1.0 / 255.0,
        .mean = {0.48145466f, 0.4578275f, 0.40821073f},
        .std = {0.26862954f, 0.26130258f, 0.27577711f},
    };
}

static int read_int(const cJSON *j, const char *key, long lo, long hi, long *out, const char *path, Err *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
        return err_setc(e, EXIT_USAGE, "%s: \"%s\" must be an integer in [%ld, %ld]", path, key, lo, hi);
    *out = (long)v->valuedouble;
    return 0;
}
static int read_triple(const cJSON *j, const char *key, float out[3], const char *path, Err *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v) return 0;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 3) return err_setc(e, EXIT_USAGE, "%s: \"%s\" must be an array of 3 numbers", path, key);
    int i = 0;
    for (const cJSON *x = v->child; x; x = x->next, i++) {
        if (!cJSON_IsNumber(x)) return err_setc(e, EXIT_USAGE, "%s: \"%s\" must be an array of 3 numbers", path, key);
        out[i] = (float)x->valuedouble;
    }
    return 0;
}

int qwenvl_processor_config_load(const char *path, QwenVLProcessorConfig *c, Err *e) {
    qwenvl_processor_config_default(c);
    char *file = dir_exists(path) ? path_join(path, "preprocessor_config.json") : xstrdup(path);
    cJSON *j = json_read_config_file(file, e);
    int rc = -1;
    if (!j) goto done;
    long patch = c->patch_size, merge = c->merge_size, tp = c->temporal_patch_size, minp = -1, maxp = -1;
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(j, "size");
    if (read_int(j, "patch_size", 1, 1024, &patch, file, e) || read_int(j, "merge_size", 1, 64, &merge, file, e) ||
        read_int(j, "temporal_patch_size", 1, 64, &tp, file, e) || read_int(j, "min_pixels", 1, 1L << 40, &minp, file, e) ||
        read_int(j, "max_pixels", 1, 1L << 40, &maxp, file, e))
        goto done;
    if (cJSON_IsObject(size)) {
        if (minp < 0 && read_int(size, "shortest_edge", 1, 1L << 40, &minp, file, e)) goto done;
        if (maxp < 0 && read_int(size, "longest_edge", 1, 1L << 40, &maxp, file, e)) goto done;
    }
    if (read_triple(j, "image_mean", c->mean, file, e) || read_triple(j, "image_std", c->std, file, e)) goto done;
    const cJSON *rf = cJSON_GetObjectItemCaseSensitive(j, "rescale_factor");
    if (cJSON_IsNumber(rf)) c->rescale_factor = rf->valuedouble;
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(j, "resample");
    if (rs && (!cJSON_IsNumber(rs) || rs->valuedouble != 3)) {
        err_setc(e, EXIT_USAGE, "%s: not supported yet: \"resample\" other than 3 (bicubic)", file); goto done;
    }
    c->patch_size = (int)patch; c->merge_size = (int)merge; c->temporal_patch_size = (int)tp;
    if (minp > 0) c->min_pixels = minp;
    if (maxp > 0) c->max_pixels = maxp;
    if (c->min_pixels > c->max_pixels) { err_setc(e, EXIT_USAGE, "%s: min_pixels %ld exceeds max_pixels %ld", file, c->min_pixels, c->max_pixels); goto done; }
    for (int i = 0; i < 3; i++)
        if (!(c->std[i] != 0.0f)) { err_setc(e, EXIT_USAGE, "%s: \"image_std\" must not contain 0", file); goto done; }
    rc = 0;
done:
    cJSON_Delete(j);
    free(file);
    return rc;
}

int qwenvl_smart_resize(int h, int w, int factor, long min_pixels, long max_pixels, int *out_h, int *out_w, Err *e) {
    if (h < 10 || w < 10) return err_set(e, "image %dx%d (WxH) is too small for the Qwen2-VL processor: both sides must be at least 10", w, h);
    if (factor <= 0) return err_set(e, "smart_resize: factor must be positive, got %d", factor);
    double big = h > w ? h : w, small = h > w ? w : h;
    if (big / small > 200) return err_set(e, "image %dx%d (WxH) has an aspect ratio above 200, which the Qwen2-VL processor rejects", w, h);
    double hb = nearbyint((double)h / factor) * factor, wb = nearbyint((double)w / factor) * factor;
    if (hb * wb > (double)max_pixels) {
        double beta = sqrt((double)h * w / (double)max_pixels);
        hb = fmax(factor, floor(h / beta / factor) * factor);
        wb = fmax(factor, floor(w / beta / factor) * factor);
    } else if (hb * wb < (double)min_pixels) {
        double beta = sqrt((double)min_pixels / ((double)h * w));
        hb = ceil(h * beta / factor) * factor;
        wb = ceil(w * beta / factor) * factor;
    }
    *out_h = (int)hb;
    *out_w = (int)wb;
    return 0;
}

/* Normalised planes [3][H][W] -> patch rows (layout in processor.h). */
static void patches_flatten(const QwenVLProcessorConfig *c, const float *norm, int H, int W, float *out) {
    const int p = c->patch_size, m = c->merge_size, tp = c->temporal_patch_size;
    const int gh = H / p, gw = W / p, row_len = 3 * tp * p * p;
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < gh * gw; r++) {
        /* r = ((by*(gw/m) + bx)*m + iy)*m + ix */
        int ix = r % m, iy = (r / m) % m, blk = r / (m * m), bx = blk % (gw / m), by = blk / (gw / m);
        int y0 = (by * m + iy) * p, x0 = (bx * m + ix) * p;
        float *dst = out + (size_t)r * row_len;
        for (int ch = 0; ch < 3; ch++)
            for (int t = 0; t < tp; t++)   /* the still frame repeated */
                for (int py = 0; py < p; py++) {
                    const float *src = norm + ((size_t)ch * H + y0 + py) * W + x0;
                    memcpy(dst + ((size_t)(ch * tp + t) * p + py) * p, src, (size_t)p * sizeof(float));
                }
    }
}

int qwenvl_process_image(const QwenVLProcessorConfig *c, const Image *img, float **pixel_values, int *rows,
                         int grid_thw[3], Err *e) {
    if (img->channels != 3) return err_set(e, "Qwen2-VL processor: expected an RGB image, got %d channels", img->channels);
    const int factor = c->patch_size * c->merge_size;
    int H, W;
    if (qwenvl_smart_resize(img->height, img->width, factor, c->min_pixels, c->max_pixels, &H, &W, e)) return -1;
    Image resized = {0};
    const Image *src = img;
    if (H != img->height || W != img->width) {
        if (image_resize(img, W, H, RESAMPLE_BICUBIC, &resized, e)) return -1;
        src = &resized;
    }
    /* numpy: (u8 as float64 * rescale_factor) -> float32, then (x - mean) / std in float32 */
    float *norm = xmalloc((size_t)3 * H * W * sizeof *norm);
    for (size_t i = 0; i < (size_t)H * W; i++)
        for (int ch = 0; ch < 3; ch++) {
            float x = (float)(src->data[i * 3 + ch] * c->rescale_factor);
            norm[(size_t)ch * H * W + i] = (x - c->mean[ch]) / c->std[ch];
        }
    image_free(&resized);
    const int gh = H / c->patch_size, gw = W / c->patch_size;
    const size_t row_len = (size_t)3 * c->temporal_patch_size * c->patch_size * c->patch_size;
    *pixel_values = xmalloc((size_t)gh * gw * row_len * sizeof(float));
    patches_flatten(c, norm, H, W, *pixel_values);
    free(norm);
    *rows = gh * gw;
    grid_thw[0] = 1; grid_thw[1] = gh; grid_thw[2] = gw;
    return 0;
}

int qwenvl_process_images(const QwenVLProcessorConfig *c, const Image *imgs, int n, float **pixel_values,
                          int *rows, int (*grid_thw)[3], Err *e) {
    const size_t row_len = (size_t)3 * c->temporal_patch_size * c->patch_size * c->patch_size;
    float *all = NULL;
    int total = 0;
    for (int i = 0; i < n; i++) {
        float *pv; int r;
        if (qwenvl_process_image(c, &imgs[i], &pv, &r, grid_thw[i], e)) { free(all); return err_prefix(e, "image %d", i + 1); }
        all = xrealloc(all, (size_t)(total + r) * row_len * sizeof(float));
        memcpy(all + (size_t)total * row_len, pv, (size_t)r * row_len * sizeof(float));
        free(pv);
        total += r;
    }
    *pixel_values = all;
    *rows = total;
    return 0;
}

void qwenimage_calculate_dimensions(double target_area, double ratio, int *w, int *h) {
    double width = sqrt(target_area * ratio), height = width / ratio;
    *w = (int)(nearbyint(width / 32) * 32);
    *h = (int)(nearbyint(height / 32) * 32);
}

void longcat_calculate_dimensions(double target_area, double ratio, int *w, int *h) {
    double width = sqrt(target_area * ratio), height = width / ratio;
    if (fmod(width, 16) != 0) width = (floor(width / 16) + 1) * 16;
    if (fmod(height, 16) != 0) height = (floor(height / 16) + 1) * 16;
    *w = (int)width;
    *h = (int)height;
}
