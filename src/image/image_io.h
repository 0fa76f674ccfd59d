/* image_io.h — decoding JPEG / PNG / WebP files to 8-bit RGB `Image`, and PNG encoding.
 *
 * Decoding matches what SimpleTuner gets from PIL's `Image.open(p).convert("RGB")` followed by
 * `exif_transpose`:
 *   - the format is found from the file's bytes, never from its extension;
 *   - alpha is dropped (not composited), palette is expanded, grayscale is replicated;
 *   - 16-bit samples keep their high byte (PIL's "RGB;16B" raw mode; for 16-bit GRAY PIL clips
 *     values above 255 to white, which ruins the image, so there we keep the high byte too);
 *   - CMYK / YCCK JPEGs are read as Adobe (inverted) CMYK, as PIL reads them, then PIL's cmyk2rgb;
 *   - the EXIF orientation (JPEG APP1, PNG eXIf, WebP EXIF chunk) is applied.
 * A truncated or corrupt file is an error naming the path (PIL also refuses truncated images). */
#ifndef ST_IMAGE_IO_H
#define ST_IMAGE_IO_H
#include <stddef.h>
#include <stdint.h>
#include "base/error.h"
#include "image/image.h"

typedef enum { IMAGE_FORMAT_UNKNOWN = 0, IMAGE_FORMAT_JPEG, IMAGE_FORMAT_PNG, IMAGE_FORMAT_WEBP } ImageFormat;

/* Format from the first bytes (magic numbers). */
ImageFormat image_format_sniff(const uint8_t *buf, size_t n);

/* Decodes a whole file into out (RGB, channels = 3). `path` names the file in messages. */
int image_read(const char *path, Image *out, Err *e);
/* Same from memory; `name` is used in messages. */
int image_decode(const uint8_t *buf, size_t n, const char *name, Image *out, Err *e);

/* PIL refuses images above twice its MAX_IMAGE_PIXELS (DecompressionBombError); so do the readers
 * above, from the header, before allocating: a damaged header can claim gigapixels. */
#define IMAGE_MAX_PIXELS 178956970ull
/* image_decode with a smaller decompression-bomb limit, for callers that know their images are
 * small (the fuzz target: a 160-byte JPEG can otherwise spend seconds decoding 100 M pixels). */
int image_decode_limited(const uint8_t *buf, size_t n, const char *name, uint64_t max_pixels, Image *out, Err *e);

/* EXIF orientation (1..8) found in a TIFF-structured EXIF block (with or without the "Exif\0\0"
 * prefix); 1 when absent or unreadable. */
int exif_orientation(const uint8_t *exif, size_t n);
/* Applies an EXIF orientation in place (PIL exif_transpose: 2 mirror, 3 rotate 180, 4 flip,
 * 5 transpose, 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise). */
void image_apply_orientation(Image *im, int orientation);

/* Copies the w x h region at (x, y) of src into out (same channels). The region must lie inside src. */
int image_crop(const Image *src, int x, int y, int w, int h, Image *out, Err *e);

/* PNG writing, atomic (temp + rename). 8-bit: channels 1 (gray), 3 (RGB) or 4 (RGBA). */
int image_write_png(const char *path, const Image *im, Err *e);
/* 16-bit PNG from native-endian samples, channels 1/3/4 interleaved. */
int image_write_png16(const char *path, int width, int height, int channels, const uint16_t *data, Err *e);
/* PNG encoding to memory (malloc'd buffer in *out, length in *len); bit_depth 8 or 16
 * (16: data is uint16_t native-endian). */
int image_encode_png(const void *data, int width, int height, int channels, int bit_depth,
                     uint8_t **out, size_t *len, Err *e);

/* An 8-bit RGB image written atomically as format "png", "jpeg" or "webp" (NULL = png), quality 1..100
 * for jpeg and webp (PIL's meaning); image_format_extension gives the file extension ("png", "jpg",
 * "webp"; NULL for an unknown format). */
int image_write_format(const char *path, const Image *im, const char *format, int quality, Err *e);
const char *image_format_extension(const char *format);

#endif
