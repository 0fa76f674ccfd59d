/* paths.h — the only way the WebUI turns a name from a request into a file: a path relative to a
 * base folder (the server's --root, or a run's output_dir inside it) that must stay inside it.
 *
 * Refused with a message: an empty or absolute path, a ".." component, a backslash or a control
 * character, and — after resolving symbolic links (realpath) — anything that lands outside the
 * base. Percent-decoding happened once, before (http_url_decode), so "%2e%2e" arrives here as
 * "..", and "%252e%252e" as the harmless name "%2e%2e". */
#ifndef ST_SERVER_PATHS_H
#define ST_SERVER_PATHS_H
#include "base/error.h"

/* base_real: an absolute path without symlinks (realpath of the base). rel: relative to it.
 * must_exist 1: the file or folder must exist and resolves fully; 0: its parent folder must
 * exist (a file about to be written). *out: the absolute resolved path (malloc'd). Errors are
 * EXIT_USAGE (the request's fault) with a message that does not reveal what lies outside. */
int path_inside(const char *base_real, const char *rel, int must_exist, char **out, Err *e);
/* 1 when the absolute, resolved path p is base_real itself or below it. */
int path_is_below(const char *base_real, const char *p);
/* A name usable as one path component (configs, runs): [A-Za-z0-9._-], 1..100 chars, not starting
 * with '.'. */
int path_name_ok(const char *name);

#endif
