/* Image decoding: every colour type to RGB8 as PIL's convert("RGB") + exif_transpose gives it,
 * EXIF orientation in JPEG/PNG/WebP, corrupt files reported by path, PNG 8/16-bit round trips.
 * All fixtures are written here with libjpeg / libpng / libwebp. */
#include "test_util.h"
#include "image/image_io.h"
#include "base/files.h"
#include <jpeglib.h>
#include <png.h>
#include <webp/encode.h>

/* A 3x2 image with six distinct colours: A B C / D E F. */
static const uint8_t SIX[6][3] = { {255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 0}, {0, 255, 255}, {255, 0, 255} };
static void six_rgb(uint8_t *px) { for (int i = 0; i < 6; i++) memcpy(px + 3 * i, SIX[i], 3); }

/* TIFF EXIF block holding only an orientation tag (big-endian "MM"), prefixed with "Exif\0\0". */
static size_t exif_block(uint8_t *b, int orientation, int with_prefix) {
    size_t k = 0;
    if (with_prefix) { memcpy(b, "Exif\0\0", 6); k = 6; }
    const uint8_t tiff[] = { 'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, (uint8_t)orientation, 0, 0, 0, 0, 0, 0 };
    memcpy(b + k, tiff, sizeof tiff);
    return k + sizeof tiff;
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb"); assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* libpng writer for any colour type / depth, with optional palette and eXIf. */
static void write_png_raw(const char *path, int W, int H, int ct, int depth, const uint8_t *rows_data, size_t rowbytes,
                          const png_color *palette, int npal, int orientation, int interlace) {
    FILE *f = fopen(path, "wb"); assert_non_null(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_init_io(png, f);
    png_set_IHDR(png, info, W, H, depth, ct, interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (palette) png_set_PLTE(png, info, palette, npal);
    if (orientation > 1) {
        uint8_t ex[64]; size_t n = exif_block(ex, orientation, 0);
        png_set_eXIf_1(png, info, (png_uint_32)n, ex);
    }
    png_write_info(png, info);
    png_bytep *rows = malloc(sizeof(png_bytep) * H);
    for (int y = 0; y < H; y++) rows[y] = (png_bytep)rows_data + (size_t)y * rowbytes;
    png_write_image(png, rows);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(rows);
    fclose(f);
}

/* JPEG writer: components 1 (gray), 3 (RGB) or 4 (CMYK, written with libjpeg's Adobe marker);
 * an APP1 EXIF marker with the orientation when > 1. */
static void write_jpeg_opt(const char *path, int W, int H, int comps, const uint8_t *px, int orientation, int adobe) {
    FILE *f = fopen(path, "wb"); assert_non_null(f);
    struct jpeg_compress_struct c; struct jpeg_error_mgr jerr;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = W; c.image_height = H; c.input_components = comps;
    c.in_color_space = comps == 1 ? JCS_GRAYSCALE : comps == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 100, TRUE);
    if (comps == 4 && !adobe) c.write_Adobe_marker = FALSE;
    if (comps == 3) { /* no chroma subsampling so flat colours survive exactly enough */
        c.comp_info[0].h_samp_factor = c.comp_info[0].v_samp_factor = 1;
    }
    jpeg_start_compress(&c, TRUE);
    if (orientation > 1) {
        uint8_t ex[64]; size_t n = exif_block(ex, orientation, 1);
        jpeg_write_marker(&c, JPEG_APP0 + 1, ex, (unsigned)n);
    }
    while (c.next_scanline < c.image_height) {
        JSAMPROW r = (JSAMPROW)(px + (size_t)c.next_scanline * W * comps);
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
}

static void write_jpeg(const char *path, int W, int H, int comps, const uint8_t *px, int orientation) {
    write_jpeg_opt(path, W, H, comps, px, orientation, 1);
}

static void put32le(uint8_t *p, uint32_t v) { p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24; }

/* Lossless WebP; with orientation > 1, rebuilt as an extended (VP8X) file with an EXIF chunk. */
static void write_webp(const char *path, int W, int H, const uint8_t *px, int channels, int orientation) {
    uint8_t *out = NULL;
    size_t n = channels == 4 ? WebPEncodeLosslessRGBA(px, W, H, W * 4, &out) : WebPEncodeLosslessRGB(px, W, H, W * 3, &out);
    assert_true(n > 12);
    if (orientation <= 1) { write_bytes(path, out, n); WebPFree(out); return; }
    uint8_t ex[64]; size_t exn = exif_block(ex, orientation, 0);
    size_t img = n - 12, exp = exn + (exn & 1);
    size_t total = 12 + 18 + img + 8 + exp;
    uint8_t *b = calloc(1, total);
    memcpy(b, "RIFF", 4); put32le(b + 4, (uint32_t)(total - 8)); memcpy(b + 8, "WEBP", 4);
    memcpy(b + 12, "VP8X", 4); put32le(b + 16, 10);
    b[20] = 0x08; /* EXIF present */
    b[24] = (W - 1) & 255; b[25] = ((W - 1) >> 8) & 255; b[26] = ((W - 1) >> 16) & 255;
    b[27] = (H - 1) & 255; b[28] = ((H - 1) >> 8) & 255; b[29] = ((H - 1) >> 16) & 255;
    memcpy(b + 30, out + 12, img);
    memcpy(b + 30 + img, "EXIF", 4); put32le(b + 34 + img, (uint32_t)exn);
    memcpy(b + 38 + img, ex, exn);
    write_bytes(path, b, total);
    free(b); WebPFree(out);
}

/* CRC-32 as PNG chunks use it (bitwise; only for hand-edited fixtures). */
static uint32_t crc32_png(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

static void expect_pixels(const Image *im, int W, int H, const uint8_t (*px)[3], int tol) {
    assert_int_equal(im->width, W); assert_int_equal(im->height, H); assert_int_equal(im->channels, 3);
    for (int i = 0; i < W * H; i++)
        for (int c = 0; c < 3; c++) {
            int d = abs((int)im->data[3 * i + c] - (int)px[i][c]);
            if (d > tol) fail_msg("pixel %d channel %d: got %d expected %d", i, c, im->data[3 * i + c], px[i][c]);
        }
}

static char *tmp_path(const char *dir, const char *name) { return path_join(dir, name); }

static void test_png_color_types(void **state) {
    (void)state;
    char *d = tmpdir_make();
    Err e = {0};
    Image im;
    /* RGB 8 */
    uint8_t rgb[18]; six_rgb(rgb);
    char *p = tmp_path(d, "rgb.png");
    write_png_raw(p, 3, 2, PNG_COLOR_TYPE_RGB, 8, rgb, 9, NULL, 0, 1, 0);
    assert_int_equal(image_read(p, &im, &e), 0);
    expect_pixels(&im, 3, 2, SIX, 0); image_free(&im); free(p);
    /* RGBA: alpha dropped, not composited on white */
    uint8_t rgba[24];
    for (int i = 0; i < 6; i++) { memcpy(rgba + 4 * i, SIX[i], 3); rgba[4 * i + 3] = (uint8_t)(i * 40); }
    p = tmp_path(d, "rgba.png");
    write_png_raw(p, 3, 2, PNG_COLOR_TYPE_RGBA, 8, rgba, 12, NULL, 0, 1, 0);
    assert_int_equal(image_read(p, &im, &e), 0);
    expect_pixels(&im, 3, 2, SIX, 0); image_free(&im); free(p);
    /* 16-bit RGB: high byte */
    uint8_t rgb16[36];
    for (int i = 0; i < 18; i++) { rgb16[2 * i] = rgb[i]; rgb16[2 * i + 1] = 0xAB; }
    p = tmp_path(d, "rgb16.png");
    write_png_raw(p, 3, 2, PNG_COLOR_TYPE_RGB, 16, rgb16, 18, NULL, 0, 1, 0);
    assert_int_equal(image_read(p, &im, &e), 0);
    expect_pixels(&im, 3, 2, SIX, 0); image_free(&im); free(p);
    /* gray 8 and gray+alpha: replicated */
    uint8_t gray[6] = { 0, 50, 100, 150, 200, 255 }, ga[12];
    uint8_t grey3[6][3];
    for (int i = 0; i < 6; i++) { grey3[i][0] = grey3[i][1] = grey3[i][2] = gray[i]; ga[2 * i] = gray[i]; ga[2 * i + 1] = 7; }
    p = tmp_path(d, "gray.png");
    write_png_raw(p, 3, 2, PNG_COLOR_TYPE_GRAY, 8, gray, 3, NULL, 0, 1, 0);
    assert_int_equal(image_read(p, &im, &e), 0);
    expect_pixels(&im, 3, 2, (const uint8_t (*)[3])grey3, 0); image_free(&im); free(p);
    p = tmp_path(d, "ga.png");
    write_png_raw(p, 3, 2, PNG_COLOR_TYPE_GRAY_ALPHA, 8, ga, 6, NULL, 0, 1, 1 /* interlaced too */);
    assert_int_equal(image_read(p, &im, &e), 0);
    expect_pixels(&im, 3, 2, (const uint8_t (*)[3])grey3, 0); image_free(&im); free(p);
    /* gray 16-bit */
    uint8_t g16[12];
    for (int i = 0; i < 6; i++) { g16[2 * i] = gray[i]; g16[2 * i + 1] = 0x80; }
    p = tmp_path(d, "gray16.png");
    write_png_raw(p, 3, 2, PNG_COLOR_TYPE_GRAY, 16, g16, 6, NULL, 0, 1, 0);
    assert_int_equal(image_read(p, &im, &e), 0);
    expect_pixels(&im, 3, 2, (const uint8_t (*)[3])grey3, 0); image_free(&im); free(p);
    /* 1-bit gray: 0 / 255 */
    uint8_t bits[2] = { 0xA0, 0x40 }; /* row0: 1 0 1, row1: 0 1 0 */
    const uint8_t bw[6][3] = { {255,255,255}, {0,0,0}, {255,255,255}, {0,0,0}, {255,255,255}, {0,0,0} };
    p = tmp_path(d, "bw.png");
    write_png_raw(p, 3, 2, PNG_COLOR_TYPE_GRAY, 1, bits, 1, NULL, 0, 1, 0);
    assert_int_equal(image_read(p, &im, &e), 0);
    expect_pixels(&im, 3, 2, bw, 0); image_free(&im); free(p);
    /* palette (4-bit indices) */
    png_color pal[6];
    for (int i = 0; i < 6; i++) { pal[i].red = SIX[5 - i][0]; pal[i].green = SIX[5 - i][1]; pal[i].blue = SIX[5 - i][2]; }
    uint8_t idx[4] = { 0x54, 0x30, 0x21, 0x00 }; /* rows of 3 4-bit indices: 5 4 3 / 2 1 0 */
    p = tmp_path(d, "pal.png");
    write_png_raw(p, 3, 2, PNG_COLOR_TYPE_PALETTE, 4, idx, 2, pal, 6, 1, 0);
    assert_int_equal(image_read(p, &im, &e), 0);
    expect_pixels(&im, 3, 2, SIX, 0); image_free(&im); free(p);
    tmpdir_remove(d);
}

static void test_orientation_png_jpeg_webp(void **state) {
    (void)state;
    char *d = tmpdir_make();
    Err e = {0};
    Image im;
    uint8_t rgb[18]; six_rgb(rgb);
    /* A B C / D E F rotated: 6 = 90° clockwise -> D A / E B / F C; 8 = counter-clockwise -> C F / B E / A D;
     * 3 = 180° -> F E D / C B A; 2 = mirror -> C B A / F E D; 5 = transpose -> A D / B E / C F. */
    const uint8_t r6[6][3] = { {255,255,0}, {255,0,0}, {0,255,255}, {0,255,0}, {255,0,255}, {0,0,255} };
    const uint8_t r8[6][3] = { {0,0,255}, {255,0,255}, {0,255,0}, {0,255,255}, {255,0,0}, {255,255,0} };
    const uint8_t r3[6][3] = { {255,0,255}, {0,255,255}, {255,255,0}, {0,0,255}, {0,255,0}, {255,0,0} };
    const uint8_t r2[6][3] = { {0,0,255}, {0,255,0}, {255,0,0}, {255,0,255}, {0,255,255}, {255,255,0} };
    const uint8_t r5[6][3] = { {255,0,0}, {255,255,0}, {0,255,0}, {0,255,255}, {0,0,255}, {255,0,255} };
    char *p = tmp_path(d, "o6.png");
    write_png_raw(p, 3, 2, PNG_COLOR_TYPE_RGB, 8, rgb, 9, NULL, 0, 6, 0);
    assert_int_equal(image_read(p, &im, &e), 0);
    expect_pixels(&im, 2, 3, r6, 0); image_free(&im); free(p);
    p = tmp_path(d, "o8.webp");
    write_webp(p, 3, 2, rgb, 3, 8);
    assert_int_equal(image_read(p, &im, &e), 0);
    expect_pixels(&im, 2, 3, r8, 0); image_free(&im); free(p);
    p = tmp_path(d, "o3.webp");
    write_webp(p, 3, 2, rgb, 3, 3);
    assert_int_equal(image_read(p, &im, &e), 0);
    expect_pixels(&im, 3, 2, r3, 0); image_free(&im); free(p);
    /* JPEG: 16x8 blocks of flat colour so lossy coding keeps them; check the block layout. */
    uint8_t big[16 * 8 * 3];
    for (int y = 0; y < 8; y++) for (int x = 0; x < 16; x++) {
        int k = (y / 4) * 3 + (x * 3 / 16); /* 3 columns x 2 rows of blocks (widths 6,5,5) */
        memcpy(big + (y * 16 + x) * 3, SIX[k], 3);
    }
    for (int o = 1; o <= 8; o++) {
        char name[32]; snprintf(name, sizeof name, "o%d.jpg", o);
        p = tmp_path(d, name);
        write_jpeg(p, 16, 8, 3, big, o);
        assert_int_equal(image_read(p, &im, &e), 0);
        if (o >= 5) { assert_int_equal(im.width, 8); assert_int_equal(im.height, 16); }
        else { assert_int_equal(im.width, 16); assert_int_equal(im.height, 8); }
        /* sample the corner pixels: they sit inside flat blocks */
        const uint8_t (*want)[3] = o == 6 ? r6 : o == 8 ? r8 : o == 3 ? r3 : o == 2 ? r2 : o == 5 ? r5 : NULL;
        if (want) {
            int W = im.width, H = im.height;
            const uint8_t *tl = im.data, *br = im.data + ((size_t)(H - 1) * W + W - 1) * 3;
            int nw = o >= 5 ? 2 : 3, nh = o >= 5 ? 3 : 2;
            for (int c = 0; c < 3; c++) {
                assert_true(abs(tl[c] - want[0][c]) <= 3);
                assert_true(abs(br[c] - want[nw * nh - 1][c]) <= 3);
            }
        }
        image_free(&im); free(p);
    }
    tmpdir_remove(d);
}

static void test_jpeg_gray_and_cmyk(void **state) {
    (void)state;
    char *d = tmpdir_make();
    Err e = {0};
    Image im;
    uint8_t g[8 * 8];
    memset(g, 77, sizeof g);
    char *p = tmp_path(d, "g.jpg");
    write_jpeg(p, 8, 8, 1, g, 1);
    assert_int_equal(image_read(p, &im, &e), 0);
    assert_int_equal(im.channels, 3);
    for (int i = 0; i < 64 * 3; i++) assert_true(abs(im.data[i] - 77) <= 1);
    image_free(&im); free(p);
    /* Photoshop-style CMYK: stored inverted with an Adobe marker (libjpeg writes one for CMYK).
     * C=0 M=128 Y=255 K=64 -> PIL: R = 191, G = 191 - 128*191/255 = 95, B = 0. */
    uint8_t cmyk[8 * 8 * 4];
    for (int i = 0; i < 64; i++) { cmyk[4 * i] = 255 - 0; cmyk[4 * i + 1] = 255 - 128; cmyk[4 * i + 2] = 255 - 255; cmyk[4 * i + 3] = 255 - 64; }
    p = tmp_path(d, "cmyk.jpg");
    write_jpeg(p, 8, 8, 4, cmyk, 1);
    assert_int_equal(image_read(p, &im, &e), 0);
    assert_int_equal(im.channels, 3);
    for (int i = 0; i < 64; i++) {
        assert_true(abs(im.data[3 * i] - 191) <= 2);
        assert_true(abs(im.data[3 * i + 1] - 95) <= 2);
        assert_true(im.data[3 * i + 2] <= 2);
    }
    image_free(&im); free(p);
    /* without an Adobe marker PIL still reads the samples as inverted: same colours */
    p = tmp_path(d, "cmyk_plain.jpg");
    write_jpeg_opt(p, 8, 8, 4, cmyk, 1, 0);
    assert_int_equal(image_read(p, &im, &e), 0);
    for (int i = 0; i < 64; i++) {
        assert_true(abs(im.data[3 * i] - 191) <= 2);
        assert_true(abs(im.data[3 * i + 1] - 95) <= 2);
        assert_true(im.data[3 * i + 2] <= 2);
    }
    image_free(&im); free(p);
    tmpdir_remove(d);
}

static void test_webp_alpha_dropped(void **state) {
    (void)state;
    char *d = tmpdir_make();
    Err e = {0};
    Image im;
    uint8_t rgba[24];
    for (int i = 0; i < 6; i++) { memcpy(rgba + 4 * i, SIX[i], 3); rgba[4 * i + 3] = 255 - (uint8_t)(i * 50); }
    char *p = tmp_path(d, "a.WEBP");
    write_webp(p, 3, 2, rgba, 4, 1);
    assert_int_equal(image_read(p, &im, &e), 0);
    /* lossless WebP may alter RGB under alpha < 255 only when alpha is 0; none is 0 here */
    expect_pixels(&im, 3, 2, SIX, 0);
    image_free(&im); free(p);
    tmpdir_remove(d);
}

static void test_corrupt_files_named(void **state) {
    (void)state;
    char *d = tmpdir_make();
    Err e = {0};
    Image im;
    char msg[2048];
    /* truncated JPEG */
    uint8_t big[32 * 32 * 3];
    for (int i = 0; i < (int)sizeof big; i++) big[i] = (uint8_t)(i * 7);
    char *p = tmp_path(d, "t.jpg");
    write_jpeg(p, 32, 32, 3, big, 1);
    size_t n; char *buf = file_read_all(p, &n, &e);
    write_bytes(p, buf, n / 2);
    assert_int_equal(image_read(p, &im, &e), -1);
    snprintf(msg, sizeof msg, "%s: corrupt JPEG: Premature end of JPEG file", p);
    assert_string_equal(e.msg, msg);
    assert_null(im.data);
    free(buf); free(p);
    /* truncated PNG */
    p = tmp_path(d, "t.png");
    Image src = { 32, 32, 3, big };
    assert_int_equal(image_write_png(p, &src, &e), 0);
    buf = file_read_all(p, &n, &e);
    write_bytes(p, buf, n - 20);
    assert_int_equal(image_read(p, &im, &e), -1);
    snprintf(msg, sizeof msg, "%s: corrupt PNG: unexpected end of data (truncated file)", p);
    assert_string_equal(e.msg, msg);
    free(buf); free(p);
    /* PNG with a broken CRC in IHDR */
    p = tmp_path(d, "crc.png");
    assert_int_equal(image_write_png(p, &src, &e), 0);
    buf = file_read_all(p, &n, &e);
    buf[16] ^= 0x55;
    write_bytes(p, buf, n);
    assert_int_equal(image_read(p, &im, &e), -1);
    snprintf(msg, sizeof msg, "%s: corrupt PNG: IHDR: CRC error", p);
    assert_string_equal(e.msg, msg);
    free(buf); free(p);
    /* truncated WebP */
    p = tmp_path(d, "t.webp");
    write_webp(p, 32, 32, big, 3, 1);
    buf = file_read_all(p, &n, &e);
    write_bytes(p, buf, n / 2);
    assert_int_equal(image_read(p, &im, &e), -1);
    snprintf(msg, sizeof msg, "%s: corrupt WebP: decoding failed (truncated or damaged data)", p);
    assert_string_equal(e.msg, msg);
    free(buf); free(p);
    /* a header claiming 60000x60000 pixels is refused before any allocation, as PIL does */
    p = tmp_path(d, "bomb.png");
    uint8_t one[3] = { 1, 2, 3 };
    write_png_raw(p, 1, 1, PNG_COLOR_TYPE_RGB, 8, one, 3, NULL, 0, 1, 0);
    buf = file_read_all(p, &n, &e);
    /* IHDR width/height at bytes 16..23, then its CRC over bytes 12..28 */
    const uint8_t dims[8] = { 0, 0, 0xEA, 0x60, 0, 0, 0xEA, 0x60 };
    memcpy(buf + 16, dims, 8);
    uint32_t crc = crc32_png((const uint8_t *)buf + 12, 17);
    buf[29] = (char)(crc >> 24); buf[30] = (char)(crc >> 16); buf[31] = (char)(crc >> 8); buf[32] = (char)crc;
    write_bytes(p, buf, n);
    assert_int_equal(image_read(p, &im, &e), -1);
    snprintf(msg, sizeof msg, "%s: corrupt PNG: 60000x60000 pixels exceed the decompression-bomb limit of 178956970 pixels", p);
    assert_string_equal(e.msg, msg);
    free(buf); free(p);
    /* not an image, empty, missing */
    p = tmp_path(d, "x.png");
    write_text(p, "hello, not a png");
    assert_int_equal(image_read(p, &im, &e), -1);
    snprintf(msg, sizeof msg, "%s: not a JPEG, PNG or WebP image (unrecognised file signature)", p);
    assert_string_equal(e.msg, msg);
    write_text(p, "");
    assert_int_equal(image_read(p, &im, &e), -1);
    snprintf(msg, sizeof msg, "%s: empty file, expected a JPEG, PNG or WebP image", p);
    assert_string_equal(e.msg, msg);
    free(p);
    p = tmp_path(d, "missing.jpg");
    assert_int_equal(image_read(p, &im, &e), -1);
    snprintf(msg, sizeof msg, "%s: cannot open: No such file or directory", p);
    assert_string_equal(e.msg, msg);
    free(p);
    tmpdir_remove(d);
}

static void test_png_write_roundtrip_8_and_16(void **state) {
    (void)state;
    char *d = tmpdir_make();
    Err e = {0};
    uint8_t rgb[18]; six_rgb(rgb);
    Image src = { 3, 2, 3, rgb }, im;
    char *p = tmp_path(d, "w8.png");
    assert_int_equal(image_write_png(p, &src, &e), 0);
    assert_int_equal(image_read(p, &im, &e), 0);
    expect_pixels(&im, 3, 2, SIX, 0); image_free(&im); free(p);
    /* 16-bit: check the stored samples with libpng directly (big-endian, full precision) */
    uint16_t v[6] = { 0, 1, 258, 40000, 65535, 12345 };
    p = tmp_path(d, "w16.png");
    assert_int_equal(image_write_png16(p, 3, 2, 1, v, &e), 0);
    /* check the header says 16-bit gray */
    size_t n; char *buf = file_read_all(p, &n, &e);
    assert_non_null(buf);
    assert_int_equal(buf[24], 16); /* IHDR bit depth */
    assert_int_equal(buf[25], 0);  /* gray */
    free(buf);
    Image im16;
    assert_int_equal(image_read(p, &im16, &e), 0); /* decodes to the high byte */
    const uint8_t hb[6][3] = { {0,0,0}, {0,0,0}, {1,1,1}, {156,156,156}, {255,255,255}, {48,48,48} };
    expect_pixels(&im16, 3, 2, hb, 0);
    image_free(&im16); free(p);
    /* bad parameters are an error, not a crash */
    uint8_t *out; size_t len;
    assert_int_equal(image_encode_png(rgb, 3, 2, 2, 8, &out, &len, &e), -1);
    assert_string_equal(e.msg, "PNG encode: unsupported image 3x2 with 2 channels at 8 bits");
    tmpdir_remove(d);
}

static void test_crop(void **state) {
    (void)state;
    uint8_t rgb[18]; six_rgb(rgb);
    Image src = { 3, 2, 3, rgb }, out; Err e = {0};
    assert_int_equal(image_crop(&src, 1, 0, 2, 2, &out, &e), 0);
    const uint8_t want[4][3] = { {0,255,0}, {0,0,255}, {0,255,255}, {255,0,255} };
    expect_pixels(&out, 2, 2, want, 0);
    image_free(&out);
    assert_int_equal(image_crop(&src, 2, 0, 2, 2, &out, &e), -1);
    assert_string_equal(e.msg, "crop 2x2 at (2, 0) does not fit in a 3x2 image");
}

static void test_exif_parser(void **state) {
    (void)state;
    uint8_t b[64];
    size_t n = exif_block(b, 6, 1);
    assert_int_equal(exif_orientation(b, n), 6);
    assert_int_equal(exif_orientation(b, 10), 1);    /* truncated: default */
    assert_int_equal(exif_orientation(b + 6, n - 6), 6);
    b[6] = 'X';
    assert_int_equal(exif_orientation(b, n), 1);
    /* little-endian with a LONG-typed value */
    const uint8_t le[] = { 'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 4, 0, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0 };
    assert_int_equal(exif_orientation(le, sizeof le), 8);
}

/* Damaged files never crash the decoders: every truncation and random byte flips of a valid JPEG,
 * PNG and WebP either decode or fail with a message naming the file. */
static void test_damaged_files_never_crash(void **state) {
    (void)state;
    char *d = tmpdir_make();
    Err e = {0};
    uint8_t px[24 * 16 * 3];
    for (int i = 0; i < (int)sizeof px; i++) px[i] = (uint8_t)(i * 13 + (i / 72) * 5);
    const char *names[3] = { "f.jpg", "f.png", "f.webp" };
    for (int k = 0; k < 3; k++) {
        char *p = tmp_path(d, names[k]);
        if (k == 0) write_jpeg(p, 24, 16, 3, px, 6);
        else if (k == 1) { Image src = { 24, 16, 3, px }; assert_int_equal(image_write_png(p, &src, &e), 0); }
        else write_webp(p, 24, 16, px, 3, 6);
        size_t n; uint8_t *buf = (uint8_t *)file_read_all(p, &n, &e);
        assert_non_null(buf);
        uint8_t *m = malloc(n);
        uint64_t r = 12345 + (uint64_t)k;
        for (size_t cut = 0; cut < n; cut += 5) {
            Image im;
            if (image_decode(buf, cut, "cut", &im, &e) == 0) image_free(&im);
            else assert_true(strncmp(e.msg, "cut: ", 5) == 0);
        }
        for (int trial = 0; trial < 300; trial++) {
            memcpy(m, buf, n);
            for (int f = 0; f < 1 + trial % 4; f++) {
                r = r * 6364136223846793005ull + 1442695040888963407ull;
                m[(r >> 33) % n] ^= (uint8_t)(1u << ((r >> 20) & 7));
            }
            Image im;
            if (image_decode(m, n, "flip", &im, &e) == 0) {
                assert_true(im.width > 0 && im.height > 0 && im.data);
                image_free(&im);
            } else assert_true(strncmp(e.msg, "flip: ", 6) == 0);
        }
        free(m); free(buf); free(p);
    }
    tmpdir_remove(d);
}

/* Inputs the fuzzer (make fuzz) found, kept as regressions. A 136-byte CMYK JPEG whose header
 * claims 255x45073 pixels: libjpeg would make grey rows for every row the data lacks (12 s under
 * the sanitizers); decoding now stops at the end of the data with the truncation error. */
/* The decompression-bomb limit is read from the header of every format, before any pixel is
 * decoded: exactly W*H pixels pass, one fewer is refused with the sizes and the limit named. */
static void test_pixel_limit_every_format(void **state) {
    (void)state;
    char *d = tmpdir_make();
    Err e = {0};
    Image src = { .width = 40, .height = 30, .channels = 3 }, im;
    src.data = calloc(40 * 30 * 3, 1);
    assert_non_null(src.data);
    const char *formats[] = { "png", "jpeg", "webp" };
    for (int f = 0; f < 3; f++) {
        char *p = tmp_path(d, image_format_extension(formats[f]));
        assert_int_equal(image_write_format(p, &src, formats[f], 90, &e), 0);
        size_t n = 0;
        uint8_t *buf = (uint8_t *)file_read_all(p, &n, &e);
        assert_non_null(buf);
        assert_int_equal(image_decode_limited(buf, n, "small", 1200, &im, &e), 0);
        assert_int_equal(im.width * im.height, 1200);
        image_free(&im);
        assert_int_equal(image_decode_limited(buf, n, "small", 1199, &im, &e), -1);
        assert_non_null(strstr(e.msg, "small: corrupt"));
        assert_non_null(strstr(e.msg, "40x30 pixels exceed the decompression-bomb limit of 1199 pixels"));
        assert_null(im.data);
        free(buf); free(p);
    }
    free(src.data);
    tmpdir_remove(d);
}

static void test_fuzz_regressions(void **state) {
    (void)state;
    static const uint8_t tall_jpeg[136] =
        "\xff\xd8\xff\x01\x00\x00\x01\x00\x01\x00\x00\xff\x00\x25\x01\x3b\x00\x01\x00\x01\x00\x00\xff\xdb"
        "\x00\x43\x00\x06\x04\x01\x00\x61\x00\x00\x05\x85\xfc\x0c\x00\x05\x04\x06\x06\x41\x64\x6f\x62\x65"
        "\x00\x64\x00\xf8\x00\x00\x00\xff\xdb\x00\x43\x00\x06\x04\x05\x06\x05\x04\x06\x06\xbc\xbc\x0a\x10"
        "\x0a\x0a\x09\x09\x0a\x14\xff\xd8\xff\x0e\x0f\x0c\x21\x10\x17\x14\x30\x25\x29\x29\x28\xff\xc0\x00"
        "\x14\x08\xb0\x11\x00\xff\x04\x43\x11\x00\x4d\x11\x00\x59\x11\x00\x4b\x11\x00\x00\xfa\xff\xda\x00"
        "\x0e\x04\x43\x00\x4d\x00\x59\x00\x4b\x10\x00\x3f\x00\xcf\x01\xd9";
    Image im; Err e = {0};
    assert_int_equal(image_decode(tall_jpeg, sizeof tall_jpeg, "tall.jpg", &im, &e), -1);
    assert_string_equal(e.msg, "tall.jpg: corrupt JPEG: Premature end of JPEG file");
    assert_null(im.data);
    /* an animated WebP (VP8X with the animation flag and an ANIM chunk) is refused by name */
    uint8_t anim[44] = "RIFF\0\0\0\0WEBPVP8X";
    anim[4] = sizeof anim - 8; anim[16] = 10; anim[20] = 0x02;
    memcpy(anim + 30, "ANIM", 4); anim[34] = 6;
    assert_int_equal(image_decode(anim, sizeof anim, "a.webp", &im, &e), -1);
    assert_string_equal(e.msg, "a.webp: not supported yet: animated WebP");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_color_types),
        cmocka_unit_test(test_orientation_png_jpeg_webp),
        cmocka_unit_test(test_jpeg_gray_and_cmyk),
        cmocka_unit_test(test_webp_alpha_dropped),
        cmocka_unit_test(test_corrupt_files_named),
        cmocka_unit_test(test_png_write_roundtrip_8_and_16),
        cmocka_unit_test(test_crop),
        cmocka_unit_test(test_damaged_files_never_crash),
        cmocka_unit_test(test_exif_parser),
        cmocka_unit_test(test_fuzz_regressions),
        cmocka_unit_test(test_pixel_limit_every_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
