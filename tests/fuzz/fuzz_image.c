/* libFuzzer target: the checked image decoders (PNG, JPEG, WebP, EXIF orientation) from memory. */
#include "fuzz_common.h"
#include "image/image_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    Image im; Err e = {0};
    if (image_decode(data, n, "fuzz", &im, &e) == 0) {
        if (!im.data || im.width <= 0 || im.height <= 0 || im.channels != 3) abort();   /* success means a usable RGB image */
        volatile uint8_t sink = im.data[(size_t)im.width * im.height * 3 - 1];
        (void)sink;
        image_free(&im);
    }
    return 0;
}
