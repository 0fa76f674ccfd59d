/* image_io.c — JPEG (libjpeg-turbo), PNG (libpng) and WebP (libwebp) to RGB8, PNG out.
 * Every decoder reads from memory so one code path serves files and buffers. */
#include "image/image_io.h"
#include "base/files.h"
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <webp/decode.h>
#include <webp/demux.h>

ImageFormat image_format_sniff(const uint8_t *b, size_t n) {
    if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return IMAGE_FORMAT_JPEG;
    if (n >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8)) return IMAGE_FORMAT_PNG;
    if (n >= 12 && !memcmp(b, "RIFF", 4) && !memcmp(b + 8, "WEBP", 4)) return IMAGE_FORMAT_WEBP;
    return IMAGE_FORMAT_UNKNOWN;
}

/* PIL refuses images above twice its MAX_IMAGE_PIXELS (DecompressionBombError); so do we, before
 * allocating: a damaged header can claim gigapixels. */
static int too_big(uint64_t w, uint64_t h, uint64_t max_pixels) { return w * h > max_pixels; }

/* ---------- EXIF orientation ---------- */

static unsigned rd16(const uint8_t *p, int le) { return le ? (unsigned)(p[0] | p[1] << 8) : (unsigned)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p, int le) {
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
              : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int exif_orientation(const uint8_t *x, size_t n) {
    if (n >= 6 && !memcmp(x, "Exif\0\0", 6)) { x += 6; n -= 6; }
    if (n < 8) return 1;
    int le;
    if (x[0] == 'I' && x[1] == 'I') le = 1;
    else if (x[0] == 'M' && x[1] == 'M') le = 0;
    else return 1;
    if (rd16(x + 2, le) != 42) return 1;
    uint32_t ifd = rd32(x + 4, le);
    if (ifd > n - 2 || ifd < 8) return 1;
    unsigned count = rd16(x + ifd, le);
    for (unsigned i = 0; i < count; i++) {
        size_t at = ifd + 2 + (size_t)i * 12;
        if (at + 12 > n) return 1;
        if (rd16(x + at, le) != 0x0112) continue;
        unsigned type = rd16(x + at + 2, le);
        unsigned v = type == 3 ? rd16(x + at + 8, le) : type == 4 ? (unsigned)rd32(x + at + 8, le) : 1;
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}

void image_apply_orientation(Image *im, int o) {
    if (o < 2 || o > 8 || !im->data) return;
    int W = im->width, H = im->height, C = im->channels;
    int swap = o >= 5;
    int dw = swap ? H : W, dh = swap ? W : H;
    uint8_t *dst = malloc((size_t)dw * dh * C);
    if (!dst) return;
    for (int y = 0; y < dh; y++) {
        for (int x = 0; x < dw; x++) {
            int sx, sy;
            switch (o) {
            case 2: sx = W - 1 - x; sy = y; break;
            case 3: sx = W - 1 - x; sy = H - 1 - y; break;
            case 4: sx = x; sy = H - 1 - y; break;
            case 5: sx = y; sy = x; break;
            case 6: sx = y; sy = H - 1 - x; break;
            case 7: sx = W - 1 - y; sy = H - 1 - x; break;
            default: sx = W - 1 - y; sy = x; break; /* 8 */
            }
            memcpy(dst + ((size_t)y * dw + x) * C, im->data + ((size_t)sy * W + sx) * C, (size_t)C);
        }
    }
    free(im->data);
    im->data = dst; im->width = dw; im->height = dh;
}

/* ---------- JPEG ---------- */

typedef struct JpegErr {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
    int truncated;
} JpegErr;

static void jpeg_fail(j_common_ptr c) {
    JpegErr *je = (JpegErr *)c->err;
    c->err->format_message(c, je->msg);
    longjmp(je->jump, 1);
}

/* Warnings are tolerated (PIL tolerates them too) except the premature end of data, which
 * libjpeg would paper over with grey rows while PIL raises "image file is truncated". */
static void jpeg_message(j_common_ptr c, int level) {
    JpegErr *je = (JpegErr *)c->err;
    if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF && !je->truncated) {
        je->truncated = 1;
        c->err->format_message(c, je->msg);
    }
}

/* PIL's cmyk2rgb: channel = (255-K) - ink*(255-K)/255 with its rounded division by 255. */
static uint8_t cmyk_channel(unsigned ink, unsigned nk) {
    unsigned t = ink * nk + 128;
    unsigned m = ((t >> 8) + t) >> 8;
    return (uint8_t)(nk - m);
}

/* A pixel loop tells a coverage-guided fuzzer nothing, yet its per-pixel coverage callbacks made
 * large CMYK images the fuzz target's bottleneck (150 inputs/s): clang's fuzz build leaves it
 * uninstrumented for coverage (ASan still checks it); not inlined, or the caller would instrument it. */
#if defined(__clang__)
#define NO_COVERAGE __attribute__((no_sanitize("coverage"), noinline))
#else
#define NO_COVERAGE
#endif

/* One row of CMYK (or Adobe-inverted CMYK) samples [W, 4] to RGB [W, 3]. */
NO_COVERAGE static void cmyk_row_to_rgb(const uint8_t *row, int W, int inverted, uint8_t *d) {
    for (int x = 0; x < W; x++) {
        const uint8_t *s = row + 4 * x;
        unsigned c = s[0], m = s[1], yy = s[2], k = s[3];
        if (inverted) { c = 255 - c; m = 255 - m; yy = 255 - yy; k = 255 - k; }
        unsigned nk = 255 - k;
        d[3 * x] = cmyk_channel(c, nk);
        d[3 * x + 1] = cmyk_channel(m, nk);
        d[3 * x + 2] = cmyk_channel(yy, nk);
    }
}

static int jpeg_decode(const uint8_t *buf, size_t n, const char *name, uint64_t max_pixels, Image *out, Err *e) {
    struct jpeg_decompress_struct cinfo;
    JpegErr je;
    memset(&je, 0, sizeof je);
    cinfo.err = jpeg_std_error(&je.mgr);
    je.mgr.error_exit = jpeg_fail;
    je.mgr.emit_message = jpeg_message;
    uint8_t *volatile pixels = NULL, *volatile row = NULL;
    if (setjmp(je.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(pixels); free(row);
        return err_set(e, "%s: corrupt JPEG: %s", name, je.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, buf, (unsigned long)n);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&cinfo, TRUE);
    if (too_big(cinfo.image_width, cinfo.image_height, max_pixels)) {
        snprintf(je.msg, sizeof je.msg, "%ux%u pixels exceed the decompression-bomb limit of %llu pixels",
                 (unsigned)cinfo.image_width, (unsigned)cinfo.image_height, (unsigned long long)max_pixels);
        longjmp(je.jump, 1);
    }
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    /* Photoshop stores CMYK inverted, and PIL reads EVERY 4-component JPEG that way ("CMYK;I",
     * with or without the Adobe marker); SimpleTuner trains on what PIL gives, so we do the same. */
    int adobe_inverted = cmyk;
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    int W = (int)cinfo.output_width, H = (int)cinfo.output_height, C = cinfo.output_components;
    if ((cmyk && C != 4) || (!cmyk && C != 3)) {
        snprintf(je.msg, sizeof je.msg, "unexpected %d output components", C);
        longjmp(je.jump, 1);
    }
    pixels = malloc((size_t)W * H * 3);
    row = malloc((size_t)W * C);
    if (!pixels || !row) { snprintf(je.msg, sizeof je.msg, "out of memory for %dx%d", W, H); longjmp(je.jump, 1); }
    /* stops at the end of the data: libjpeg would go on making grey rows for every row the header
     * claims (seconds for a 136-byte file claiming 45073 rows), and the image is refused anyway */
    while (cinfo.output_scanline < cinfo.output_height && !je.truncated) {
        int y = (int)cinfo.output_scanline;
        JSAMPROW rp = (JSAMPROW)row;
        jpeg_read_scanlines(&cinfo, &rp, 1);
        uint8_t *d = pixels + (size_t)y * W * 3;
        if (!cmyk) { memcpy(d, row, (size_t)W * 3); continue; }
        cmyk_row_to_rgb(row, W, adobe_inverted, d);
    }
    if (je.truncated) longjmp(je.jump, 1);
    int orientation = 1;
    for (jpeg_saved_marker_ptr mk = cinfo.marker_list; mk; mk = mk->next)
        if (mk->marker == JPEG_APP0 + 1 && mk->data_length >= 6 && !memcmp(mk->data, "Exif\0\0", 6)) {
            orientation = exif_orientation(mk->data, mk->data_length);
            break;
        }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    out->width = W; out->height = H; out->channels = 3; out->data = pixels;
    image_apply_orientation(out, orientation);
    return 0;
}

/* ---------- PNG ---------- */

typedef struct PngSrc { const uint8_t *p; size_t n, at; char msg[256]; } PngSrc;

static void png_fail(png_structp png, png_const_charp msg) {
    PngSrc *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    png_longjmp(png, 1);
}
static void png_quiet(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

static void png_read_mem(png_structp png, png_bytep out, png_size_t len) {
    PngSrc *s = png_get_io_ptr(png);
    if (len > s->n - s->at) png_error(png, "unexpected end of data (truncated file)");
    memcpy(out, s->p + s->at, len);
    s->at += len;
}

static int png_decode(const uint8_t *buf, size_t n, const char *name, uint64_t max_pixels, Image *out, Err *e) {
    PngSrc src = { buf, n, 0, "" };
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_fail, png_quiet);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) { png_destroy_read_struct(&png, NULL, NULL); return err_set(e, "%s: out of memory", name); }
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(pixels); free(rows);
        return err_set(e, "%s: corrupt PNG: %s", name, src.msg);
    }
    png_set_read_fn(png, &src, png_read_mem);
    png_read_info(png, info);
    png_uint_32 W = png_get_image_width(png, info), H = png_get_image_height(png, info);
    if (too_big(W, H, max_pixels)) {
        snprintf(src.msg, sizeof src.msg, "%ux%u pixels exceed the decompression-bomb limit of %llu pixels", (unsigned)W, (unsigned)H, (unsigned long long)max_pixels);
        png_longjmp(png, 1);
    }
    int ct = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if (ct == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (ct == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_strip_16(png);          /* high byte, as PIL's RGB;16B */
    if (ct & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png); /* dropped, as convert("RGB") */
    if (ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)W * 3) png_error(png, "unexpected row layout after conversion to RGB");
    pixels = malloc((size_t)W * H * 3);
    rows = malloc(sizeof(png_bytep) * H);
    if (!pixels || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < H; y++) rows[y] = pixels + (size_t)y * W * 3;
    png_read_image(png, rows);
    png_read_end(png, info);
    int orientation = 1;
#ifdef PNG_eXIf_SUPPORTED
    png_bytep exif = NULL;
    png_uint_32 exif_len = 0;
    if (png_get_eXIf_1(png, info, &exif_len, &exif) && exif) orientation = exif_orientation(exif, exif_len);
#endif
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    out->width = (int)W; out->height = (int)H; out->channels = 3; out->data = pixels;
    image_apply_orientation(out, orientation);
    return 0;
}

/* ---------- WebP ---------- */

static int webp_decode(const uint8_t *buf, size_t n, const char *name, uint64_t max_pixels, Image *out, Err *e) {
    WebPBitstreamFeatures f;
    VP8StatusCode st = WebPGetFeatures(buf, n, &f);
    if (st != VP8_STATUS_OK) return err_set(e, "%s: corrupt WebP: cannot read header (status %d)", name, (int)st);
    if (f.has_animation) return err_set(e, "%s: not supported yet: animated WebP", name);
    if (too_big((uint64_t)f.width, (uint64_t)f.height, max_pixels))
        return err_set(e, "%s: corrupt WebP: %dx%d pixels exceed the decompression-bomb limit of %llu pixels", name, f.width, f.height, (unsigned long long)max_pixels);
    int W = 0, H = 0;
    uint8_t *rgb = WebPDecodeRGB(buf, n, &W, &H); /* alpha is dropped, not composited */
    if (!rgb) return err_set(e, "%s: corrupt WebP: decoding failed (truncated or damaged data)", name);
    out->width = W; out->height = H; out->channels = 3;
    out->data = malloc((size_t)W * H * 3);
    if (!out->data) { WebPFree(rgb); return err_set(e, "%s: out of memory", name); }
    memcpy(out->data, rgb, (size_t)W * H * 3);
    WebPFree(rgb);
    int orientation = 1;
    WebPData data = { buf, n };
    WebPDemuxer *dmx = WebPDemux(&data);
    if (dmx) {
        WebPChunkIterator it;
        if (WebPDemuxGetChunk(dmx, "EXIF", 1, &it)) {
            orientation = exif_orientation(it.chunk.bytes, it.chunk.size);
            WebPDemuxReleaseChunkIterator(&it);
        }
        WebPDemuxDelete(dmx);
    }
    image_apply_orientation(out, orientation);
    return 0;
}

int image_decode_limited(const uint8_t *buf, size_t n, const char *name, uint64_t max_pixels, Image *out, Err *e) {
    memset(out, 0, sizeof *out);
    switch (image_format_sniff(buf, n)) {
    case IMAGE_FORMAT_JPEG: return jpeg_decode(buf, n, name, max_pixels, out, e);
    case IMAGE_FORMAT_PNG: return png_decode(buf, n, name, max_pixels, out, e);
    case IMAGE_FORMAT_WEBP: return webp_decode(buf, n, name, max_pixels, out, e);
    default:
        if (n == 0) return err_set(e, "%s: empty file, expected a JPEG, PNG or WebP image", name);
        return err_set(e, "%s: not a JPEG, PNG or WebP image (unrecognised file signature)", name);
    }
}

int image_decode(const uint8_t *buf, size_t n, const char *name, Image *out, Err *e) {
    return image_decode_limited(buf, n, name, IMAGE_MAX_PIXELS, out, e);
}

int image_read(const char *path, Image *out, Err *e) {
    size_t n = 0;
    char *buf = file_read_all(path, &n, e);
    if (!buf) { memset(out, 0, sizeof *out); return -1; }
    int rc = image_decode((const uint8_t *)buf, n, path, out, e);
    free(buf);
    return rc;
}

int image_crop(const Image *src, int x, int y, int w, int h, Image *out, Err *e) {
    memset(out, 0, sizeof *out);
    if (x < 0 || y < 0 || w <= 0 || h <= 0 || x + w > src->width || y + h > src->height)
        return err_set(e, "crop %dx%d at (%d, %d) does not fit in a %dx%d image", w, h, x, y, src->width, src->height);
    int C = src->channels;
    out->data = xmalloc((size_t)w * h * C);
    out->width = w; out->height = h; out->channels = C;
    for (int r = 0; r < h; r++)
        memcpy(out->data + (size_t)r * w * C, src->data + ((size_t)(y + r) * src->width + x) * C, (size_t)w * C);
    return 0;
}

/* ---------- PNG writing ---------- */

typedef struct PngSink { uint8_t *p; size_t n, cap; char msg[256]; } PngSink;

static void png_write_mem(png_structp png, png_bytep data, png_size_t len) {
    PngSink *s = png_get_io_ptr(png);
    if (s->n + len > s->cap) {
        size_t cap = s->cap ? s->cap : 1 << 16;
        while (cap < s->n + len) cap *= 2;
        s->p = xrealloc(s->p, cap); s->cap = cap;
    }
    memcpy(s->p + s->n, data, len);
    s->n += len;
}
static void png_flush_mem(png_structp png) { (void)png; }
static void png_wfail(png_structp png, png_const_charp msg) {
    PngSink *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    png_longjmp(png, 1);
}

int image_encode_png(const void *data, int W, int H, int C, int depth, uint8_t **out, size_t *len, Err *e) {
    if (W <= 0 || H <= 0 || (C != 1 && C != 3 && C != 4) || (depth != 8 && depth != 16))
        return err_set(e, "PNG encode: unsupported image %dx%d with %d channels at %d bits", W, H, C, depth);
    PngSink sink = { 0 };
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, png_wfail, png_quiet);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) { png_destroy_write_struct(&png, NULL); return err_set(e, "PNG encode: out of memory"); }
    uint8_t *volatile row = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(sink.p); free(row);
        return err_set(e, "PNG encode failed: %s", sink.msg);
    }
    png_set_write_fn(png, &sink, png_write_mem, png_flush_mem);
    int ct = C == 1 ? PNG_COLOR_TYPE_GRAY : C == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_RGBA;
    png_set_IHDR(png, info, (png_uint_32)W, (png_uint_32)H, depth, ct, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 6);
    png_write_info(png, info);
    size_t rowbytes = (size_t)W * C * (depth / 8);
    row = malloc(rowbytes);
    if (!row) png_error(png, "out of memory");
    for (int y = 0; y < H; y++) {
        if (depth == 8) {
            memcpy(row, (const uint8_t *)data + (size_t)y * rowbytes, rowbytes);
        } else { /* PNG stores 16-bit samples big-endian */
            const uint16_t *s = (const uint16_t *)data + (size_t)y * W * C;
            for (size_t i = 0; i < (size_t)W * C; i++) { row[2 * i] = (uint8_t)(s[i] >> 8); row[2 * i + 1] = (uint8_t)s[i]; }
        }
        png_write_row(png, row);
    }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(row);
    *out = sink.p; *len = sink.n;
    return 0;
}

static int png_write_file(const char *path, const void *data, int W, int H, int C, int depth, Err *e) {
    uint8_t *buf = NULL; size_t n = 0;
    if (image_encode_png(data, W, H, C, depth, &buf, &n, e)) return err_prefix(e, "%s", path);
    int rc = file_write_atomic(path, buf, n, e);
    free(buf);
    return rc;
}

int image_write_png(const char *path, const Image *im, Err *e) {
    return png_write_file(path, im->data, im->width, im->height, im->channels, 8, e);
}

int image_write_png16(const char *path, int W, int H, int C, const uint16_t *data, Err *e) {
    return png_write_file(path, data, W, H, C, 16, e);
}
