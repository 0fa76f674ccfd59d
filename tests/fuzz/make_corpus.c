/* make_corpus.c — writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/
 * (run by `make fuzz-corpus`; the output is committed). Seeds are small valid inputs of every kind
 * each reader accepts, so the fuzzer starts deep inside the formats:
 *   safetensors  every dtype, metadata, zero-length tensors, an odd header length (unaligned data)
 *   image        PNG (RGB, RGBA, grey 1-bit, palette, 16-bit, interlaced, eXIf), JPEG (baseline,
 *                progressive, grey, CMYK, EXIF orientation), WebP (lossy, lossless, alpha, EXIF)
 *   lora         diffusers/PEFT files (F32, BF16), kohya names with .alpha, lora_down/up, lycoris_
 *   cache        entries stored under the fuzz target's key (so they are hits)
 *   tokenizer    the tiny Qwen2-style vocabulary as tokenizer.json and as vocab.json + merges.txt
 *   config, databackend   the packaged examples and the test presets
 *   server       HTTP requests of every route (fuzz_server.c's layout), traversal and login forms
 * Usage: make_corpus OUT_DIR (run from the repository root). */
#include "fuzz_common.h"
#include "base/files.h"
#include "data/cache.h"
#include "image/image_io.h"
#include "models/qwen25vl/tiny_tokenizer.h"
#include "tensor/safetensors.h"
#include "models/adapter/lora_file.h"
#include <cjson/cJSON.h>
#include <dirent.h>
#include <fcntl.h>
#include <jpeglib.h>
#include <png.h>
#include <webp/encode.h>

static const char *out_root;

static void die(const char *what, const Err *e) { fprintf(stderr, "make_corpus: %s: %s\n", what, e ? e->msg : ""); exit(1); }

static char *target_dir(const char *target) {
    char *d = path_join(out_root, target);
    Err e = {0};
    if (dir_make(d, &e)) die(d, &e);
    return d;
}

static void put(const char *target, const char *name, const void *data, size_t n) {
    char *d = target_dir(target), *p = path_join(d, name);
    fuzz_write(p, data, n);
    free(p); free(d);
}

static void put_file(const char *target, const char *name, const char *src) {
    Err e = {0}; size_t n;
    char *buf = file_read_all(src, &n, &e);
    if (!buf) die(src, &e);
    put(target, name, buf, n);
    free(buf);
}

static unsigned char *slurp(const char *path, size_t *n) {
    Err e = {0};
    char *b = file_read_all(path, n, &e);
    if (!b) die(path, &e);
    return (unsigned char *)b;
}

/* ---- safetensors ---- */

static void seeds_safetensors(const char *tmp) {
    char *p = path_join(tmp, "s.safetensors");
    Err e = {0};
    StWriter w; stw_init(&w);
    float f[6] = {1, -2, 3.5f, 0, 1e-3f, -7};
    int64_t s23[2] = {2, 3}, s3 = 3, s2 = 2, s0 = 0, s4 = 4;
    stw_add_f32(&w, "layer.weight", 2, s23, f);
    uint16_t b16[6], h16[6];
    for (int i = 0; i < 6; i++) { b16[i] = f32_to_bf16(f[i]); h16[i] = f32_to_f16(f[i]); }
    stw_add(&w, "bf.weight", DT_BF16, 2, s23, b16);
    stw_add(&w, "h.weight", DT_F16, 2, s23, h16);
    int64_t iv[2] = {-5, 1LL << 40};
    stw_add(&w, "ids", DT_I64, 1, &s2, iv);
    uint8_t f8[4] = {0x38, 0xb8, 0x7e, 0x01};
    stw_add(&w, "f8", DT_F8_E4M3, 1, &s4, f8);
    stw_add(&w, "f8b", DT_F8_E5M2, 1, &s4, f8);
    double dv[3] = {1.5, -2, 1e300};
    stw_add(&w, "d", DT_F64, 1, &s3, dv);
    stw_add(&w, "empty", DT_F32, 1, &s0, f);
    stw_set_meta(&w, "format", "pt");
    stw_set_meta(&w, "note", "seed");
    if (stw_write(&w, p, &e)) die(p, &e);
    stw_free(&w);
    size_t n; unsigned char *b = slurp(p, &n);
    put("safetensors", "dtypes.safetensors", b, n);
    free(b);
    /* odd header length: the data block starts at an odd offset */
    const char *hdr = "{\"w\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,8]},\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
    size_t hl = strlen(hdr) | 1;
    unsigned char buf[512] = {0};
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memset(buf + 8, ' ', hl); memcpy(buf + 8, hdr, strlen(hdr));
    for (int i = 0; i < 12; i++) buf[8 + hl + i] = (unsigned char)(0x3f + i);
    put("safetensors", "unaligned.safetensors", buf, 8 + hl + 12);
    /* a header with nested metadata-like JSON and unicode names */
    stw_init(&w);
    stw_add_f32(&w, "caf\xC3\xA9.\xE2\x9C\x93", 1, &s2, f);
    stw_set_meta(&w, "lora_adapter_metadata", "{\"r\": 4, \"lora_alpha\": 8}");
    if (stw_write(&w, p, &e)) die(p, &e);
    stw_free(&w);
    b = slurp(p, &n);
    put("safetensors", "unicode.safetensors", b, n);
    free(b);
    free(p);
}

/* ---- images ---- */

static void rgb_pattern(uint8_t *px, int w, int h, int c) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++) px[((size_t)y * w + x) * c + k] = (uint8_t)(x * 37 + y * 11 + k * 80);
}

typedef struct { unsigned char *p; size_t n, cap; } Buf;
static void buf_put(png_structp png, png_bytep d, png_size_t n) {
    Buf *b = png_get_io_ptr(png);
    if (b->n + n > b->cap) { b->cap = (b->n + n) * 2; b->p = realloc(b->p, b->cap); }
    memcpy(b->p + b->n, d, n); b->n += n;
}
static void buf_flush(png_structp png) { (void)png; }

static const unsigned char EXIF_ROT6[] = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0};

static void png_seed(const char *name, int w, int h, int color, int depth, int interlace, int exif) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    Buf b = {0};
    if (setjmp(png_jmpbuf(png))) die("libpng", NULL);
    png_set_write_fn(png, &b, buf_put, buf_flush);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color, interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (color == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {9, 9, 9}};
        png_set_PLTE(png, info, pal, 4);
    }
#ifdef PNG_eXIf_SUPPORTED
    if (exif) png_set_eXIf_1(png, info, sizeof EXIF_ROT6, (png_bytep)EXIF_ROT6);
#endif
    png_write_info(png, info);
    int ch = color == PNG_COLOR_TYPE_RGB ? 3 : color == PNG_COLOR_TYPE_RGBA ? 4 : color == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
    size_t rowbytes = ((size_t)w * ch * depth + 7) / 8;
    unsigned char *row = calloc(rowbytes, 1);
    int passes = png_set_interlace_handling(png);
    for (int pass = 0; pass < passes; pass++)
        for (int y = 0; y < h; y++) {
            for (size_t i = 0; i < rowbytes; i++) row[i] = (unsigned char)((i * 29 + (size_t)y * 7) & (color == PNG_COLOR_TYPE_PALETTE && depth == 8 ? 3 : 255));
            png_write_row(png, row);
        }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    put("image", name, b.p, b.n);
    free(row); free(b.p);
}

static void jpeg_seed(const char *name, int w, int h, int comps, J_COLOR_SPACE cs, int progressive, int exif) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    unsigned char *out = NULL; unsigned long n = 0;
    jpeg_mem_dest(&c, &out, &n);
    c.image_width = (JDIMENSION)w; c.image_height = (JDIMENSION)h; c.input_components = comps; c.in_color_space = cs;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 80, TRUE);
    if (progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    if (exif) {
        unsigned char app1[6 + sizeof EXIF_ROT6];
        memcpy(app1, "Exif\0\0", 6); memcpy(app1 + 6, EXIF_ROT6, sizeof EXIF_ROT6);
        jpeg_write_marker(&c, JPEG_APP0 + 1, app1, sizeof app1);
    }
    uint8_t *px = malloc((size_t)w * h * comps);
    rgb_pattern(px, w, h, comps);
    while (c.next_scanline < c.image_height) {
        JSAMPROW r = px + (size_t)c.next_scanline * w * comps;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    put("image", name, out, n);
    free(out); free(px);
}

static void le32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }

static void webp_seeds(void) {
    int w = 13, h = 7;
    uint8_t *px = malloc((size_t)w * h * 4);
    rgb_pattern(px, w, h, 4);
    uint8_t *out = NULL;
    size_t n = WebPEncodeRGB(px, w, h, w * 3, 75, &out);
    put("image", "lossy.webp", out, n); WebPFree(out);
    n = WebPEncodeLosslessRGB(px, w, h, w * 3, &out);
    put("image", "lossless.webp", out, n);
    /* the same bitstream in a VP8X container with an EXIF chunk (orientation 6) */
    const unsigned char *vp8l = out + 12;             /* "VP8L" chunk after RIFF....WEBP */
    size_t vp8l_len = n - 12;
    size_t exif_chunk = 8 + sizeof EXIF_ROT6 + (sizeof EXIF_ROT6 & 1);
    size_t total = 12 + 18 + vp8l_len + exif_chunk;
    unsigned char *c = calloc(total, 1);
    memcpy(c, "RIFF", 4); le32(c + 4, (uint32_t)(total - 8)); memcpy(c + 8, "WEBP", 4);
    memcpy(c + 12, "VP8X", 4); le32(c + 16, 10); c[20] = 0x08;   /* EXIF present */
    c[24] = (unsigned char)(w - 1); c[27] = (unsigned char)(h - 1);
    memcpy(c + 30, vp8l, vp8l_len);
    unsigned char *x = c + 30 + vp8l_len;
    memcpy(x, "EXIF", 4); le32(x + 4, sizeof EXIF_ROT6); memcpy(x + 8, EXIF_ROT6, sizeof EXIF_ROT6);
    put("image", "exif.webp", c, total);
    free(c); WebPFree(out);
    n = WebPEncodeRGBA(px, w, h, w * 4, 60, &out);
    put("image", "alpha.webp", out, n); WebPFree(out);
    free(px);
}

static void seeds_image(void) {
    png_seed("rgb.png", 9, 5, PNG_COLOR_TYPE_RGB, 8, 0, 0);
    png_seed("rgba.png", 4, 6, PNG_COLOR_TYPE_RGBA, 8, 0, 0);
    png_seed("grey1.png", 17, 3, PNG_COLOR_TYPE_GRAY, 1, 0, 0);
    png_seed("greyalpha16.png", 3, 3, PNG_COLOR_TYPE_GRAY_ALPHA, 16, 0, 0);
    png_seed("palette.png", 8, 8, PNG_COLOR_TYPE_PALETTE, 8, 0, 0);
    png_seed("rgb16_interlaced.png", 11, 9, PNG_COLOR_TYPE_RGB, 16, 1, 0);
    png_seed("exif6.png", 6, 4, PNG_COLOR_TYPE_RGB, 8, 0, 1);
    jpeg_seed("baseline.jpg", 16, 8, 3, JCS_RGB, 0, 0);
    jpeg_seed("progressive.jpg", 19, 13, 3, JCS_RGB, 1, 0);
    jpeg_seed("grey.jpg", 8, 8, 1, JCS_GRAYSCALE, 0, 0);
    jpeg_seed("cmyk.jpg", 8, 8, 4, JCS_CMYK, 0, 0);
    jpeg_seed("exif6.jpg", 12, 4, 3, JCS_RGB, 0, 1);
    webp_seeds();
}

/* ---- LoRA ---- */

static void lora_file(const char *tmp, const char *name, const char *const *keys, const int64_t (*shapes)[2], int n, DType dt, const char *meta) {
    char *p = path_join(tmp, "l.safetensors");
    StWriter w; stw_init(&w);
    for (int i = 0; i < n; i++) {
        size_t cnt = (size_t)(shapes[i][0] * (shapes[i][1] ? shapes[i][1] : 1));
        float *v = malloc(cnt * sizeof(float) + 4);
        for (size_t k = 0; k < cnt; k++) v[k] = (float)((int)k % 7 - 3) * 0.125f;
        void *conv = malloc(cnt * dtype_size(dt) + 4);
        dtype_from_f32(dt, v, conv, cnt);
        stw_add(&w, keys[i], dt, shapes[i][1] ? 2 : 1, shapes[i], conv);
        free(v); free(conv);
    }
    if (meta) stw_set_meta(&w, "lora_adapter_metadata", meta);
    Err e = {0};
    if (stw_write(&w, p, &e)) die(p, &e);
    stw_free(&w);
    size_t len; unsigned char *b = slurp(p, &len);
    put("lora", name, b, len);
    free(b); free(p);
}

static void seeds_lora(const char *tmp) {
    float A[2 * 3] = {1, 2, 3, 4, 5, 6}, B[4 * 2] = {1, 0, 0, 1, 1, 1, -1, 2};
    LoraModule m[2] = {{FUZZ_LORA_MODULES[0], 3, 4, 2, 0.5f, A, B}, {FUZZ_LORA_MODULES[5], 3, 4, 2, 1.0f, A, B}};
    Err e = {0};
    char *p = path_join(tmp, "l.safetensors");
    for (int k = 0; k < 2; k++) {
        if (lora_save(m, 2, "transformer", k ? DT_BF16 : DT_F32, p, &e)) die(p, &e);
        size_t n; unsigned char *b = slurp(p, &n);
        put("lora", k ? "peft_bf16.safetensors" : "peft_f32.safetensors", b, n);
        free(b);
    }
    free(p);
    const char *kohya[] = {"lora_unet_transformer_blocks_0_attn_to_q.lora_down.weight", "lora_unet_transformer_blocks_0_attn_to_q.lora_up.weight",
                           "lora_unet_transformer_blocks_0_attn_to_q.alpha"};
    const int64_t ks[3][2] = {{2, 3}, {4, 2}, {1, 0}};
    lora_file(tmp, "kohya_alpha.safetensors", kohya, ks, 3, DT_F16, NULL);
    const char *lyc[] = {"lycoris_transformer_blocks_1_attn_to_q.lora_down.weight", "lycoris_transformer_blocks_1_attn_to_q.lora_up.weight",
                         "diffusion_model.transformer_blocks.0.attn.to_v.lora.down.weight", "diffusion_model.transformer_blocks.0.attn.to_v.lora.up.weight"};
    const int64_t ls[4][2] = {{1, 3}, {4, 1}, {2, 3}, {4, 2}};
    lora_file(tmp, "lycoris_comfy.safetensors", lyc, ls, 4, DT_F32, "{\"r\": 2, \"lora_alpha\": 4}");
    const char *peft[] = {"base_model.model.transformer_blocks.0.attn.to_k.lora_A.default.weight",
                          "base_model.model.transformer_blocks.0.attn.to_k.lora_B.default.weight"};
    const int64_t ps[2][2] = {{2, 3}, {4, 2}};
    lora_file(tmp, "peft_default.safetensors", peft, ps, 2, DT_BF16, "{\"lora_alpha\": 1e3}");
}

/* ---- cache entries ---- */

static void seeds_cache(const char *tmp) {
    char *dir = path_join(tmp, "cache"), *src = path_join(tmp, "source.png");
    fuzz_write(src, FUZZ_CACHE_SOURCE_TEXT, strlen(FUZZ_CACHE_SOURCE_TEXT));
    struct timespec ts[2] = {{FUZZ_CACHE_SOURCE_MTIME, 0}, {FUZZ_CACHE_SOURCE_MTIME, 0}};
    if (utimensat(AT_FDCWD, src, ts, 0)) die("utimensat", NULL);
    const char *sources[1] = {src};
    CacheKey k = {dir, FUZZ_CACHE_NAME, sources, 1, FUZZ_CACHE_SETTINGS};
    for (int kind = 0; kind < 3; kind++) {
        StWriter w; stw_init(&w);
        float v[16];
        for (int i = 0; i < 16; i++) v[i] = (float)i * 0.25f - 1;
        int64_t lat[3] = {4, 2, 2}, emb[2] = {4, 4}, pix[2] = {2, 8}, three = 3;
        int64_t grid[3] = {1, 2, 2};
        if (kind == 0) stw_add_f32(&w, "latents", 3, lat, v);
        if (kind == 1) stw_add_f32(&w, "prompt_embeds", 2, emb, v);
        if (kind == 2) { stw_add_f32(&w, "pixel_values", 2, pix, v); stw_add(&w, "image_grid_thw", DT_I64, 1, &three, grid); }
        Err e = {0};
        if (cache_store(&k, &w, &e)) die("cache_store", &e);
        stw_free(&w);
        char *p = cache_entry_path(&k);
        size_t n; unsigned char *b = slurp(p, &n);
        char name[32]; snprintf(name, sizeof name, "entry%d.safetensors", kind);
        put("cache", name, b, n);
        free(b); free(p);
    }
    free(dir); free(src);
}

/* ---- tokenizer ---- */

static void tok_seed(const char *name, char mode, const unsigned char *a, size_t na, const unsigned char *b, size_t nb, const char *text) {
    size_t nt = strlen(text), n = 1 + na + FUZZ_SEP_LEN + nb + FUZZ_SEP_LEN + nt;
    unsigned char *s = malloc(n), *w = s;
    *w++ = (unsigned char)mode;
    memcpy(w, a, na); w += na; memcpy(w, FUZZ_SEP, FUZZ_SEP_LEN); w += FUZZ_SEP_LEN;
    memcpy(w, b, nb); w += nb; memcpy(w, FUZZ_SEP, FUZZ_SEP_LEN); w += FUZZ_SEP_LEN;
    memcpy(w, text, nt);
    put("tokenizer", name, s, n);
    free(s);
}

static void seeds_tokenizer(const char *tmp) {
    char *dir = path_join(tmp, "tok");
    Err e = {0};
    if (dir_make(dir, &e)) die(dir, &e);
    TinyVocabIds ids;
    if (tiny_tokenizer_write(dir, 60, &ids, &e)) die("tiny_tokenizer_write", &e);
    char *tj = path_join(dir, "tokenizer.json"), *tc = path_join(dir, "tokenizer_config.json");
    size_t ntj, ntc;
    unsigned char *j = slurp(tj, &ntj), *c = slurp(tc, &ntc);
    static const char *TEXTS[] = {
        "<|im_start|>system\nDescribe the image.<|im_end|>\n<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>make it night<|im_end|>\n",
        "Caf\xC3\xA9 \xE2\x80\x9Cquoted\xE2\x80\x9D 'it's' 12345 \xE4\xBD\xA0\xE5\xA5\xBD\t\t  \r\n\r\n  trailing   ",
        "e\xCC\x81 \xEF\xAC\x81 \xF0\x9F\x98\x80 I'LL WE'VE you're x\xC2\xA0y\xE3\x80\x80z",
    };
    for (int i = 0; i < 3; i++) {
        char name[32]; snprintf(name, sizeof name, "json%d", i);
        tok_seed(name, 't', j, ntj, i == 2 ? (const unsigned char *)"" : c, i == 2 ? 0 : ntc, TEXTS[i]);
    }
    /* the same vocabulary as vocab.json + merges.txt */
    cJSON *root = cJSON_ParseWithLength((const char *)j, ntj);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    char *vocab = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(model, "vocab"));
    size_t cap = 1 << 16, nm = 0;
    char *merges = malloc(cap);
    nm += (size_t)snprintf(merges, cap, "#version: 0.2\n");
    for (const cJSON *m = cJSON_GetObjectItemCaseSensitive(model, "merges")->child; m; m = m->next) {
        const char *a = cJSON_IsString(m) ? m->valuestring : m->child->valuestring;
        const char *b = cJSON_IsString(m) ? NULL : m->child->next->valuestring;
        nm += (size_t)snprintf(merges + nm, cap - nm, b ? "%s %s\n" : "%s\n", a, b);
    }
    tok_seed("vocab_merges0", 'v', (const unsigned char *)vocab, strlen(vocab), (const unsigned char *)merges, nm, TEXTS[0]);
    tok_seed("vocab_merges1", 'v', (const unsigned char *)vocab, strlen(vocab), (const unsigned char *)merges, nm, TEXTS[1]);
    free(vocab); free(merges); cJSON_Delete(root);
    free(j); free(c); free(tj); free(tc); free(dir);
}

/* ---- configs ---- */

static void seeds_config(void) {
    static const char *CONFIGS[] = {
        "examples/tiny.qwen_image.edit-v1-lora/config.json", "examples/tiny.longcat_image.edit-lora/config.json",
        "examples/qwen_image.edit-v2-lora/config.json", "tests/data/config/qwen_seed/config.json",
        "tests/data/config/longcat_seed/config.json",
    };
    for (size_t i = 0; i < sizeof CONFIGS / sizeof *CONFIGS; i++) {
        char name[32]; snprintf(name, sizeof name, "config%zu.json", i);
        put_file("config", name, CONFIGS[i]);
    }
    const char *commented =
        "{\n  // comments, as the quickstarts have them\n  \"model_type\": \"lora\", \"model_family\": \"qwen_image\",\n"
        "  /* block */ \"model_flavour\": \"edit-v2\", \"output_dir\": \"out\", \"optimizer\": \"adamw_bf16\",\n"
        "  \"data_backend_config\": \"mdb.json\", \"--learning_rate\": \"1e-4\", \"lora_rank\": 16, \"validation_resolution\": \"512x512,1024\",\n"
        "  \"resolution\": 0.5, \"mixed_precision\": \"bf16\", \"report_to\": \"none\", \"seed\": 42, \"max_train_steps\": 10\n}\n";
    put("config", "commented.json", commented, strlen(commented));
    static const char *MDB[] = {
        "examples/tiny.qwen_image.edit-v1-lora/multidatabackend.json", "examples/tiny.qwen_image.edit-v2-lora/multidatabackend.json",
        "examples/longcat_image.edit-lora/multidatabackend.json", "tests/data/config/qwen_seed/multidatabackend-edit-v1.json",
        "tests/data/config/presets/multidatabackend-small-dreambooth-1024px.json",
    };
    for (size_t i = 0; i < sizeof MDB / sizeof *MDB; i++) {
        char name[32]; snprintf(name, sizeof name, "mdb%zu.json", i);
        put_file("databackend", name, MDB[i]);
    }
}

/* ---- server: "METHOD URL" SEP headers SEP body, against fuzz_server.c's root and token ---- */

static void server_seed(const char *name, const char *line, const char *headers, const void *body, size_t blen) {
    size_t l1 = strlen(line), l2 = strlen(headers), n = l1 + FUZZ_SEP_LEN + l2 + FUZZ_SEP_LEN + blen;
    char *buf = xmalloc(n);
    memcpy(buf, line, l1);
    memcpy(buf + l1, FUZZ_SEP, FUZZ_SEP_LEN);
    memcpy(buf + l1 + FUZZ_SEP_LEN, headers, l2);
    memcpy(buf + l1 + FUZZ_SEP_LEN + l2, FUZZ_SEP, FUZZ_SEP_LEN);
    if (blen) memcpy(buf + l1 + 2 * FUZZ_SEP_LEN + l2, body, blen);
    put("server", name, buf, n);
    free(buf);
}

static void seeds_server(void) {
    const char *H = "Host: 127.0.0.1:8001\nX-ST-Token: fuzz-token-1";
    const char *C = "Host: localhost:8001\nCookie: a=b; st_token=fuzz-token-1";
    server_seed("configs", "GET /api/configs", H, "", 0);
    server_seed("config", "GET /api/configs/c", C, "", 0);
    server_seed("options", "GET /api/options", H, "", 0);
    server_seed("inspect", "GET /api/configs/c/inspect?pairs=2", H, "", 0);
    server_seed("thumb", "GET /api/thumbs/0?size=32", H, "", 0);
    server_seed("runs", "GET /api/runs", H, "", 0);
    server_seed("run", "GET /api/runs/c", H, "", 0);
    server_seed("events", "GET /api/runs/c/events", C, "", 0);
    server_seed("file", "GET /api/runs/c/files/training_log.jsonl", H, "", 0);
    server_seed("traversal", "GET /api/runs/c/files/%2e%2e/%2e%2e/config/c/config.json", H, "", 0);
    server_seed("double", "GET /api/runs/c/files/%252e%252e/x?a=%41&b+c=d", H, "", 0);
    server_seed("login_get", "GET /login?token=fuzz-token-1", "Host: 127.0.0.1:8001", "", 0);
    server_seed("login_post", "POST /login", "Host: 127.0.0.1:8001", "token=fuzz-token-1", 18);
    static const char VALIDATE[] = "{\"config\": {\"model_type\": \"lora\", \"model_family\": \"qwen_image\", \"lora_rnk\": 4, "
                                   "\"learning_rate\": \"x\", \"output_dir\": \"out/c\", \"optimizer\": \"adamw_bf16\", "
                                   "\"data_backend_config\": \"config/c/multidatabackend.json\"}, "
                                   "\"datasets\": [{\"id\": \"img\", \"type\": \"local\", \"instance_data_dir\": \"data/img\", "
                                   "\"conditioning_data\": [\"ref\"]}]}";
    server_seed("validate", "POST /api/configs/c/validate", H, VALIDATE, sizeof VALIDATE - 1);
    server_seed("save", "PUT /api/configs/c", H, VALIDATE, sizeof VALIDATE - 1);
    static const char CREATE[] = "{\"name\": \"n1\", \"preset\": \"tiny.qwen_image.edit-v1-lora\"}";
    server_seed("create", "POST /api/configs", H, CREATE, sizeof CREATE - 1);
    static const char EDIT[] = "{\"config\": \"c\", \"references\": [\"u1-1.png\"], \"prompt\": \"x\", \"lora\": \"out/c/a\", "
                               "\"steps\": \"4\", \"seed\": 3, \"resolution\": \"64x64\", \"lora_scale\": 0.5}";
    server_seed("edit", "POST /api/edits", H, EDIT, sizeof EDIT - 1);
    server_seed("start", "POST /api/runs/c/start", H, "", 0);
    uint8_t px[8 * 8 * 3];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)(i * 13);
    uint8_t *png = NULL;
    size_t plen = 0;
    Err e = {0};
    if (image_encode_png(px, 8, 8, 3, 8, &png, &plen, &e)) die("png", &e);
    server_seed("upload", "POST /api/uploads", H, png, plen);
    free(png);
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: make_corpus OUT_DIR\n"); return 2; }
    out_root = argv[1];
    char tmpl[] = "/tmp/st_corpus_XXXXXX";
    char *tmp = mkdtemp(tmpl);
    if (!tmp) die("mkdtemp", NULL);
    seeds_safetensors(tmp);
    seeds_image();
    seeds_lora(tmp);
    seeds_cache(tmp);
    seeds_tokenizer(tmp);
    seeds_config();
    seeds_server();
    char cmd[128]; snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmp);
    return 0;
}
