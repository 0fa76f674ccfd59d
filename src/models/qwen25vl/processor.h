/* processor.h — the Qwen2-VL image processor (transformers Qwen2VLImageProcessor, slow/PIL path) and
 * the image sizes the edit pipelines choose before it (specs/qwen25vl-spec.md §2, qwen-image-spec.md §5,
 * longcat-image-spec.md §3.4).
 *
 * Per image: smart_resize to multiples of patch*merge (28) inside [min_pixels, max_pixels] → PIL
 * bicubic resize of the 8-bit RGB image (image/image_resize.h) → x = (u8 * (1/255) - mean) / std in
 * float32, as numpy computes it → the frame repeated temporal_patch_size (2) times → rows of
 * [C * tp * p * p] = 1176 values, 2x2 merge blocks in raster order and the 4 patches of a block in
 * raster order (row r = ((by*(gw/2) + bx)*2 + iy)*2 + ix, column k = ((c*tp + t)*p + py)*p + px).
 * image_grid_thw = (1, H'/14, W'/14); the prompt gets (H'/28)*(W'/28) <|image_pad|> tokens
 * (tokenizer_encode_with_images). Verified bit-exact against the upstream processor outputs. */
#ifndef ST_QWEN25VL_PROCESSOR_H
#define ST_QWEN25VL_PROCESSOR_H
#include "base/error.h"
#include "image/image.h"

typedef struct QwenVLProcessorConfig {
    int patch_size;            /* 14 */
    int merge_size;            /* 2 */
    int temporal_patch_size;   /* 2 */
    long min_pixels, max_pixels;
    double rescale_factor;     /* 1/255 */
    float mean[3], std[3];     /* OPENAI_CLIP */
} QwenVLProcessorConfig;

/* Qwen2.5-VL-7B-Instruct's preprocessor_config.json values (min 3136, max 12845056). */
void qwenvl_processor_config_default(QwenVLProcessorConfig *c);
/* Reads preprocessor_config.json (a file, or a folder holding one); keys that are absent keep the
 * defaults above; `size.shortest_edge/longest_edge` are read as min/max pixels when
 * min_pixels/max_pixels are absent (newer transformers). */
int qwenvl_processor_config_load(const char *path, QwenVLProcessorConfig *c, Err *e);

/* transformers smart_resize: (h, w) -> (out_h, out_w), multiples of factor, Python round() (half to
 * even), area inside [min_pixels, max_pixels]. Errors for sides < 10 or an aspect ratio above 200. */
int qwenvl_smart_resize(int h, int w, int factor, long min_pixels, long max_pixels, int *out_h, int *out_w, Err *e);

/* The processor on one image. *pixel_values (malloc'd) = [rows, C*tp*p*p] with rows = gh*gw;
 * grid_thw = (1, gh, gw). The image must be RGB (3 channels). */
int qwenvl_process_image(const QwenVLProcessorConfig *c, const Image *img, float **pixel_values, int *rows,
                         int grid_thw[3], Err *e);
/* Several images concatenated row-wise in order (the processor's batch): *pixel_values holds the sum
 * of rows; grid_thw[i] per image. */
int qwenvl_process_images(const QwenVLProcessorConfig *c, const Image *imgs, int n, float **pixel_values,
                          int *rows, int (*grid_thw)[3], Err *e);

/* ---- the edit pipelines' sizes (before the processor) ------------------------------------- */

/* Qwen-Image calculate_dimensions(target_area, ratio = W/H): w = sqrt(area*ratio), h = w/ratio, each
 * rounded (half to even) to a multiple of 32. Edit v1: area 1024*1024, that image goes to both the
 * VAE and the processor. Edit v2 (Plus): area 384*384 for the processor (condition image) and
 * 1024*1024 for the VAE, both from the original image. PIL Lanczos resizes in all cases. */
void qwenimage_calculate_dimensions(double target_area, double ratio, int *w, int *h);
#define QWENIMAGE_VAE_IMAGE_AREA (1024.0 * 1024.0)
#define QWENIMAGE_CONDITION_IMAGE_AREA (384.0 * 384.0)

/* LongCat-Image-Edit calculate_dimensions: the same w, h but each rounded UP to a multiple of 16 (area
 * 1024*1024); the VAE image is the Lanczos resize to (w, h) and the processor's image is that
 * resized image Lanczos-resized again to (w/2, h/2) (integer halves). */
void longcat_calculate_dimensions(double target_area, double ratio, int *w, int *h);

#endif
