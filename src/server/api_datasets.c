/* api_datasets.c — the Datasets page:
 *   GET /api/configs/NAME/inspect?pairs=N   what `simpletuner dataset inspect` reports (images found
 *        and skipped with reasons, pairing with the missing pairs, buckets, the problems training
 *        would stop with) as JSON, plus the first N pairs (default 8, at most 64) of every edit
 *        dataset: image, references and instruction, with thumbnail links
 *   GET /api/thumbs/I?size=S   a PNG thumbnail (longest edge S, default 192, 16..512) of a file an
 *        inspection listed. Clients name files only by these numbers, never by path. */
#include "server/server_internal.h"
#include "base/files.h"
#include "config/config.h"
#include "data/dataset_config.h"
#include "image/image_io.h"
#include "image/image_resize.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int server_thumb_add(Server *s, const char *path) {
    pthread_mutex_lock(&s->mu);
    int i = s->next_thumb++ % SERVER_THUMBS;
    free(s->thumbs[i]);
    s->thumbs[i] = xstrdup(path);
    int id = s->next_thumb - 1;
    pthread_mutex_unlock(&s->mu);
    return id;
}

static cJSON *thumb_link(Server *s, char *path) {
    char url[64];
    snprintf(url, sizeof url, "/api/thumbs/%d", server_thumb_add(s, path));
    free(path);
    return cJSON_CreateString(url);
}

static cJSON *pairs_json(Server *s, DataGroup *g, int max_pairs) {
    cJSON *all = cJSON_CreateArray();
    for (int si = 0; si < g->n; si++) {
        const Dataset *d = &g->sets[si];
        if (d->spec.disabled || d->spec.is_conditioning) continue;
        cJSON *set = cJSON_CreateObject(), *items = cJSON_CreateArray();
        cJSON_AddStringToObject(set, "dataset", d->spec.id);
        for (int i = 0; i < d->n_items && i < max_pairs; i++) {
            const DataItem *it = &d->items[i];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "file", it->rel);
            cJSON_AddStringToObject(o, "instruction", it->captions.n ? it->captions.text[0] : "");
            cJSON_AddItemToObject(o, "image", thumb_link(s, data_item_path(g, si, i)));
            cJSON *refs = cJSON_AddArrayToObject(o, "references");
            for (int k = 0; k < d->n_cond; k++) {
                int ri = it->refs[k].item;
                if (ri < 0) continue;
                const Dataset *c = &g->sets[d->cond[k]];
                cJSON *ref = cJSON_CreateObject();
                cJSON_AddStringToObject(ref, "dataset", c->spec.id);
                cJSON_AddStringToObject(ref, "file", c->items[ri].rel);
                cJSON_AddItemToObject(ref, "image", thumb_link(s, data_item_path(g, d->cond[k], ri)));
                cJSON_AddItemToArray(refs, ref);
            }
            cJSON_AddItemToArray(items, o);
        }
        cJSON_AddItemToObject(set, "pairs", items);
        cJSON_AddItemToArray(all, set);
    }
    return all;
}

void api_inspect(Server *s, const HttpRequest *q, const char *name, HttpResponse *r) {
    char *path = server_config_path(s, name, r);
    if (!path) return;
    free(path);
    int max_pairs = 8;
    const char *pv = http_query(q, "pairs");
    if (pv) {
        char *end;
        long v = strtol(pv, &end, 10);
        if (*end || end == pv || v < 0 || v > 64) { http_error(r, 400, "pairs: expected 0..64, got '%s'", pv); return; }
        max_pairs = (int)v;
    }
    Err e = {0};
    Config *c = server_load_config(s, name, 1, &e);
    if (!c) { http_error(r, 422, "%s", e.msg); return; }
    DataSpecs ds;
    DataGroup g;
    int rc = data_specs_from_config(c, 0, &ds, &e);
    if (!rc) {
        ds.opt.report_only = 1;
        rc = data_load(ds.specs, ds.n, &ds.opt, &g, &e);
        if (!rc) {
            cJSON *j = data_summary_json(&g, 200);
            cJSON_AddItemToObject(j, "samples", pairs_json(s, &g, max_pairs));
            cJSON_AddStringToObject(j, "config", name);
            http_json(r, 200, j);
            data_free(&g);
        }
        data_specs_free(&ds);
    }
    if (rc) http_error(r, e.code == EXIT_USAGE ? 422 : 500, "%s", e.msg);
    config_free(c);
}

void api_thumb(Server *s, const HttpRequest *q, const char *rest, HttpResponse *r) {
    if (strcmp(q->method, "GET") && strcmp(q->method, "HEAD")) { http_error(r, 405, "use GET"); return; }
    char *end;
    long id = strtol(rest, &end, 10);
    if (!*rest || *end || id < 0) { http_error(r, 400, "thumbnail: expected a number, got '%s'", rest); return; }
    int size = 192;
    const char *sv = http_query(q, "size");
    if (sv) {
        long v = strtol(sv, &end, 10);
        if (*end || end == sv || v < 16 || v > 512) { http_error(r, 400, "size: expected 16..512, got '%s'", sv); return; }
        size = (int)v;
    }
    pthread_mutex_lock(&s->mu);
    char *path = id < s->next_thumb && id >= s->next_thumb - SERVER_THUMBS ? xstrdup(s->thumbs[id % SERVER_THUMBS]) : NULL;
    pthread_mutex_unlock(&s->mu);
    if (!path) { http_error(r, 404, "thumbnail %ld: unknown or expired (inspect the dataset again)", id); return; }
    Err e = {0};
    Image im = {0}, small = {0};
    int rc = image_read(path, &im, &e);
    if (!rc) {
        int w = im.width, h = im.height;
        if (w >= h && w > size) { h = (int)((long)h * size / w); w = size; }
        else if (h > w && h > size) { w = (int)((long)w * size / h); h = size; }
        if (w < 1) w = 1;
        if (h < 1) h = 1;
        rc = image_resize(&im, w, h, RESAMPLE_BILINEAR, &small, &e);
    }
    uint8_t *png = NULL;
    size_t len = 0;
    if (!rc) rc = image_encode_png(small.data, small.width, small.height, small.channels, 8, &png, &len, &e);
    if (rc) http_error(r, 422, "%s", e.msg);
    else {
        r->status = 200;
        r->content_type = "image/png";
        r->body = (char *)png;
        r->len = len;
    }
    image_free(&im); image_free(&small);
    free(path);
}
