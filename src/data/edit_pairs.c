/* edit_pairs.c — see edit_pairs.h. */
#include "data/edit_pairs.h"
#include "base/files.h"
#include "data/captions.h"
#include "data/discovery.h"
#include "data/pairing.h"
#include <stdlib.h>
#include <string.h>

#define LIST_MAX 10

/* "a.png, b.png and 3 more": the first LIST_MAX names of a list of n (malloc'd). */
static char *name_list(char *const *names, int n) {
    char *s = xstrdup("");
    for (int i = 0; i < n && i < LIST_MAX; i++) {
        char *t = xasprintf("%s%s%s", s, i ? ", " : "", names[i]);
        free(s); s = t;
    }
    if (n > LIST_MAX) { char *t = xasprintf("%s and %d more", s, n - LIST_MAX); free(s); s = t; }
    return s;
}

/* The reference folders of dir: "reference", or "reference_a" (+ "_b", + "_c"). */
static int reference_folders(const char *dir, char **folders, int *n, Err *e) {
    static const char *const MULTI[] = {"reference_a", "reference_b", "reference_c"};
    char *single = path_join(dir, "reference"), *multi[3];
    int has[3];
    for (int k = 0; k < 3; k++) { multi[k] = path_join(dir, MULTI[k]); has[k] = dir_exists(multi[k]); }
    int rc = 0;
    *n = 0;
    if (dir_exists(single) && has[0])
        rc = err_setc(e, EXIT_USAGE, "%s: both reference/ and reference_a/ exist: a paired folder has one reference/ folder, or "
                                     "reference_a/ (and reference_b/, reference_c/) for edits with several references", dir);
    else if (dir_exists(single)) { folders[(*n)++] = single; single = NULL; }
    else if (has[0]) {
        for (int k = 0; k < 3 && has[k]; k++) { folders[(*n)++] = multi[k]; multi[k] = NULL; }
        if (has[2] && !has[1]) rc = err_setc(e, EXIT_USAGE, "%s: reference_c/ without reference_b/ (references are reference_a, _b, _c in order)", dir);
    } else
        rc = err_setc(e, EXIT_USAGE, "%s: no reference folder: a paired folder holds images/ (the edit targets with their .txt "
                                     "instructions) and reference/ (or reference_a/, reference_b/, reference_c/) with files of the "
                                     "same names, as `simpletuner make-dataset --kind edit-pairs` writes",
                      dir);
    free(single);
    for (int k = 0; k < 3; k++) free(multi[k]);
    return rc;
}

/* Lists one reference folder into refs and pairs every target with its file there (idx[i] = index
 * in refs); a target without one and a reference without a target are both errors listing the files. */
static int pair_folder(const char *img_dir, const FileList *targets, const char *ref_dir, FileList *refs, int *idx, Err *e) {
    if (discover_images(ref_dir, refs, NULL, e)) return -1;
    PairNames names = {"images", ref_dir, ref_dir};
    PairStats st;
    int rc = pair_images(&names, targets, refs, idx, &st, e);
    char **bad = xcalloc((size_t)(targets->n + refs->n + 1), sizeof *bad);
    int nb = 0;
    if (!rc && st.missing) {
        for (int i = 0; i < targets->n; i++) if (idx[i] < 0) bad[nb++] = targets->rel[i];
        char *list = name_list(bad, nb);
        rc = err_setc(e, EXIT_USAGE, "%s: %d of %d edit targets of %s have no reference with the same name (incomplete pairs): %s",
                      ref_dir, nb, targets->n, img_dir, list);
        free(list);
    } else if (!rc && st.unused) {
        char *used = xcalloc((size_t)refs->n + 1, 1);
        for (int i = 0; i < targets->n; i++) used[idx[i]] = 1;
        for (int k = 0; k < refs->n; k++) if (!used[k]) bad[nb++] = refs->rel[k];
        char *list = name_list(bad, nb);
        rc = err_setc(e, EXIT_USAGE, "%s: %d reference%s without an edit target of the same name in %s (incomplete pairs): %s",
                      ref_dir, nb, nb == 1 ? "" : "s", img_dir, list);
        free(list); free(used);
    }
    free(bad);
    return rc;
}

int edit_pairs_read(const char *dir, EditPairSet *out, Err *e) {
    memset(out, 0, sizeof *out);
    if (!dir_exists(dir))
        return err_setc(e, EXIT_USAGE, "%s: no such dataset folder (a paired folder holds images/ with the edit targets and "
                                       "their .txt instructions, and reference/ or reference_a/, reference_b/, reference_c/)",
                        dir);
    char *img_dir = path_join(dir, "images"), *ref_dirs[3] = {0};
    int n_refs = 0, rc = 0;
    FileList targets = {0};
    if (!dir_exists(img_dir))
        rc = err_setc(e, EXIT_USAGE, "%s: no images/ folder (the edit targets, each with its instruction in a .txt of the same "
                                     "name)", dir);
    if (!rc) rc = reference_folders(dir, ref_dirs, &n_refs, e);
    if (!rc) rc = discover_images(img_dir, &targets, NULL, e);
    if (!rc && targets.n == 0) rc = err_setc(e, EXIT_USAGE, "%s: no images (.png, .jpg, .jpeg, .webp)", img_dir);
    int *idx = xcalloc((size_t)(targets.n + 1) * EDIT_PAIR_MAX_REFS, sizeof *idx);
    FileList refs[EDIT_PAIR_MAX_REFS] = {{0}};
    for (int k = 0; k < n_refs && !rc; k++) {
        rc = pair_folder(img_dir, &targets, ref_dirs[k], &refs[k], idx + (size_t)k * targets.n, e);
    }
    /* the instructions: every target needs one (listed together when several are missing) */
    if (!rc) {
        char **missing = xcalloc((size_t)targets.n + 1, sizeof *missing);
        int nm = 0;
        for (int i = 0; i < targets.n; i++) {
            char *txt = caption_file_path(img_dir, targets.rel[i]);
            if (!file_exists(txt)) missing[nm++] = targets.rel[i];
            free(txt);
        }
        if (nm) {
            char *list = name_list(missing, nm);
            rc = err_setc(e, EXIT_USAGE, "%s: %d of %d edit targets have no instruction file (<name>.txt beside the image): %s",
                          img_dir, nm, targets.n, list);
            free(list);
        }
        free(missing);
    }
    if (!rc) {
        out->pairs = xcalloc((size_t)targets.n, sizeof *out->pairs);
        out->n_refs = n_refs;
    }
    CaptionSpec spec = {.strategy = CAPTION_TEXTFILE};
    for (int i = 0; i < targets.n && !rc; i++) {
        EditPair *p = &out->pairs[out->n++];
        p->name = xstrdup(targets.rel[i]);
        p->target = path_join(img_dir, targets.rel[i]);
        for (int k = 0; k < n_refs; k++) p->refs[k] = path_join(ref_dirs[k], refs[k].rel[idx[(size_t)k * targets.n + i]]);
        p->n_refs = n_refs;
        CaptionList cl;
        rc = caption_load(&spec, img_dir, targets.rel[i], &cl, e);
        if (!rc && (cl.n == 0 || !cl.text[0][0])) {
            char *txt = caption_file_path(img_dir, targets.rel[i]);
            rc = err_setc(e, EXIT_USAGE, "%s: the instruction file is empty", txt);
            free(txt);
        }
        if (!rc) p->instruction = xstrdup(cl.text[0]);
        caption_list_free(&cl);
    }
    if (rc) edit_pairs_free(out);
    for (int k = 0; k < EDIT_PAIR_MAX_REFS; k++) { filelist_free(&refs[k]); free(ref_dirs[k]); }
    free(idx);
    filelist_free(&targets);
    free(img_dir);
    return rc;
}

void edit_pairs_free(EditPairSet *s) {
    for (int i = 0; i < s->n; i++) {
        EditPair *p = &s->pairs[i];
        free(p->name); free(p->target); free(p->instruction);
        for (int k = 0; k < p->n_refs; k++) free(p->refs[k]);
    }
    free(s->pairs);
    memset(s, 0, sizeof *s);
}
