/* config_json.h — reading the JSON files users write for SimpleTuner: comments tolerated,
 * {env:VAR} placeholders substituted, parse errors reported as file:line:column. */
#ifndef ST_CONFIG_JSON_H
#define ST_CONFIG_JSON_H
#include <cjson/cJSON.h>
#include "base/error.h"

/* Parses text (named `path` in messages) after blanking // and block comments outside strings.
 * Line numbers in errors refer to the original text. Returns NULL with e set (EXIT_USAGE). */
cJSON *json_parse_tolerant(const char *text, const char *path, Err *e);
/* file_read_all + json_parse_tolerant + json_substitute_env. */
cJSON *json_read_config_file(const char *path, Err *e);
/* Replaces every "{env:VAR}" inside string values (recursively) with $VAR; an unset variable is an
 * error naming the file and the variable. */
int json_substitute_env(cJSON *node, const char *path, Err *e);
/* A string with "{env:VAR}" replaced (malloc'd), or NULL with e set. */
char *env_substitute(const char *s, const char *path, Err *e);

#endif
