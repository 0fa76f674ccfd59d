/* image.h — the pixel image passed between decoding, resizing, processors and the VAEs:
 * 8-bit, interleaved HWC, `channels` = 3 (RGB) unless stated. Decoders convert every input
 * (grayscale, alpha, 16-bit, CMYK, palette) to this form. */
#ifndef ST_IMAGE_H
#define ST_IMAGE_H
#include <stdint.h>
#include <stdlib.h>

typedef struct Image {
    int width, height, channels;
    uint8_t *data;   /* height * width * channels bytes, row-major */
} Image;

static inline void image_free(Image *im) {
    if (im) { free(im->data); im->data = 0; im->width = im->height = 0; }
}

#endif
