#include "data/dataset.h"
#include "base/interrupt.h"
#include "data/discovery.h"
#include "image/image_io.h"
#include <math.h>
#include "image/image_resize.h"
#include "base/files.h"
#include "base/rng.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_MAX 10
/* The skip reason of an edit image without a reference (data_summary_json lists these as missing pairs). */
#define NO_REFERENCE_REASON "no reference in dataset \"%s\""

/* Per-set scratch while loading: every discovered file and the item it became (-1 = skipped). */
typedef struct Scan {
    FileList files;
    int *file_item;
} Scan;

static void skip_add(Dataset *d, const char *rel, const char *reason) {
    d->skipped = xrealloc(d->skipped, sizeof(DataSkip) * (d->n_skipped + 1));
    d->skipped[d->n_skipped].rel = xstrdup(rel);
    d->skipped[d->n_skipped].reason = xstrdup(reason);
    d->n_skipped++;
}

static int find_set(const DataGroup *g, const char *id) {
    for (int i = 0; i < g->n; i++) if (!strcmp(g->sets[i].spec.id, id)) return i;
    return -1;
}

/* max_num_samples: keeps a subset of the discovered files that depends on the dataset id only (the
 * sorted list shuffled with a generator seeded from the id), in discovery order. As in SimpleTuner
 * it is taken before any filter, so fewer may remain once unreadable or excluded images are gone. */
static void subset_files(Dataset *d, FileList *files) {
    int n = files->n, keep = d->spec.max_num_samples;
    Rng rng;
    rng_seed(&rng, hash64(d->spec.id, strlen(d->spec.id), 0x6d61785f6e756dull));
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(&rng, (uint64_t)i + 1);
        char *t = files->rel[i]; files->rel[i] = files->rel[j]; files->rel[j] = t;
    }
    for (int i = keep; i < n; i++) free(files->rel[i]);
    files->n = keep;
    filelist_sort(files);
    log_info("dataset \"%s\": max_num_samples %d: using %d of the %d images found", d->spec.id, keep, keep, n);
}

/* Discovers and decodes every image of a set: size and integrity. Decoding runs in parallel (each
 * file is independent); results are then taken in file order so messages and strict failures are
 * the same on every run. */
static int scan_set(Dataset *d, Scan *sc, int strict, Err *e) {
    FileList links;
    if (discover_images(d->spec.instance_data_dir, &sc->files, &links, e))
        return err_prefix(e, "dataset \"%s\": instance_data_dir", d->spec.id);
    if (links.n) {
        char names[1024] = "";
        size_t k = 0;
        for (int i = 0; i < links.n && i < LIST_MAX && k < sizeof names; i++)
            k += (size_t)snprintf(names + k, sizeof names - k, "%s%s", i ? ", " : "", links.rel[i]);
        log_warn("dataset \"%s\": %s: skipped %d symlinked folder%s whose target was already visited (a link loop "
                 "such as `a -> .`, or a second link to one folder): %s%s", d->spec.id, d->spec.instance_data_dir, links.n,
                 links.n == 1 ? "" : "s", names, links.n > LIST_MAX ? " and more" : "");
    }
    filelist_free(&links);
    d->n_found = sc->files.n;
    if (d->spec.max_num_samples > 0 && sc->files.n > d->spec.max_num_samples) subset_files(d, &sc->files);
    int n = sc->files.n;
    sc->file_item = xmalloc(sizeof(int) * (n + 1));
    d->items = xcalloc((size_t)n + 1, sizeof(DataItem));
    int *w = xcalloc((size_t)n + 1, sizeof(int)), *h = xcalloc((size_t)n + 1, sizeof(int));
    char **bad = xcalloc((size_t)n + 1, sizeof(char *));
    #pragma omp parallel for schedule(dynamic, 4)
    for (int i = 0; i < n; i++) {
        if (interrupt_requested()) continue;   /* Ctrl-C: the scan is dropped below */
        char *path = path_join(d->spec.instance_data_dir, sc->files.rel[i]);
        Image im;
        Err ie = {0};
        if (image_read(path, &im, &ie)) bad[i] = xstrdup(ie.msg);
        else { w[i] = im.width; h[i] = im.height; image_free(&im); }
        free(path);
    }
    int rc = interrupt_check(e, "while reading the datasets");
    for (int i = 0; i < n && !rc; i++) {
        if (bad[i]) {
            if (strict) {
                rc = err_setc(e, EXIT_RUNTIME, "dataset \"%s\": %s (strict mode: fix or remove the file)", d->spec.id, bad[i]);
                break;
            }
            log_warn("dataset \"%s\": skipping %s", d->spec.id, bad[i]);
            skip_add(d, sc->files.rel[i], bad[i]);
            sc->file_item[i] = -1;
            continue;
        }
        DataItem *it = &d->items[d->n_items];
        it->rel = xstrdup(sc->files.rel[i]);
        it->geom.orig_w = w[i]; it->geom.orig_h = h[i];
        it->bucket = -1;
        sc->file_item[i] = d->n_items++;
    }
    for (int i = 0; i < n; i++) free(bad[i]);
    free(bad); free(w); free(h);
    return rc;
}

/* Appends "a, b, c and N more" (at most LIST_MAX names) to a growing message. */
static char *append_list(char *msg, const char *head, char **names, int n) {
    size_t len = strlen(msg) + strlen(head) + 64;
    for (int i = 0; i < n && i < LIST_MAX; i++) len += strlen(names[i]) + 2;
    char *s = xmalloc(len);
    size_t k = (size_t)snprintf(s, len, "%s%s%s", msg, msg[0] ? "\n" : "", head);
    for (int i = 0; i < n && i < LIST_MAX; i++) k += (size_t)snprintf(s + k, len - k, "%s%s", i ? ", " : "", names[i]);
    if (n > LIST_MAX) snprintf(s + k, len - k, " and %d more", n - LIST_MAX);
    free(msg);
    return s;
}

/* Captions of every usable item. Missing caption files make one error listing them; in report mode
 * (lenient) the items are skipped instead and the error text is appended to *problems. */
static int load_captions(Dataset *d, int lenient, char **problems, Err *e) {
    /* a strict reference set has no geometry of its own: every readable image may be drawn */
    int every_item = d->spec.is_conditioning;
    if (caption_spec_check(&d->spec.captions, d->spec.id, e)) return -1;
    char **missing = NULL;
    int n_missing = 0, rc = -1;
    for (int i = 0; i < d->n_items; i++) {
        DataItem *it = &d->items[i];
        if (it->geom.target_w == 0 && !every_item) continue;
        Err ce = {0};
        if (caption_load(&d->spec.captions, d->spec.instance_data_dir, it->rel, &it->captions, &ce)) {
            if (!strstr(ce.msg, ": caption file not found")) { *e = ce; goto done; }
            missing = xrealloc(missing, sizeof(char *) * (n_missing + 1));
            missing[n_missing++] = caption_file_path(d->spec.instance_data_dir, it->rel);
            if (lenient && !every_item) { skip_add(d, it->rel, ce.msg); it->geom.target_w = it->geom.target_h = 0; }
        }
    }
    d->n_missing_captions = n_missing;
    if (n_missing) {
        char head[512];
        snprintf(head, sizeof head, "dataset \"%s\" (caption_strategy textfile): %d of %d images have no caption file: ",
                 d->spec.id, n_missing, d->n_items);
        char *msg = append_list(xstrdup(""), head, missing, n_missing);
        if (lenient) {
            char *m = xasprintf("%s%s%s", *problems, (*problems)[0] ? "\n" : "", msg);
            free(*problems); *problems = m;
        } else {
            err_setc(e, EXIT_USAGE, "%s", msg);
            free(msg);
            goto done;
        }
        free(msg);
    }
    rc = 0;
done:
    for (int i = 0; i < n_missing; i++) free(missing[i]);
    free(missing);
    return rc;
}

/* Geometry of every item; items a filter excludes are marked with target 0 (and skipped for image
 * sets once pairing is done). */
static int place_items(Dataset *d, Err *e) {
    for (int i = 0; i < d->n_items; i++) {
        DataItem *it = &d->items[i];
        char why[256] = "";
        int rc = bucket_geometry(&d->spec.buckets, it->geom.orig_w, it->geom.orig_h, it->rel, &it->geom, why, sizeof why, e);
        if (rc < 0) return err_prefix(e, "dataset \"%s\"", d->spec.id);
        if (rc > 0) { it->geom.target_w = it->geom.target_h = 0; skip_add(d, it->rel, why); }
    }
    return 0;
}

static void item_free(DataItem *it) { free(it->rel); caption_list_free(&it->captions); }

/* Drops items whose target is 0 (filtered or missing a usable reference), keeping order. */
static void compact(Dataset *d) {
    int k = 0;
    for (int i = 0; i < d->n_items; i++) {
        if (d->items[i].geom.target_w == 0) { item_free(&d->items[i]); continue; }
        d->items[k++] = d->items[i];
    }
    d->n_items = k;
}

static int cmp_wh(const void *a, const void *b) {
    const int *x = a, *y = b;
    return x[0] != y[0] ? x[0] - y[0] : x[1] - y[1];
}

static void build_buckets(Dataset *d) {
    d->bucket_wh = xmalloc(sizeof(int[2]) * (d->n_items + 1));
    int nb = 0;
    for (int i = 0; i < d->n_items; i++) {
        int w = d->items[i].geom.target_w, h = d->items[i].geom.target_h, seen = 0;
        for (int b = 0; b < nb && !seen; b++) seen = d->bucket_wh[b][0] == w && d->bucket_wh[b][1] == h;
        if (!seen) { d->bucket_wh[nb][0] = w; d->bucket_wh[nb][1] = h; nb++; }
    }
    qsort(d->bucket_wh, nb, sizeof(int[2]), cmp_wh);
    d->n_buckets = nb;
    d->bucket_count = xcalloc((size_t)nb + 1, sizeof(int));
    for (int i = 0; i < d->n_items; i++) {
        for (int b = 0; b < nb; b++)
            if (d->bucket_wh[b][0] == d->items[i].geom.target_w && d->bucket_wh[b][1] == d->items[i].geom.target_h) {
                d->items[i].bucket = b; d->bucket_count[b]++; break;
            }
    }
}

/* Pairs image set `s` with each of its conditioning sets; missing pairs add lines to *missing_msg. */
static int pair_set(DataGroup *g, int s, Scan *scans, char **missing_msg, Err *e) {
    Dataset *d = &g->sets[s];
    FileList edit = {0};
    for (int i = 0; i < d->n_items; i++) filelist_add(&edit, d->items[i].rel); /* already sorted */
    for (int k = 0; k < d->n_cond; k++) {
        Dataset *c = &g->sets[d->cond[k]];
        Scan *cs = &scans[d->cond[k]];
        int *ref = xmalloc(sizeof(int) * (edit.n + 1));
        PairNames nm = { d->spec.id, c->spec.id, c->spec.instance_data_dir };
        if (pair_images(&nm, &edit, &cs->files, ref, &d->pair[k], e)) { free(ref); filelist_free(&edit); return -1; }
        if (d->pair[k].missing) {
            char *line = pair_missing_message(&nm, &edit, ref, d->pair[k].missing);
            char *m = xasprintf("%s%s%s", *missing_msg, (*missing_msg)[0] ? "\n" : "", line);
            free(*missing_msg); free(line);
            *missing_msg = m;
        }
        int stretched = 0;
        char example[512] = "";
        for (int i = 0; i < d->n_items; i++) {
            DataItem *it = &d->items[i];
            if (ref[i] < 0) {
                it->refs[k].item = -1;
                if (it->geom.target_w) {
                    char why[256];
                    snprintf(why, sizeof why, NO_REFERENCE_REASON, c->spec.id);
                    skip_add(d, it->rel, why);
                    it->geom.target_w = it->geom.target_h = 0;
                }
                continue;
            }
            int ri = cs->file_item[ref[i]];
            it->refs[k].item = ri;
            if (it->geom.target_w == 0) continue;
            char why[512];
            if (ri < 0) {
                snprintf(why, sizeof why, "its reference \"%s\" in dataset \"%s\" is unreadable", cs->files.rel[ref[i]], c->spec.id);
                skip_add(d, it->rel, why);
                it->geom.target_w = it->geom.target_h = 0;
                continue;
            }
            const DataItem *r = &c->items[ri];
            if (c->spec.conditioning_type == COND_REFERENCE_LOOSE) {
                if (r->geom.target_w == 0) {
                    snprintf(why, sizeof why, "its reference \"%s\" in dataset \"%s\" was excluded", r->rel, c->spec.id);
                    skip_add(d, it->rel, why);
                    it->geom.target_w = it->geom.target_h = 0;
                    continue;
                }
                it->refs[k].geom = r->geom;
            } else { /* strict: the edit image's resize and crop, from the reference's own size */
                it->refs[k].geom = it->geom;
                it->refs[k].geom.orig_w = r->geom.orig_w;
                it->refs[k].geom.orig_h = r->geom.orig_h;
                /* another aspect than its edit image's: the resize stretches it (said once per set below) */
                double ar = (double)r->geom.orig_w / r->geom.orig_h, ae = (double)it->geom.orig_w / it->geom.orig_h;
                if (fabs(ar / ae - 1.0) > 0.01 && stretched++ == 0)
                    snprintf(example, sizeof example, "%s is %dx%d, its edit image %s %dx%d", r->rel, r->geom.orig_w, r->geom.orig_h, it->rel,
                             it->geom.orig_w, it->geom.orig_h);
            }
        }
        if (stretched)
            log_warn("dataset \"%s\" (reference_strict): %d of %d references have another aspect ratio than their edit image (e.g. %s); "
                     "each is resized to its edit image's size and crop, so it is stretched (conditioning_type reference_loose keeps a "
                     "reference's own aspect)", c->spec.id, stretched, d->n_items, example);
        free(ref);
    }
    filelist_free(&edit);
    return 0;
}

/* Links image sets to their conditioning sets and gives those the source's size settings
 * (SimpleTuner's synchronize_conditioning_settings). */
static int link_sets(DataGroup *g, Err *e) {
    for (int i = 0; i < g->n; i++) {
        for (int j = 0; j < i; j++)
            if (!strcmp(g->sets[i].spec.id, g->sets[j].spec.id))
                return err_setc(e, EXIT_USAGE, "dataset id \"%s\" is used twice; ids must be unique", g->sets[i].spec.id);
    }
    for (int i = 0; i < g->n; i++) {
        Dataset *d = &g->sets[i];
        if (d->spec.disabled || d->spec.is_conditioning) continue;
        if (d->spec.n_conditioning_data > DATA_MAX_REFS)
            return err_setc(e, EXIT_USAGE, "dataset \"%s\": %d conditioning datasets, at most %d are supported", d->spec.id,
                            d->spec.n_conditioning_data, DATA_MAX_REFS);
        for (int k = 0; k < d->spec.n_conditioning_data; k++) {
            const char *id = d->spec.conditioning_data[k];
            int j = find_set(g, id);
            if (j < 0) return err_setc(e, EXIT_USAGE, "dataset \"%s\": conditioning_data names \"%s\", which is not defined", d->spec.id, id);
            Dataset *c = &g->sets[j];
            if (!c->spec.is_conditioning)
                return err_setc(e, EXIT_USAGE, "dataset \"%s\": conditioning_data names \"%s\", which is not a conditioning dataset", d->spec.id, id);
            if (c->spec.disabled)
                return err_setc(e, EXIT_USAGE, "dataset \"%s\": conditioning_data names \"%s\", which is disabled", d->spec.id, id);
            d->cond[d->n_cond++] = j;
            if (c->source >= 0) continue; /* shared (e.g. by a training and an eval set): the first lister's sizes */
            c->source = i;
            BucketParams *cb = &c->spec.buckets;
            const BucketParams *sb = &d->spec.buckets;
            cb->type = sb->type; cb->resolution = sb->resolution; cb->alignment = sb->alignment; cb->rounding = sb->rounding;
            cb->minimum_image_size = sb->minimum_image_size; cb->maximum_image_size = sb->maximum_image_size;
            cb->target_downsample_size = sb->target_downsample_size;
        }
    }
    return 0;
}

static int n_reference_sets(const DataGroup *g, const Dataset *d) {
    int n = 0;
    for (int k = 0; k < d->n_cond; k++) n += g->sets[d->cond[k]].spec.conditioning_type != COND_MASK;
    return n;
}

/* Which reference sets' captions replace the edit captions (random mode, two or more references);
 * captions given to a reference set that can never be drawn that way are reported as unused. */
static void mark_caption_replacement(DataGroup *g) {
    for (int i = 0; i < g->n; i++) {
        const Dataset *d = &g->sets[i];
        if (d->spec.disabled || d->spec.is_conditioning) continue;
        if (g->opt.multi_cond != MULTI_COND_RANDOM || n_reference_sets(g, d) < 2) continue;
        for (int k = 0; k < d->n_cond; k++) {
            Dataset *c = &g->sets[d->cond[k]];
            if (c->spec.conditioning_type != COND_MASK && c->spec.captions.strategy != CAPTION_NONE) c->captions_replace = 1;
        }
    }
    for (int i = 0; i < g->n; i++) {
        const Dataset *c = &g->sets[i];
        if (c->spec.is_conditioning && c->source >= 0 && c->spec.captions.strategy != CAPTION_NONE && !c->captions_replace)
            log_warn("dataset \"%s\": its captions are not used: a reference set's captions replace the edit captions only "
                     "with conditioning_multidataset_sampling=random and two or more reference sets", c->spec.id);
    }
}

/* Samples a bucket needs to be kept: the effective batch (batch size x gradient accumulation). */
static int bucket_minimum(const DataGroup *g, const Dataset *d) {
    int acc = g->opt.gradient_accumulation_steps > 1 ? g->opt.gradient_accumulation_steps : 1;
    return d->spec.batch_size * acc;
}

int data_load(const DatasetSpec *specs, int n, const DataOptions *opt, DataGroup *g, Err *e) {
    memset(g, 0, sizeof *g);
    g->n = n;
    g->sets = xcalloc((size_t)n + 1, sizeof(Dataset));
    g->opt = *opt;
    for (int i = 0; i < n; i++) { g->sets[i].spec = specs[i]; g->sets[i].source = -1; }
    Scan *scans = xcalloc((size_t)n + 1, sizeof(Scan));
    char *missing = xstrdup(""), *problems = xstrdup("");
    int rc = -1;
    if (link_sets(g, e)) goto done;
    mark_caption_replacement(g);
    for (int i = 0; i < n; i++) {
        Dataset *d = &g->sets[i];
        if (d->spec.disabled) continue;
        if (d->spec.is_conditioning && d->source < 0) {
            log_warn("conditioning dataset \"%s\" is not listed in any dataset's conditioning_data; it is not used", d->spec.id);
            continue;
        }
        if (scan_set(d, &scans[i], g->opt.strict, e)) goto done;
        if ((!d->spec.is_conditioning || d->spec.conditioning_type == COND_REFERENCE_LOOSE) && place_items(d, e)) goto done;
        if ((!d->spec.is_conditioning || d->captions_replace) && load_captions(d, g->opt.report_only, &problems, e)) goto done;
    }
    for (int i = 0; i < n; i++) {
        Dataset *d = &g->sets[i];
        if (d->spec.disabled || d->spec.is_conditioning) continue;
        if (pair_set(g, i, scans, &missing, e)) goto done;
    }
    if (missing[0]) {
        if (!g->opt.report_only) { err_setc(e, EXIT_USAGE, "%s", missing); goto done; }
        char *m = xasprintf("%s%s%s", problems, problems[0] ? "\n" : "", missing);
        free(problems); problems = m;
    }
    for (int i = 0; i < n; i++) {
        Dataset *d = &g->sets[i];
        if (d->spec.disabled || d->spec.is_conditioning) continue;
        compact(d);
        build_buckets(d);
        if (d->n_items == 0) { log_warn("dataset \"%s\" has no usable images (%d found, %d skipped)", d->spec.id, d->n_found, d->n_skipped); continue; }
        if (!g->opt.report_only)
            log_info("dataset \"%s\": %d images found, %d used, %d skipped%s, %d aspect bucket%s", d->spec.id, d->n_found,
                     d->n_items, d->n_skipped, d->n_skipped ? " (reasons: simpletuner dataset inspect)" : "", d->n_buckets,
                     d->n_buckets == 1 ? "" : "s");
        if (d->spec.is_eval) continue;
        if (g->n_train == (int)(sizeof g->train_set / sizeof *g->train_set)) { err_setc(e, EXIT_USAGE, "more than 64 image datasets"); goto done; }
        g->train_set[g->n_train++] = i;
    }
    if (problems[0]) { g->problems = problems; problems = NULL; }
    if (g->n_train == 0) {
        if (g->opt.report_only || g->opt.validation_only) { rc = 0; goto done; }
        const char *eval_id = NULL;
        for (int i = 0; i < n && !eval_id; i++)
            if (g->sets[i].spec.is_eval && !g->sets[i].spec.disabled && g->sets[i].n_items > 0) eval_id = g->sets[i].spec.id;
        if (eval_id)
            err_setc(e, EXIT_USAGE, "no image dataset to train on: \"%s\" is an eval dataset (dataset_type eval, or named by "
                                    "eval_dataset_id), which validation uses and training leaves out, as SimpleTuner does; add a "
                                    "dataset to train on, or remove it from eval_dataset_id", eval_id);
        else err_setc(e, EXIT_USAGE, "no image dataset has usable images to train on");
        goto done;
    }
    SamplerSource *src = xcalloc((size_t)g->n_train, sizeof *src);
    int **bk = xcalloc((size_t)g->n_train, sizeof(int *));
    for (int t = 0; t < g->n_train; t++) {
        Dataset *d = &g->sets[g->train_set[t]];
        bk[t] = xmalloc(sizeof(int) * (d->n_items + 1));
        for (int i = 0; i < d->n_items; i++) bk[t][i] = d->items[i].bucket;
        src[t] = (SamplerSource){ d->spec.id, d->n_items, bk[t], d->n_buckets, d->spec.repeats, d->spec.probability,
                                  d->spec.batch_size, bucket_minimum(g, d), g->opt.disable_bucket_pruning,
                                  d->spec.start_epoch, d->spec.start_step, d->spec.end_epoch, d->spec.end_step };
    }
    rc = sampler_init(&g->sampler, src, g->n_train, g->opt.seed, g->opt.weighting, g->opt.gradient_accumulation_steps, e);
    if (rc && g->opt.report_only) { /* the sampler's complaint becomes one more problem to report */
        char *m = xasprintf("%s%s%s", g->problems ? g->problems : "", g->problems ? "\n" : "", e->msg);
        free(g->problems); g->problems = m;
        rc = 0;
    }
    for (int t = 0; t < g->n_train; t++) free(bk[t]);
    free(bk); free(src);
done:
    for (int i = 0; i < n; i++) { filelist_free(&scans[i].files); free(scans[i].file_item); }
    free(scans); free(missing); free(problems);
    if (rc) { data_free(g); }
    return rc;
}

void data_free(DataGroup *g) {
    for (int i = 0; i < g->n; i++) {
        Dataset *d = &g->sets[i];
        for (int k = 0; k < d->n_items; k++) item_free(&d->items[k]);
        free(d->items);
        for (int k = 0; k < d->n_skipped; k++) { free(d->skipped[k].rel); free(d->skipped[k].reason); }
        free(d->skipped); free(d->bucket_wh); free(d->bucket_count);
    }
    free(g->sets);
    free(g->problems);
    if (g->sampler.src) sampler_free(&g->sampler);
    memset(g, 0, sizeof *g);
}

char *data_item_path(const DataGroup *g, int set, int item) {
    return path_join(g->sets[set].spec.instance_data_dir, g->sets[set].items[item].rel);
}

int data_next_batch(DataGroup *g, DataBatch *b, Err *e) {
    SamplerBatch sb;
    if (sampler_next(&g->sampler, &sb, e)) return -1;
    int s = g->train_set[sb.dataset];
    const Dataset *d = &g->sets[s];
    if (b->cap < sb.n) { b->cap = sb.n; b->samples = xrealloc(b->samples, sizeof(DataSample) * b->cap); }
    b->epoch = sb.epoch; b->set = s; b->bucket = sb.bucket; b->n = sb.n;
    b->width = d->bucket_wh[sb.bucket][0]; b->height = d->bucket_wh[sb.bucket][1];
    for (int i = 0; i < sb.n; i++) {
        DataSample *x = &b->samples[i];
        const DataItem *it = &d->items[sb.items[i]];
        memset(x, 0, sizeof *x);
        x->set = s; x->item = sb.items[i]; x->rel = it->rel;
        x->caption_dropped = caption_dropped(d->spec.caption_dropout_probability, g->opt.seed, sb.epoch, d->spec.id, it->rel);
        x->caption = x->caption_dropped ? "" : caption_pick(&it->captions, g->opt.seed, sb.epoch, d->spec.id, it->rel);
        x->mask_slot = -1;
        if (d->n_cond == 0) continue;
        /* a mask set weights the loss; the references (all, or one in random mode) are the inputs */
        int refs[DATA_MAX_REFS], nr = 0;
        for (int k = 0; k < d->n_cond; k++) {
            if (g->sets[d->cond[k]].spec.conditioning_type == COND_MASK) x->mask_slot = k;
            else refs[nr++] = k;
        }
        if (nr == 0) continue;
        if (g->opt.multi_cond == MULTI_COND_COMBINED || nr == 1) {
            for (int j = 0; j < nr; j++) { int k = refs[j]; x->ref_set[j] = d->cond[k]; x->ref_slot[j] = k; x->ref[j] = &it->refs[k]; }
            x->n_refs = nr;
        } else {
            int k = refs[sampler_pick_reference(g->opt.seed, sb.epoch, it->rel, nr)];
            x->ref_set[0] = d->cond[k]; x->ref_slot[0] = k; x->ref[0] = &it->refs[k];
            x->n_refs = 1;
            const Dataset *c = &g->sets[d->cond[k]];
            if (c->captions_replace && !x->caption_dropped) {
                const DataItem *r = &c->items[it->refs[k].item];
                const char *rc = caption_pick(&r->captions, g->opt.seed, sb.epoch, c->spec.id, r->rel);
                if (rc[0]) x->caption = rc;
            }
        }
    }
    return 0;
}

int data_sample_source(const DataGroup *g, int set, int item, int ref, DataSource *out, Err *e) {
    const Dataset *d = &g->sets[set];
    const DataItem *it = &d->items[item];
    *out = (DataSource){d, it->rel, &it->geom};
    if (ref < 0) return 0;
    if (ref >= d->n_cond) return err_set(e, "dataset \"%s\": reference %d requested, it has %d", d->spec.id, ref, d->n_cond);
    out->owner = &g->sets[d->cond[ref]];
    out->rel = out->owner->items[it->refs[ref].item].rel;
    out->geom = &it->refs[ref].geom;
    return 0;
}

int data_sample_image(const DataGroup *g, int set, int item, int ref, DataResizeFn resize, Image *out, Err *e) {
    memset(out, 0, sizeof *out);
    DataSource src;
    if (data_sample_source(g, set, item, ref, &src, e)) return -1;
    const SampleGeometry *geom = src.geom;
    char *path = path_join(src.owner->spec.instance_data_dir, src.rel);
    Image im;
    int rc = image_read(path, &im, e);
    if (!rc && (im.width != geom->orig_w || im.height != geom->orig_h))
        rc = err_set(e, "%s: is now %dx%d, was %dx%d when the dataset was loaded", path, im.width, im.height, geom->orig_w, geom->orig_h);
    free(path);
    if (rc) { image_free(&im); return -1; }
    if (im.width != geom->inter_w || im.height != geom->inter_h) {
        Image r;
        if ((resize ? resize : image_resize_lanczos)(&im, geom->inter_w, geom->inter_h, &r, e)) { image_free(&im); return -1; }
        image_free(&im);
        im = r;
    }
    if (im.width == geom->target_w && im.height == geom->target_h) { *out = im; return 0; }
    rc = image_crop(&im, geom->crop_x, geom->crop_y, geom->target_w, geom->target_h, out, e);
    image_free(&im);
    return rc;
}

void data_batch_free(DataBatch *b) { free(b->samples); memset(b, 0, sizeof *b); }

static const char *cond_name(ConditioningType t) {
    return t == COND_REFERENCE_LOOSE ? "reference_loose" : t == COND_REFERENCE_STRICT ? "reference_strict" : t == COND_MASK ? "mask" : "none";
}

void data_summary_print(const DataGroup *g, FILE *f) {
    for (int i = 0; i < g->n; i++) {
        const Dataset *d = &g->sets[i];
        if (d->spec.disabled) { fprintf(f, "dataset \"%s\": disabled\n", d->spec.id); continue; }
        if (d->spec.is_conditioning) {
            fprintf(f, "dataset \"%s\" (%s, %s of \"%s\"): %d images found, %d unreadable\n", d->spec.id, d->spec.instance_data_dir,
                    cond_name(d->spec.conditioning_type), d->source >= 0 ? g->sets[d->source].spec.id : "-", d->n_found, d->n_skipped);
        } else {
            fprintf(f, "dataset \"%s\" (%s%s): %d images found, %d used, %d skipped\n", d->spec.id, d->spec.instance_data_dir,
                    d->spec.is_eval ? ", eval" : "", d->n_found, d->n_items, d->n_skipped);
        }
        if (d->spec.max_num_samples > 0 && d->n_found > d->spec.max_num_samples)
            fprintf(f, "  max_num_samples %d: a fixed subset of the %d files found\n", d->spec.max_num_samples, d->n_found);
        const DatasetSpec *sp = &d->spec;
        if (sp->start_epoch > 1 || sp->start_step > 1 || sp->end_epoch > 0 || sp->end_step > 0) {
            fprintf(f, "  sampled in epochs %lld-", (long long)(sp->start_epoch > 1 ? sp->start_epoch : 1));
            if (sp->end_epoch > 0) fprintf(f, "%lld", (long long)sp->end_epoch);
            fprintf(f, ", optimizer steps %lld-", (long long)(sp->start_step > 1 ? sp->start_step : 1));
            if (sp->end_step > 0) fprintf(f, "%lld", (long long)sp->end_step);
            fprintf(f, "\n");
        }
        if (d->captions_replace) fprintf(f, "  captions: replace the edit captions of the samples that draw this set (random mode)\n");
        if (d->n_missing_captions) fprintf(f, "  captions missing: %d\n", d->n_missing_captions);
        for (int k = 0; k < d->n_skipped && k < LIST_MAX; k++) fprintf(f, "  skipped %s: %s\n", d->skipped[k].rel, d->skipped[k].reason);
        if (d->n_skipped > LIST_MAX) fprintf(f, "  ... and %d more skipped\n", d->n_skipped - LIST_MAX);
        for (int k = 0; k < d->n_cond; k++)
            fprintf(f, "  pairs with \"%s\": %d same path, %d other extension, %d missing, %d references unused\n",
                    g->sets[d->cond[k]].spec.id, d->pair[k].matched_exact, d->pair[k].matched_stem, d->pair[k].missing, d->pair[k].unused);
        if (!d->spec.is_conditioning && d->n_buckets) {
            fprintf(f, "  buckets (WxH: images):");
            for (int b = 0; b < d->n_buckets; b++) {
                int pruned = !g->opt.disable_bucket_pruning && d->bucket_count[b] * (d->spec.repeats + 1) < bucket_minimum(g, d);
                fprintf(f, " %dx%d: %d%s", d->bucket_wh[b][0], d->bucket_wh[b][1], d->bucket_count[b], pruned ? " (pruned)" : "");
            }
            fprintf(f, "\n");
            int any = 0;
            for (int b = 0; b < d->n_buckets; b++)
                any |= !g->opt.disable_bucket_pruning && d->bucket_count[b] * (d->spec.repeats + 1) < bucket_minimum(g, d);
            if (any)
                fprintf(f, "  (pruned: fewer than %d samples = train_batch_size x gradient_accumulation_steps, after repeats; "
                           "raise repeats or set disable_bucket_pruning)\n", bucket_minimum(g, d));
        }
    }
}

/* ---- the same report as JSON (the WebUI's dataset page) ---- */

static cJSON *str_or_null(const char *s) { return s ? cJSON_CreateString(s) : cJSON_CreateNull(); }

cJSON *data_summary_json(DataGroup *g, int max_list) {
    cJSON *root = cJSON_CreateObject(), *sets = cJSON_AddArrayToObject(root, "datasets");
    for (int i = 0; i < g->n; i++) {
        const Dataset *d = &g->sets[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(sets, o);
        cJSON_AddStringToObject(o, "id", d->spec.id);
        cJSON_AddItemToObject(o, "instance_data_dir", str_or_null(d->spec.instance_data_dir));
        cJSON_AddStringToObject(o, "kind", d->spec.is_conditioning ? "conditioning" : d->spec.is_eval ? "eval" : "image");
        cJSON_AddBoolToObject(o, "disabled", d->spec.disabled);
        if (d->spec.is_conditioning) {
            cJSON_AddStringToObject(o, "conditioning_type", cond_name(d->spec.conditioning_type));
            cJSON_AddItemToObject(o, "source", str_or_null(d->source >= 0 ? g->sets[d->source].spec.id : NULL));
        }
        cJSON_AddNumberToObject(o, "found", d->n_found);
        cJSON_AddNumberToObject(o, "used", d->spec.is_conditioning ? d->n_found - d->n_skipped : d->n_items);
        cJSON_AddNumberToObject(o, "skipped_count", d->n_skipped);
        cJSON_AddNumberToObject(o, "missing_captions", d->n_missing_captions);
        cJSON_AddNumberToObject(o, "max_num_samples", d->spec.max_num_samples);
        cJSON_AddBoolToObject(o, "captions_replace", d->captions_replace);
        cJSON *sk = cJSON_AddArrayToObject(o, "skipped");
        for (int k = 0; k < d->n_skipped && k < max_list; k++) {
            cJSON *s = cJSON_CreateObject();
            cJSON_AddStringToObject(s, "file", d->skipped[k].rel);
            cJSON_AddStringToObject(s, "reason", d->skipped[k].reason);
            cJSON_AddItemToArray(sk, s);
        }
        cJSON *pairs = cJSON_AddArrayToObject(o, "pairs");
        for (int k = 0; k < d->n_cond; k++) {
            const char *cid = g->sets[d->cond[k]].spec.id;
            cJSON *p = cJSON_CreateObject();
            cJSON_AddStringToObject(p, "with", cid);
            cJSON_AddNumberToObject(p, "same_path", d->pair[k].matched_exact);
            cJSON_AddNumberToObject(p, "other_extension", d->pair[k].matched_stem);
            cJSON_AddNumberToObject(p, "missing", d->pair[k].missing);
            cJSON_AddNumberToObject(p, "unused_references", d->pair[k].unused);
            char why[512];
            snprintf(why, sizeof why, NO_REFERENCE_REASON, cid);
            cJSON *miss = cJSON_AddArrayToObject(p, "missing_files");
            for (int s = 0, listed = 0; s < d->n_skipped && listed < max_list; s++)
                if (!strcmp(d->skipped[s].reason, why)) { cJSON_AddItemToArray(miss, cJSON_CreateString(d->skipped[s].rel)); listed++; }
            cJSON_AddItemToArray(pairs, p);
        }
        cJSON *bk = cJSON_AddArrayToObject(o, "buckets");
        if (!d->spec.is_conditioning)
            for (int b = 0; b < d->n_buckets; b++) {
                cJSON *x = cJSON_CreateObject();
                cJSON_AddNumberToObject(x, "width", d->bucket_wh[b][0]);
                cJSON_AddNumberToObject(x, "height", d->bucket_wh[b][1]);
                cJSON_AddNumberToObject(x, "images", d->bucket_count[b]);
                cJSON_AddBoolToObject(x, "pruned", !g->opt.disable_bucket_pruning && d->bucket_count[b] * (d->spec.repeats + 1) < bucket_minimum(g, d));
                cJSON_AddItemToArray(bk, x);
            }
        if (!d->spec.is_conditioning) cJSON_AddNumberToObject(o, "bucket_minimum", bucket_minimum(g, d));
    }
    cJSON_AddItemToObject(root, "problems", str_or_null(g->problems));
    if (g->sampler.src) cJSON_AddNumberToObject(root, "batches_per_epoch", sampler_batches_per_epoch(&g->sampler));
    return root;
}
