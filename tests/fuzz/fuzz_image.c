/* libFuzzer target: the checked image decoders (PNG, JPEG, WebP, EXIF orientation) from memory. */
#include "fuzz_common.h"
#include "image/image_io.h"

/* The parsers are what is fuzzed, not the pixel loops: with the product's limit (179 M pixels) a
 * 160-byte JPEG header makes one execution decode tens of millions of pixels (135 exec/s under
 * ASan). 4 Mi pixels still covers every decoder path, the limit check included. */
#define FUZZ_MAX_PIXELS (4u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    Image im; Err e = {0};
    if (image_decode_limited(data, n, "fuzz", FUZZ_MAX_PIXELS, &im, &e) == 0) {
        if (!im.data || im.width <= 0 || im.height <= 0 || im.channels != 3) abort();   /* success means a usable RGB image */
        volatile uint8_t sink = im.data[(size_t)im.width * im.height * 3 - 1];
        (void)sink;
        image_free(&im);
    }
    return 0;
}
