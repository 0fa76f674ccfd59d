/* compose.h — validation sheets: reference image(s) | result side by side, with the edit
 * instruction in a caption strip underneath (5x7 bitmap font, word-wrapped). */
#ifndef ST_COMPOSE_H
#define ST_COMPOSE_H
#include "image/image.h"

/* Draws UTF-8 text at (x, y) in `color` (RGB), glyphs scaled by `scale`. Latin letters with
 * diacritics are drawn as their base letter; other non-ASCII characters as '?'. */
void text_draw(Image *im, int x, int y, const char *utf8, int scale, const uint8_t color[3]);
/* Pixel width of text when drawn at `scale` (6*scale per character). */
int text_width(const char *utf8, int scale);

/* A new RGB image: images[0..n-1] left to right (top-aligned, 8 px white gaps) and, when caption
 * is non-empty, a white strip with the caption wrapped to the sheet width. */
Image compose_sheet(const Image *images, int n, const char *caption);

#endif
