#include "data/dataset_cache.h"
#include "base/files.h"
#include "base/rng.h"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void finish(DataCacheKey *k, int n_sources) {
    k->key.dir = k->dir;
    k->key.name = k->name;
    k->key.settings = k->settings;
    k->key.sources = (const char *const *)k->source;
    k->key.n_sources = n_sources;
}

static char *geometry_text(const SampleGeometry *g) {
    return xasprintf("orig=%dx%d;resize=%dx%d;crop=%d,%d;target=%dx%d", g->orig_w, g->orig_h, g->inter_w, g->inter_h,
                     g->crop_x, g->crop_y, g->target_w, g->target_h);
}

int data_vae_cache_key(const DataGroup *g, int set, int item, int ref, const char *model, DataCacheKey *out, Err *e) {
    memset(out, 0, sizeof *out);
    const DataItem *it = &g->sets[set].items[item];
    DataSource src;
    if (data_sample_source(g, set, item, ref, &src, e)) return -1;
    const Dataset *owner = src.owner;
    if (!owner->spec.cache_dir_vae || !owner->spec.cache_dir_vae[0])
        return err_setc(e, EXIT_USAGE, "dataset \"%s\": no cache_dir_vae", owner->spec.id);
    out->dir = xstrdup(owner->spec.cache_dir_vae);
    /* named after the EDIT image: a reference's latent depends on that sample's geometry, and two edit
     * images may share one reference file (a.jpg and a.webp both pairing with a.png) */
    out->name = xstrdup(it->rel);
    char *gt = geometry_text(src.geom);
    out->settings = xasprintf("model=%s;%s", model, gt);
    free(gt);
    out->source[0] = path_join(owner->spec.instance_data_dir, src.rel);
    finish(out, 1);
    return 0;
}

int data_text_cache_key(const DataGroup *g, int set, int item, const char *caption, const char *text_dir,
                        const char *model, DataCacheKey *out, Err *e) {
    memset(out, 0, sizeof *out);
    if (!text_dir || !text_dir[0]) return err_setc(e, EXIT_USAGE, "no text embed cache directory (cache_dir_text)");
    const Dataset *d = &g->sets[set];
    const DataItem *it = &d->items[item];
    uint64_t h = hash64(caption, strlen(caption), 0x7E47u);
    out->dir = xstrdup(text_dir);
    out->name = xasprintf("%s/%s.%016" PRIx64, d->spec.id, it->rel, h);
    for (int k = 0; k < d->n_cond; k++) {
        const Dataset *c = &g->sets[d->cond[k]];
        out->source[k] = path_join(c->spec.instance_data_dir, c->items[it->refs[k].item].rel);
    }
    /* the prompt encoder sees the reference files as read (its processor resizes them itself), so
     * the references count as sources but their training crop does not */
    char *s = xasprintf("model=%s;caption=%s", model, caption);
    out->settings = s;
    finish(out, d->n_cond);
    return 0;
}

void data_dropout_cache_key(const char *text_dir, const char *model, DataCacheKey *out) {
    memset(out, 0, sizeof *out);
    out->dir = xstrdup(text_dir);
    out->name = xstrdup("__caption_dropout__");
    out->settings = xasprintf("model=%s;caption=", model);
    finish(out, 0);
}

void data_cache_key_free(DataCacheKey *k) {
    free(k->dir); free(k->name); free(k->settings);
    for (int i = 0; i < DATA_MAX_REFS; i++) free(k->source[i]);
    memset(k, 0, sizeof *k);
}
