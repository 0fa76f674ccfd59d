#include "image/sheet.h"
#include <stdlib.h>
#include <string.h>

static const uint8_t FONT[95][7] = {
#include "image/font5x7.inc"
};

/* Decodes one UTF-8 code point; advances *s. Invalid bytes decode as U+FFFD. */
static unsigned utf8_next(const char **s) {
    const unsigned char *p = (const unsigned char *)*s;
    unsigned c = p[0];
    int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (n < 0) { (*s)++; return 0xfffd; }
    c = n == 0 ? c : n == 1 ? (c & 0x1f) : n == 2 ? (c & 0x0f) : (c & 0x07);
    for (int i = 1; i <= n; i++) {
        if ((p[i] & 0xc0) != 0x80) { *s += i; return 0xfffd; }
        c = (c << 6) | (p[i] & 0x3f);
    }
    *s += n + 1;
    return c;
}

/* Maps a code point to a printable ASCII glyph: Latin-1 letters to their base letter. */
static char glyph_for(unsigned c) {
    if (c >= 32 && c < 127) return (char)c;
    if (c >= 0xc0 && c <= 0xff) {
        static const char *base = "AAAAAAACEEEEIIIIDNOOOOOxOUUUUYPsaaaaaaaceeeeiiiidnooooo/ouuuuypy";
        return base[c - 0xc0];
    }
    if (c == '\t' || c == '\n') return ' ';
    return '?';
}

int text_width(const char *utf8, int scale) {
    int n = 0;
    for (const char *s = utf8; *s;) { utf8_next(&s); n++; }
    return n * 6 * scale;
}

void text_draw(Image *im, int x, int y, const char *utf8, int scale, const uint8_t color[3]) {
    for (const char *s = utf8; *s;) {
        char g = glyph_for(utf8_next(&s));
        const uint8_t *rows = FONT[g - 32];
        for (int r = 0; r < 7; r++)
            for (int col = 0; col < 5; col++) {
                if (!(rows[r] & (1 << (4 - col)))) continue;
                for (int dy = 0; dy < scale; dy++)
                    for (int dx = 0; dx < scale; dx++) {
                        int px = x + col * scale + dx, py = y + r * scale + dy;
                        if (px < 0 || py < 0 || px >= im->width || py >= im->height) continue;
                        memcpy(im->data + ((size_t)py * im->width + px) * 3, color, 3);
                    }
            }
        x += 6 * scale;
    }
}

/* Splits text into lines of at most `max_chars` code points at spaces (long words are cut).
 * Returns the number of lines; lines[i] are malloc'd. */
static int wrap_text(const char *text, int max_chars, char ***lines_out) {
    char **lines = NULL; int n = 0;
    const char *s = text;
    while (*s) {
        while (*s == ' ') s++;
        if (!*s) break;
        const char *start = s, *last_space = NULL, *p = s;
        int count = 0;
        while (*p && *p != '\n' && count < max_chars) {
            if (*p == ' ') last_space = p;
            utf8_next(&p); count++;
        }
        const char *end = p;
        if (*p && *p != '\n' && last_space && last_space > start) end = last_space;
        lines = realloc(lines, (size_t)(n + 1) * sizeof *lines);
        size_t len = (size_t)(end - start);
        lines[n] = malloc(len + 1);
        memcpy(lines[n], start, len); lines[n][len] = 0;
        n++;
        s = end;
        if (*s == '\n') s++;
    }
    *lines_out = lines;
    return n;
}

Image compose_sheet(const Image *images, int n, const char *caption) {
    const int gap = 8, scale = 2, line_h = 9 * scale, margin = 6;
    int w = gap, h = 0;
    for (int i = 0; i < n; i++) { w += images[i].width + gap; if (images[i].height > h) h = images[i].height; }
    h += 2 * gap;
    char **lines = NULL; int nl = 0;
    if (caption && *caption) {
        int max_chars = (w - 2 * margin) / (6 * scale);
        if (max_chars < 1) max_chars = 1;
        nl = wrap_text(caption, max_chars, &lines);
    }
    int strip = nl ? nl * line_h + 2 * margin : 0;
    Image out = {w, h + strip, 3, NULL};
    out.data = malloc((size_t)out.width * out.height * 3);
    memset(out.data, 255, (size_t)out.width * out.height * 3);
    int x = gap;
    for (int i = 0; i < n; i++) {
        const Image *im = &images[i];
        for (int y = 0; y < im->height; y++)
            for (int xx = 0; xx < im->width; xx++) {
                const uint8_t *src = im->data + ((size_t)y * im->width + xx) * im->channels;
                uint8_t *dst = out.data + ((size_t)(y + gap) * out.width + x + xx) * 3;
                if (im->channels >= 3) memcpy(dst, src, 3); else dst[0] = dst[1] = dst[2] = src[0];
            }
        x += im->width + gap;
    }
    static const uint8_t black[3] = {0, 0, 0};
    for (int i = 0; i < nl; i++) {
        text_draw(&out, margin, h + margin + i * line_h, lines[i], scale, black);
        free(lines[i]);
    }
    free(lines);
    return out;
}
