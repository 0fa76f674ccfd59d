/* image_encode.c — JPEG and WebP encoding of 8-bit RGB images, and the one writer that picks PNG,
 * JPEG or WebP by name (validation_image_format / validation_image_quality). */
#include "image/image_io.h"
#include "base/files.h"
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <webp/encode.h>

typedef struct JpegOut {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} JpegOut;

static void jpeg_out_fail(j_common_ptr c) {
    JpegOut *j = (JpegOut *)c->err;
    c->err->format_message(c, j->msg);
    longjmp(j->jump, 1);
}

/* Baseline JPEG, 4:2:0 as PIL's default, at quality 1..100. */
static int encode_jpeg(const Image *im, int quality, uint8_t **out, size_t *len, Err *e) {
    struct jpeg_compress_struct c;
    JpegOut j;
    unsigned char *volatile buf = NULL;
    unsigned long n = 0;
    c.err = jpeg_std_error(&j.mgr);
    j.mgr.error_exit = jpeg_out_fail;
    if (setjmp(j.jump)) {
        jpeg_destroy_compress(&c);
        free(buf);
        return err_set(e, "JPEG encode failed: %s", j.msg);
    }
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, (unsigned char **)&buf, &n);
    c.image_width = (JDIMENSION)im->width;
    c.image_height = (JDIMENSION)im->height;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(im->data + (size_t)c.next_scanline * im->width * 3);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *out = buf; *len = n;
    return 0;
}

static int encode_webp(const Image *im, int quality, uint8_t **out, size_t *len, Err *e) {
    uint8_t *buf = NULL;
    size_t n = WebPEncodeRGB(im->data, im->width, im->height, im->width * 3, (float)quality, &buf);
    if (!n) return err_set(e, "WebP encode failed for a %dx%d image", im->width, im->height);
    *out = xmalloc(n);
    memcpy(*out, buf, n);
    WebPFree(buf);
    *len = n;
    return 0;
}

const char *image_format_extension(const char *format) {
    if (!format || !strcmp(format, "png")) return "png";
    if (!strcmp(format, "jpeg")) return "jpg";
    if (!strcmp(format, "webp")) return "webp";
    return NULL;
}

int image_write_format(const char *path, const Image *im, const char *format, int quality, Err *e) {
    if (!format || !strcmp(format, "png")) return image_write_png(path, im, e);
    if (im->channels != 3) return err_set(e, "%s: %s needs an RGB image (got %d channels)", path, format, im->channels);
    if (quality < 1 || quality > 100) return err_set(e, "%s: quality %d is not in 1..100", path, quality);
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc;
    if (!strcmp(format, "jpeg")) rc = encode_jpeg(im, quality, &buf, &n, e);
    else if (!strcmp(format, "webp")) rc = encode_webp(im, quality, &buf, &n, e);
    else return err_set(e, "%s: unknown image format '%s' (png, jpeg or webp)", path, format);
    if (!rc) rc = file_write_atomic(path, buf, n, e);
    else err_prefix(e, "%s", path);
    free(buf);
    return rc;
}
