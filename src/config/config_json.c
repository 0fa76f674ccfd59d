/* config_json.c — tolerant JSON reading for config files (see config_json.h). */
#include <stdlib.h>
#include <string.h>
#include "config/config_json.h"
#include "base/files.h"

/* Overwrites comments with spaces (newlines kept) so cJSON can parse the rest and error positions
 * still match the user's file. Comment markers inside strings are left alone. */
static void blank_comments(char *s) {
    int in_string = 0;
    for (char *p = s; *p; p++) {
        if (in_string) {
            if (*p == '\\' && p[1]) p++;
            else if (*p == '"') in_string = 0;
        } else if (*p == '"') {
            in_string = 1;
        } else if (p[0] == '/' && p[1] == '/') {
            while (*p && *p != '\n') *p++ = ' ';
            if (!*p) return;
        } else if (p[0] == '/' && p[1] == '*') {
            char *q = p + 2;
            while (*q && !(q[0] == '*' && q[1] == '/')) q++;
            char *end = *q ? q + 2 : q;
            for (; p < end; p++) if (*p != '\n') *p = ' ';
            p--;
        }
    }
}

static void line_col(const char *text, const char *at, int *line, int *col) {
    *line = 1; *col = 1;
    for (const char *p = text; p < at && *p; p++) {
        if (*p == '\n') { (*line)++; *col = 1; }
        else (*col)++;
    }
}

cJSON *json_parse_tolerant(const char *text, const char *path, Err *e) {
    char *copy = xstrdup(text);
    blank_comments(copy);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(copy, &end, 1);
    if (!root) {
        const char *at = end ? end : cJSON_GetErrorPtr();
        int line = 0, col = 0;
        if (at && at >= copy && at <= copy + strlen(copy)) line_col(copy, at, &line, &col);
        free(copy);
        return err_setc(e, EXIT_USAGE, "%s:%d:%d: invalid JSON", path, line, col), NULL;
    }
    free(copy);
    return root;
}

char *env_substitute(const char *s, const char *path, Err *e) {
    size_t cap = strlen(s) + 1, n = 0;
    char *out = xmalloc(cap);
    for (const char *p = s; *p;) {
        const char *close;
        if (!strncmp(p, "{env:", 5) && (close = strchr(p + 5, '}'))) {
            char name[256];
            size_t len = (size_t)(close - (p + 5));
            if (len == 0 || len >= sizeof name) {
                free(out);
                return err_setc(e, EXIT_USAGE, "%s: bad placeholder in \"%s\" (expected {env:VARIABLE})", path, s), NULL;
            }
            memcpy(name, p + 5, len); name[len] = 0;
            const char *val = getenv(name);
            if (!val) {
                free(out);
                return err_setc(e, EXIT_USAGE, "%s: \"%s\" uses {env:%s} but the environment variable %s is not set",
                                path, s, name, name), NULL;
            }
            size_t vl = strlen(val);
            if (n + vl + 1 > cap) { cap = n + vl + strlen(p) + 1; out = xrealloc(out, cap); }
            memcpy(out + n, val, vl); n += vl;
            p = close + 1;
        } else {
            if (n + 2 > cap) { cap *= 2; out = xrealloc(out, cap); }
            out[n++] = *p++;
        }
    }
    out[n] = 0;
    return out;
}

int json_substitute_env(cJSON *node, const char *path, Err *e) {
    for (; node; node = node->next) {
        if (cJSON_IsString(node) && strstr(node->valuestring, "{env:")) {
            char *s = env_substitute(node->valuestring, path, e);
            if (!s) return -1;
            cJSON_SetValuestring(node, s);
            free(s);
        }
        if (node->child && json_substitute_env(node->child, path, e)) return -1;
    }
    return 0;
}

cJSON *json_read_config_file(const char *path, Err *e) {
    char *text = file_read_all(path, NULL, e);
    if (!text) { e->code = EXIT_USAGE; return NULL; }
    cJSON *root = json_parse_tolerant(text, path, e);
    free(text);
    if (root && json_substitute_env(root->child, path, e)) { cJSON_Delete(root); return NULL; }
    return root;
}
