/* api_configs.c — the Configurations page's endpoints:
 *   GET  /api/presets                 the packaged presets (examples list)
 *   GET  /api/options                 the options table: type, default, choices, section, support, help
 *   GET  /api/configs                 config/<name>/config.json under --root
 *   POST /api/configs                 {"name", "preset"}: a copy of the preset (examples copy)
 *   GET  /api/configs/NAME            the file as written, parsed, with its datasets file
 *   POST /api/configs/NAME/validate   {"config": {...}, "datasets": [...]}: the loader's errors per key
 *   PUT  /api/configs/NAME            the same body (+ "drop_comments"): validated, then saved atomically
 * Validation is the CLI's: the edited JSON is written to a private folder and read with the same
 * config loader `train` uses; each error names its key, and the key is set aside to find the next
 * one, so the form can show every message next to its field. */
#include "server/server_internal.h"
#include "server/paths.h"
#include "base/files.h"
#include "config/config.h"
#include "config/config_json.h"
#include "config/examples.h"
#include "pipeline/tiny_assets.h"
#include <ctype.h>
#include <limits.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- shared helpers ---- */

cJSON *server_json_body(const HttpRequest *q, HttpResponse *r) {
    if (q->body_len > SERVER_MAX_JSON) { http_error(r, 413, "JSON body larger than %ld bytes", SERVER_MAX_JSON); return NULL; }
    if (q->body_len == 0) { http_error(r, 400, "expected a JSON body"); return NULL; }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts((const char *)q->body, q->body_len, &end, 0);
    if (!j) { http_error(r, 400, "the body is not valid JSON (near byte %ld)", end ? (long)(end - (const char *)q->body) : 0L); return NULL; }
    if (!cJSON_IsObject(j)) { cJSON_Delete(j); http_error(r, 400, "expected a JSON object"); return NULL; }
    return j;
}

char *server_config_path(Server *s, const char *name, HttpResponse *r) {
    if (!path_name_ok(name)) { http_error(r, 400, "'%s' is not a configuration name (letters, digits, . _ -)", name); return NULL; }
    char *p = xasprintf("%s/config/%s/config.json", s->root, name);
    if (!file_exists(p)) { http_error(r, 404, "configuration '%s' not found (config/%s/config.json)", name, name); free(p); return NULL; }
    return p;
}

Config *server_load_config(Server *s, const char *name, int allow_missing_required, Err *e) {
    char *path = xasprintf("config/%s/config.json", name);
    char *argv[] = {"--config", path};
    ConfigLoadOptions lo = {0};
    lo.quiet = 1;
    lo.allow_missing_required = allow_missing_required;
    Config *c = NULL;
    (void)s;
    int rc = config_load_with(&c, 2, argv, &lo, e);
    free(path);
    return rc ? NULL : c;
}

/* // or block comments outside strings */
static int has_comments(const char *t) {
    int in_str = 0;
    for (const char *p = t; *p; p++) {
        if (in_str) { if (*p == '\\' && p[1]) p++; else if (*p == '"') in_str = 0; continue; }
        if (*p == '"') in_str = 1;
        else if (*p == '/' && (p[1] == '/' || p[1] == '*')) return 1;
    }
    return 0;
}

static const char *json_string(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) { char k[160]; snprintf(k, sizeof k, "--%s", key); v = cJSON_GetObjectItemCaseSensitive(o, k); }
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- presets and options ---- */

void api_presets(Server *s, const HttpRequest *q, HttpResponse *r) {
    (void)s; (void)q;
    char *dir = config_examples_dir(NULL);
    ExampleInfo *list;
    int n = examples_list(dir, &list);
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", list[i].name);
        cJSON_AddStringToObject(o, "model_family", list[i].family);
        cJSON_AddStringToObject(o, "model_flavour", list[i].flavour);
        cJSON_AddBoolToObject(o, "tiny", list[i].tiny);
        cJSON_AddItemToArray(a, o);
    }
    examples_free(list, n);
    free(dir);
    http_json(r, 200, a);
}

void api_options(Server *s, const HttpRequest *q, HttpResponse *r) {
    (void)s; (void)q;
    static const char *const SUPPORT[] = {[SUPPORT_UNSUPPORTED] = "unsupported", [SUPPORT_IMPLEMENTED] = "implemented", [SUPPORT_INERT] = "inert"};
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < option_count_all(); i++) {   /* SimpleTuner's options, then this program's own */
        const OptionDef *d = option_at(i);
        const OwnOption *own = option_own(d->name);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", d->name);
        if (own) {
            cJSON_AddBoolToObject(o, "own", 1);
            if (own->scope) cJSON_AddStringToObject(o, "scope", own->scope);
        }
        static const char *const TYPES[] = {[OPT_BOOL] = "BOOL", [OPT_NUMBER] = "NUMBER", [OPT_TEXT] = "TEXT", [OPT_SELECT] = "SELECT", [OPT_JSON] = "JSON"};
        cJSON_AddStringToObject(o, "type", TYPES[d->type]);
        cJSON *def = cJSON_Parse(d->default_json);
        cJSON_AddItemToObject(o, "default", def ? def : cJSON_CreateNull());
        if (d->choices_json) { cJSON *ch = cJSON_Parse(d->choices_json); if (ch) cJSON_AddItemToObject(o, "choices", ch); }
        if (d->aliases && *d->aliases) cJSON_AddStringToObject(o, "aliases", d->aliases);
        cJSON_AddStringToObject(o, "section", d->section);
        cJSON_AddStringToObject(o, "support", SUPPORT[option_support(d->name)]);
        const char *sv = option_supported_values(d->name);
        if (sv) cJSON_AddStringToObject(o, "supported_values", sv);
        const char *why = option_unsupported_reason(d->name);
        if (why) cJSON_AddStringToObject(o, "unsupported_reason", why);
        const char *help = option_help(d->name);
        if (help) cJSON_AddStringToObject(o, "help", help);
        cJSON_AddItemToArray(a, o);
    }
    http_json(r, 200, a);
}

/* ---- listing and creating ---- */

static cJSON *config_summary(Server *s, const char *name) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    char *rel = xasprintf("config/%s/config.json", name);
    cJSON_AddStringToObject(o, "path", rel);
    Err e = {0};
    char *txt = file_read_all(rel, NULL, &e);
    cJSON *j = txt ? json_parse_tolerant(txt, rel, &e) : NULL;
    if (!j) cJSON_AddStringToObject(o, "error", e.msg);
    else {
        static const char *const KEYS[] = {"model_family", "model_flavour", "model_type", "output_dir", "data_backend_config", "max_train_steps"};
        for (size_t k = 0; k < sizeof KEYS / sizeof *KEYS; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, KEYS[k]);
            if (v) cJSON_AddItemToObject(o, KEYS[k], cJSON_Duplicate(v, 1));
        }
        cJSON_AddBoolToObject(o, "has_comments", has_comments(txt));
    }
    pthread_mutex_lock(&s->mu);
    Job *run = server_find_run(s, name);
    cJSON_AddBoolToObject(o, "running", run && run->running);
    pthread_mutex_unlock(&s->mu);
    cJSON_Delete(j);
    free(txt); free(rel);
    return o;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The names of config/<name>/config.json under the root, sorted. */
static int list_config_names(char ***out) {
    DIR *d = opendir("config");
    char **names = NULL;
    int n = 0;
    for (struct dirent *de; d && (de = readdir(d)) != NULL;) {
        if (!path_name_ok(de->d_name)) continue;
        char *p = xasprintf("config/%s/config.json", de->d_name);
        if (file_exists(p)) { names = xrealloc(names, (size_t)(n + 1) * sizeof *names); names[n++] = xstrdup(de->d_name); }
        free(p);
    }
    if (d) closedir(d);
    if (n) qsort(names, (size_t)n, sizeof *names, cmp_str);
    *out = names;
    return n;
}

int server_config_names(char ***out) { return list_config_names(out); }

static void list_configs(Server *s, HttpResponse *r) {
    char **names;
    int n = list_config_names(&names);
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) { cJSON_AddItemToArray(a, config_summary(s, names[i])); free(names[i]); }
    free(names);
    http_json(r, 200, a);
}

static void create_config(Server *s, const HttpRequest *q, HttpResponse *r) {
    cJSON *b = server_json_body(q, r);
    if (!b) return;
    const char *name = json_string(b, "name"), *preset = json_string(b, "preset");
    if (!name || !preset) { cJSON_Delete(b); http_error(r, 400, "expected {\"name\": ..., \"preset\": ...}"); return; }
    if (!path_name_ok(name)) { http_error(r, 400, "'%s' is not a configuration name (letters, digits, . _ -; up to 100)", name); cJSON_Delete(b); return; }
    char *dest = xasprintf("config/%s", name);
    if (file_exists(dest) || dir_exists(dest)) {
        http_error(r, 409, "configuration '%s' already exists", name);
        free(dest); cJSON_Delete(b);
        return;
    }
    char *dir = config_examples_dir(NULL);
    ExampleInfo *list;
    int n = examples_list(dir, &list), found = 0;
    for (int i = 0; i < n; i++) found |= !strcmp(list[i].name, preset);
    examples_free(list, n);
    Err e = {0};
    int rc = 0;
    if (!found) { http_error(r, 400, "no preset named '%s' (GET /api/presets lists them)", preset); rc = -1; }
    /* the tiny presets' model and synthetic dataset, created once (as `train example=tiny.*` does) */
    if (!rc) {
        pthread_mutex_lock(&s->mu);
        rc = tiny_assets_ensure(preset, &e);
        pthread_mutex_unlock(&s->mu);
        if (!rc) rc = examples_copy(dir, preset, dest, &e);
        if (rc) http_error(r, e.code == EXIT_USAGE ? 400 : 500, "%s", e.msg);
    }
    if (!rc) {
        cJSON *o = config_summary(s, name);
        http_json(r, 201, o);
    }
    free(dir); free(dest);
    cJSON_Delete(b);
}

/* ---- one configuration ---- */

/* The datasets file a configuration names, if it lies inside the root (relative to it), else NULL
 * with *why set. */
static char *datasets_rel(Server *s, const cJSON *cfg, const char **why) {
    const char *raw = json_string(cfg, "data_backend_config");
    if (!raw) { *why = "the configuration names no data_backend_config"; return NULL; }
    Err e = {0};
    char *v = env_substitute(raw, "data_backend_config", &e);
    if (!v) { *why = "data_backend_config uses an unset {env:...} variable"; return NULL; }
    char *abs = NULL;
    int rc;
    if (v[0] == '/') {
        char real[4096];
        rc = realpath(v, real) && path_is_below(s->root, real) && strlen(real) > strlen(s->root) ? 0 : -1;
        if (!rc) abs = xstrdup(real + strlen(s->root) + 1);
    } else rc = path_inside(s->root, v, 1, &abs, &e);
    if (rc) { free(v); free(abs); *why = "the datasets file is not inside the served folder"; return NULL; }
    if (v[0] == '/') { free(v); return abs; }
    free(abs);
    return v;
}

static void get_config(Server *s, const char *name, HttpResponse *r) {
    char *path = server_config_path(s, name, r);
    if (!path) return;
    char *rel = xasprintf("config/%s/config.json", name);
    Err e = {0};
    char *txt = file_read_all(path, NULL, &e);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "path", rel);
    if (txt) {
        cJSON_AddStringToObject(o, "text", txt);
        cJSON_AddBoolToObject(o, "has_comments", has_comments(txt));
        cJSON *j = json_parse_tolerant(txt, rel, &e);
        if (j) {
            cJSON_AddItemToObject(o, "config", j);
            const char *why = NULL;
            char *drel = datasets_rel(s, j, &why);
            if (drel) {
                cJSON_AddStringToObject(o, "datasets_path", drel);
                char *dt = file_read_all(drel, NULL, &e);
                if (dt) {
                    cJSON_AddStringToObject(o, "datasets_text", dt);
                    cJSON_AddBoolToObject(o, "datasets_has_comments", has_comments(dt));
                    cJSON *dj = json_parse_tolerant(dt, drel, &e);
                    if (dj) cJSON_AddItemToObject(o, "datasets", dj);
                    else cJSON_AddStringToObject(o, "datasets_error", e.msg);
                } else cJSON_AddStringToObject(o, "datasets_error", e.msg);
                free(dt);
            } else cJSON_AddStringToObject(o, "datasets_error", why);
            free(drel);
        } else cJSON_AddStringToObject(o, "parse_error", e.msg);
        /* does the file load as `train` would load it? */
        Err le = {0};
        Config *c = server_load_config(s, name, 0, &le);
        if (c) config_free(c);
        else cJSON_AddStringToObject(o, "load_error", le.msg);
    }
    http_json(r, txt ? 200 : 500, o);
    free(txt); free(rel); free(path);
}

/* Replaces every occurrence of from in s (in place into a new string). */
static char *replace_all(const char *s, const char *from, const char *to) {
    size_t lf = strlen(from), lt = strlen(to), n = 0;
    if (!lf) return xstrdup(s);
    for (const char *p = s; (p = strstr(p, from)); p += lf) n++;
    char *o = xmalloc(strlen(s) + n * (lt > lf ? lt - lf : 0) + 1), *w = o;
    for (const char *p = s;;) {
        const char *x = strstr(p, from);
        if (!x) { strcpy(w, p); break; }
        memcpy(w, p, (size_t)(x - p)); w += x - p;
        memcpy(w, to, lt); w += lt;
        p = x + lf;
    }
    return o;
}

/* The key an error message of the loader is about ("" when none), and the dataset it names. */
static void message_key(const char *msg, char *key, size_t kcap, char *dataset, size_t dcap) {
    key[0] = dataset[0] = 0;
    static const char *const PATTERNS[] = {"unknown option '", "option '", "model_flavour '", NULL};
    for (int i = 0; PATTERNS[i]; i++) {
        const char *p = strstr(msg, PATTERNS[i]);
        if (!p) continue;
        if (i == 2) { snprintf(key, kcap, "model_flavour"); break; }
        p += strlen(PATTERNS[i]);
        const char *q = strchr(p, '\'');
        if (q) { snprintf(key, kcap, "%.*s", (int)(q - p), p); break; }
    }
    const char *ns = strstr(msg, "not supported yet: ");
    if (!key[0] && ns) {
        ns += strlen("not supported yet: ");
        size_t n = strspn(ns, "abcdefghijklmnopqrstuvwxyz0123456789_-");
        snprintf(key, kcap, "%.*s", (int)n, ns);
    }
    const char *mr = strstr(msg, "missing required option");
    if (!key[0] && mr && (mr = strchr(mr, ':'))) {
        mr++;
        while (*mr == ' ') mr++;
        size_t n = strspn(mr, "abcdefghijklmnopqrstuvwxyz0123456789_");
        snprintf(key, kcap, "%.*s", (int)n, mr);
    }
    if (!key[0]) {   /* the first option name the message mentions (rules name their keys) */
        for (const char *p = msg; *p;) {
            size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");
            if (n > 3 && n < 100 && memchr(p, '_', n)) {
                char w[100];
                snprintf(w, sizeof w, "%.*s", (int)n, p);
                if (option_find(w)) { snprintf(key, kcap, "%s", w); break; }
            }
            p += n ? n : 1;
        }
    }
    /* datasets are named dataset 'ID' by the configuration loader, dataset "ID" by the data loader */
    const char *ds = strstr(msg, "dataset '"), *dq = strstr(msg, "dataset \"");
    if (!ds || (dq && dq < ds)) ds = dq;
    if (ds) {
        char quote = ds[8];
        ds += 9;
        const char *q = strchr(ds, quote);
        if (q) snprintf(dataset, dcap, "%.*s", (int)(q - ds), ds);
    }
}

/* Removes the item of obj that sets `key` (by name, "--name" or an alias); 1 if one went. */
static int drop_key(cJSON *obj, const char *key) {
    const OptionDef *want = option_find(key);
    for (cJSON *it = obj->child; it; it = it->next) {
        const char *k = it->string ? it->string : "";
        const char *bare = !strncmp(k, "--", 2) ? k + 2 : k;
        const OptionDef *d = option_find(bare);
        if (!strcmp(bare, key) || (want && d == want)) { cJSON_DeleteItemFromObjectCaseSensitive(obj, k); return 1; }
    }
    return 0;
}

/* Runs the loader on the edited configuration; returns {"ok", "errors": [{key, dataset, message}]}. */
static cJSON *validate_edit(Server *s, const char *name, const cJSON *config, const cJSON *datasets) {
    pthread_mutex_lock(&s->mu);
    int n = s->next_upload++;
    pthread_mutex_unlock(&s->mu);
    char *dir = xasprintf("%s/tmp/validate-%d", s->state_dir, n);
    char *cpath = xasprintf("%s/config.json", dir), *dpath = xasprintf("%s/multidatabackend.json", dir);
    char *real_c = xasprintf("config/%s/config.json", name);
    cJSON *work = cJSON_Duplicate(config, 1);
    const char *why = NULL;
    char *real_d = datasets ? datasets_rel(s, work, &why) : NULL;
    cJSON *out = cJSON_CreateObject(), *errs = cJSON_AddArrayToObject(out, "errors");
    Err e = {0};
    int rc = dir_make(dir, &e);
    if (!rc && datasets) {
        char *dt = cJSON_Print(datasets);
        rc = file_write_atomic(dpath, dt, strlen(dt), &e);
        free(dt);
    }
    for (int round = 0; !rc && round < 30; round++) {
        char *ct = cJSON_Print(work);
        rc = file_write_atomic(cpath, ct, strlen(ct), &e);
        free(ct);
        if (rc) break;
        char *argv[] = {"--config", cpath, "--data", dpath};
        ConfigLoadOptions lo = {0};
        lo.quiet = 1;
        Config *c = NULL;
        Err le = {0};
        if (config_load_with(&c, datasets ? 4 : 2, argv, &lo, &le) == 0) { config_free(c); break; }
        char *m1 = replace_all(le.msg, cpath, real_c);
        char *m2 = replace_all(m1, dpath, real_d ? real_d : "multidatabackend.json");
        char key[128], ds[256];
        message_key(m2, key, sizeof key, ds, sizeof ds);
        cJSON *x = cJSON_CreateObject();
        cJSON_AddItemToObject(x, "key", key[0] ? cJSON_CreateString(key) : cJSON_CreateNull());
        if (ds[0]) cJSON_AddStringToObject(x, "dataset", ds);
        cJSON_AddStringToObject(x, "message", m2);
        cJSON_AddItemToArray(errs, x);
        int dropped = key[0] && !ds[0] && drop_key(work, key);
        free(m1); free(m2);
        if (!dropped) break;
    }
    if (rc) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNullToObject(x, "key");
        cJSON_AddStringToObject(x, "message", e.msg);
        cJSON_AddItemToArray(errs, x);
    }
    cJSON_AddBoolToObject(out, "ok", cJSON_GetArraySize(errs) == 0);
    unlink(cpath); unlink(dpath); rmdir(dir);
    cJSON_Delete(work);
    free(dir); free(cpath); free(dpath); free(real_c); free(real_d);
    return out;
}

static int edit_body(const HttpRequest *q, HttpResponse *r, cJSON **body, const cJSON **config, const cJSON **datasets) {
    *body = server_json_body(q, r);
    if (!*body) return -1;
    *config = cJSON_GetObjectItemCaseSensitive(*body, "config");
    *datasets = cJSON_GetObjectItemCaseSensitive(*body, "datasets");
    if (!cJSON_IsObject(*config)) { http_error(r, 400, "expected {\"config\": {...}, \"datasets\": [...]}"); cJSON_Delete(*body); return -1; }
    if (*datasets && cJSON_IsNull(*datasets)) *datasets = NULL;
    if (*datasets && !cJSON_IsArray(*datasets)) { http_error(r, 400, "\"datasets\" must be a list of dataset objects"); cJSON_Delete(*body); return -1; }
    return 0;
}

static void validate_config(Server *s, const char *name, const HttpRequest *q, HttpResponse *r) {
    char *path = server_config_path(s, name, r);
    if (!path) return;
    free(path);
    cJSON *b; const cJSON *cfg, *ds;
    if (edit_body(q, r, &b, &cfg, &ds)) return;
    http_json(r, 200, validate_edit(s, name, cfg, ds));
    cJSON_Delete(b);
}

static void save_config(Server *s, const char *name, const HttpRequest *q, HttpResponse *r) {
    char *path = server_config_path(s, name, r);
    if (!path) return;
    cJSON *b; const cJSON *cfg, *ds;
    if (edit_body(q, r, &b, &cfg, &ds)) { free(path); return; }
    int drop = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b, "drop_comments"));
    Err e = {0};
    char *old = file_read_all(path, NULL, &e);
    const char *why = NULL;
    char *drel = ds ? datasets_rel(s, cfg, &why) : NULL;
    char *dold = drel ? file_read_all(drel, NULL, &e) : NULL;
    cJSON *v = NULL;
    if (ds && !drel) http_error(r, 400, "cannot save the datasets: %s", why);
    else if (!drop && ((old && has_comments(old)) || (dold && has_comments(dold)))) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "error", "the file has comments, which saving from the form would remove; "
                                            "send \"drop_comments\": true to save anyway");
        cJSON_AddBoolToObject(o, "comments", 1);
        http_json(r, 409, o);
    } else if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v = validate_edit(s, name, cfg, ds), "ok"))) {
        cJSON_AddStringToObject(v, "error", "not saved: the configuration has errors");
        http_json(r, 422, v);
        v = NULL;
    } else {
        char *ct = cJSON_Print(cfg);
        int rc = file_write_atomic(path, ct, strlen(ct), &e);
        free(ct);
        if (!rc && ds) { char *dt = cJSON_Print(ds); rc = file_write_atomic(drel, dt, strlen(dt), &e); free(dt); }
        if (rc) http_error(r, 500, "%s", e.msg);
        else {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddBoolToObject(o, "saved", 1);
            cJSON_AddStringToObject(o, "path", path + strlen(s->root) + 1);
            if (drel) cJSON_AddStringToObject(o, "datasets_path", drel);
            http_json(r, 200, o);
        }
    }
    cJSON_Delete(v);
    free(old); free(dold); free(drel); free(path);
    cJSON_Delete(b);
}

void api_configs(Server *s, const HttpRequest *q, const char *rest, HttpResponse *r) {
    const char *m = q->method;
    int get = !strcmp(m, "GET") || !strcmp(m, "HEAD");
    if (!*rest) {
        if (get) list_configs(s, r);
        else if (!strcmp(m, "POST")) create_config(s, q, r);
        else http_error(r, 405, "/api/configs: use GET or POST");
        return;
    }
    char name[128];
    const char *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    if (n >= sizeof name) { http_error(r, 400, "configuration name too long"); return; }
    memcpy(name, rest, n); name[n] = 0;
    const char *sub = slash ? slash + 1 : "";
    if (!*sub) {
        if (get) get_config(s, name, r);
        else if (!strcmp(m, "PUT")) save_config(s, name, q, r);
        else http_error(r, 405, "/api/configs/NAME: use GET or PUT");
    } else if (!strcmp(sub, "validate")) {
        if (!strcmp(m, "POST")) validate_config(s, name, q, r);
        else http_error(r, 405, "/api/configs/NAME/validate: use POST");
    } else if (!strcmp(sub, "inspect")) {
        if (get) api_inspect(s, q, name, r);
        else http_error(r, 405, "/api/configs/NAME/inspect: use GET");
    } else http_error(r, 404, "/api/configs/%s/%s: no such endpoint", name, sub);
}
