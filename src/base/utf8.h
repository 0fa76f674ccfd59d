/* utf8.h — strict UTF-8 validation, as Python's "utf-8" codec decodes (SimpleTuner reads captions
 * with it): no overlong forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF. */
#ifndef ST_UTF8_H
#define ST_UTF8_H
#include <stddef.h>

/* Offset of the first byte that does not start a valid sequence, or n when s[0..n) is valid. */
size_t utf8_invalid_at(const char *s, size_t n);

#endif
