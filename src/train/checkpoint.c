/* checkpoint.c — atomic checkpoint directories, rotation and resume lookup (see checkpoint.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "base/crash_point.h"
#include "base/files.h"
#include "base/temp_files.h"
#include "train/checkpoint.h"

/* ---- names ---------------------------------------------------------------------------------- */

typedef enum { NAME_OTHER, NAME_COMPLETE, NAME_TMP, NAME_OLD, NAME_DEL } NameKind;

/* "checkpoint-<digits>" → COMPLETE; with ".tmp.<pid>" → TMP (a save in progress), ".old.<pid>" → OLD
 * (moved aside while its step is saved again), ".del.<pid>" → DEL (being removed by rotation). */
static NameKind name_kind(const char *name, int64_t *step, long *pid) {
    const char *p = name;
    *pid = 0;
    if (strncmp(p, "checkpoint-", 11)) return NAME_OTHER;
    p += 11;
    if (*p < '0' || *p > '9') return NAME_OTHER;
    char *end;
    long long v = strtoll(p, &end, 10);
    *step = v;
    if (*end == 0) return NAME_COMPLETE;
    static const struct { const char *tag; NameKind kind; } TAGS[] = {{"tmp", NAME_TMP}, {"old", NAME_OLD}, {"del", NAME_DEL}};
    for (size_t i = 0; i < sizeof TAGS / sizeof *TAGS; i++) {
        long id = temp_name_pid(end, TAGS[i].tag);
        size_t lt = strlen(TAGS[i].tag);
        if (id && end[0] == '.' && !strncmp(end + 1, TAGS[i].tag, lt) && end[1 + lt] == '.') { *pid = id; return TAGS[i].kind; }
    }
    return NAME_OTHER;
}

static char *checkpoint_dir(const char *output_dir, int64_t step) {
    return xasprintf("%s/checkpoint-%" PRId64, output_dir, step);
}

/* ---- filesystem helpers ------------------------------------------------------------------------ */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st; (void)flag; (void)ftw;
    crash_point("remove %s", path);
    return remove(path);
}

static int dir_remove_tree(const char *path, Err *e) {
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
        return err_set(e, "could not remove %s: %s", path, strerror(errno));
    return 0;
}

static int fsync_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st; (void)ftw;
    if (flag != FTW_F && flag != FTW_DP) return 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Every file, then every directory (depth first), is made durable. */
static int fsync_tree(const char *path, Err *e) {
    if (nftw(path, fsync_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return err_set(e, "could not fsync %s: %s", path, strerror(errno));
    return 0;
}

/* ---- ready-made parts ------------------------------------------------------------------------ */

static int write_optimizer(void *ctx, const char *dir, Err *e) {
    StWriter w; stw_init(&w);
    optim_state_save(ctx, &w);
    char *path = path_join(dir, CKPT_OPTIMIZER_FILE);
    int rc = stw_write(&w, path, e);
    free(path); stw_free(&w);
    return rc;
}

static int write_ema(void *ctx, const char *dir, Err *e) {
    StWriter w; stw_init(&w);
    ema_state_save(ctx, &w);
    char *path = path_join(dir, CKPT_EMA_FILE);
    int rc = stw_write(&w, path, e);
    free(path); stw_free(&w);
    return rc;
}

static int write_blob(void *ctx, const char *dir, Err *e) {
    const CheckpointBlob *b = ctx;
    char *path = xasprintf("%s/%s.bin", dir, b->name);
    int rc = file_write_atomic(path, b->data, b->len, e);
    free(path);
    return rc;
}

CheckpointPart checkpoint_part_optimizer(const Optimizer *o) { return (CheckpointPart){ "optimizer", write_optimizer, (void *)o }; }
CheckpointPart checkpoint_part_ema(const Ema *m) { return (CheckpointPart){ "EMA", write_ema, (void *)m }; }
CheckpointPart checkpoint_part_blob(const CheckpointBlob *b) { return (CheckpointPart){ b->name, write_blob, (void *)b }; }

/* ---- listing, cleaning, rotation --------------------------------------------------------------- */

static int cmp_step(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Crash leftovers of a process that is gone (a live run's are its work in progress): a .tmp. dir is
 * an unfinished save (removed); an .old. dir is a checkpoint that was being replaced (put back when
 * the replacement never arrived, else removed); a .del. dir was being rotated out (removed). */
static int clean_leftover(const char *output_dir, const char *name, NameKind kind, int64_t step, long pid, Err *e) {
    if (temp_owner_alive(pid)) return 0;
    char *path = path_join(output_dir, name);
    int rc = 0;
    if (kind == NAME_OLD) {
        char *final = checkpoint_dir(output_dir, step);
        if (!dir_exists(final) && rename(path, final) == 0) {
            log_warn("restored %s (an interrupted save had moved it aside)", final);
            dir_fsync(output_dir);
        } else {
            rc = dir_remove_tree(path, e);
        }
        free(final);
    } else if (kind == NAME_DEL) {
        log_warn("removing %s (an interrupted checkpoints_total_limit rotation had begun to delete it)", path);
        rc = dir_remove_tree(path, e);
    } else {
        log_warn("removing incomplete checkpoint %s (left by an interrupted save)", path);
        rc = dir_remove_tree(path, e);
    }
    free(path);
    return rc;
}

/* Names in output_dir of one kind (malloc'd array of malloc'd names). */
static int scan_names(const char *output_dir, int want_leftovers, char ***names, int64_t **steps, NameKind **kinds,
                      long **pids, Err *e) {
    *names = NULL; *steps = NULL; *kinds = NULL; *pids = NULL;
    DIR *d = opendir(output_dir);
    if (!d) {
        if (errno == ENOENT) return 0;
        return err_set(e, "cannot read output_dir %s: %s", output_dir, strerror(errno));
    }
    int n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        int64_t step;
        long pid;
        NameKind k = name_kind(de->d_name, &step, &pid);
        if (k == NAME_OTHER || (k == NAME_COMPLETE) == want_leftovers) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            *names = xrealloc(*names, (size_t)cap * sizeof **names);
            *steps = xrealloc(*steps, (size_t)cap * sizeof **steps);
            *kinds = xrealloc(*kinds, (size_t)cap * sizeof **kinds);
            *pids = xrealloc(*pids, (size_t)cap * sizeof **pids);
        }
        (*names)[n] = xstrdup(de->d_name); (*steps)[n] = step; (*kinds)[n] = k; (*pids)[n] = pid;
        n++;
    }
    closedir(d);
    return n;
}

static void free_names(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

int checkpoint_list(const char *output_dir, int64_t **steps, Err *e) {
    char **names; NameKind *kinds; int64_t *st; long *pids;
    int n = scan_names(output_dir, 1, &names, &st, &kinds, &pids, e), rc = 0;
    for (int i = 0; i < n && !rc; i++) rc = clean_leftover(output_dir, names[i], kinds[i], st[i], pids[i], e);
    free_names(names, n > 0 ? n : 0); free(st); free(kinds); free(pids);
    if (n < 0 || rc) return -1;
    n = scan_names(output_dir, 0, &names, steps, &kinds, &pids, e);
    if (n < 0) return -1;
    free(pids);
    int kept = 0;
    for (int i = 0; i < n; i++) {
        char *path = path_join(output_dir, names[i]);
        if (dir_exists(path)) (*steps)[kept++] = (*steps)[i];
        free(path);
    }
    free_names(names, n); free(kinds);
    if (kept > 1) qsort(*steps, (size_t)kept, sizeof **steps, cmp_step);
    return kept;
}

/* Removes the lowest steps until total_limit remain, never the checkpoint just written. Each one is
 * first renamed to checkpoint-<step>.del.<pid> (and the rename made durable), so a kill while its
 * files are being deleted never leaves a half checkpoint under a name that resume would pick. */
int checkpoint_rotate(const char *output_dir, int64_t keep_step, int total_limit, Err *e) {
    if (total_limit <= 0) return 0;
    int64_t *steps;
    int n = checkpoint_list(output_dir, &steps, e);
    if (n < 0) return -1;
    int excess = n - total_limit, rc = 0;
    for (int i = 0; i < n && excess > 0 && !rc; i++) {
        if (steps[i] == keep_step) continue;
        char *path = checkpoint_dir(output_dir, steps[i]);
        char *trash = xasprintf("%s.del.%d", path, (int)getpid());
        log_info("removing %s (checkpoints_total_limit %d)", path, total_limit);
        if (rename(path, trash) != 0) rc = err_set(e, "cannot move %s to %s for removal: %s", path, trash, strerror(errno));
        else {
            dir_fsync(output_dir);
            crash_point("rotate checkpoint-%" PRId64, steps[i]);
            rc = dir_remove_tree(trash, e);
        }
        free(path); free(trash);
        excess--;
    }
    free(steps);
    return rc;
}

/* ---- save ------------------------------------------------------------------------------------ */

/* Moves the finished temp dir into place, replacing an existing checkpoint of the same step. */
static int commit_dir(const char *output_dir, const char *tmp, const char *final, Err *e) {
    char *old = NULL;
    if (dir_exists(final)) {
        old = xasprintf("%s.old.%d", final, (int)getpid());
        if (rename(final, old) != 0) {
            int rc = err_set(e, "cannot move %s aside: %s", final, strerror(errno));
            free(old);
            return rc;
        }
    }
    if (rename(tmp, final) != 0) {
        int rc = err_set(e, "cannot rename %s to %s: %s", tmp, final, strerror(errno));
        if (old && rename(old, final) != 0) log_warn("could not restore %s from %s", final, old);
        free(old);
        return rc;
    }
    dir_fsync(output_dir);
    int rc = old ? dir_remove_tree(old, e) : 0;
    free(old);
    return rc;
}

static int write_parts(const char *tmp, const TrainingState *ts, const CheckpointPart *parts, int n_parts, Err *e) {
    for (int i = 0; i < n_parts; i++)
        if (parts[i].write(parts[i].ctx, tmp, e))
            return err_prefix(e, "checkpoint %s", parts[i].what);
    if (training_state_write(tmp, ts, e)) return -1;
    return fsync_tree(tmp, e);
}

int checkpoint_save(const char *output_dir, const TrainingState *ts, const CheckpointPart *parts, int n_parts,
                    int total_limit, char **out_path, Err *e) {
    if (ts->global_step < 0) return err_set(e, "checkpoint: global_step %" PRId64 " is negative", ts->global_step);
    if (dir_make(output_dir, e)) return -1;
    char *final = checkpoint_dir(output_dir, ts->global_step);
    char *tmp = xasprintf("%s.tmp.%d", final, (int)getpid());
    Err ignore;
    dir_remove_tree(tmp, &ignore);
    int rc = dir_make(tmp, e);
    if (!rc) rc = write_parts(tmp, ts, parts, n_parts, e);
    if (!rc) crash_point("checkpoint-%" PRId64 " commit", ts->global_step);
    if (!rc) rc = commit_dir(output_dir, tmp, final, e);
    if (rc) dir_remove_tree(tmp, &ignore);
    if (!rc) crash_point("checkpoint-%" PRId64 " rotate", ts->global_step);
    if (!rc) rc = checkpoint_rotate(output_dir, ts->global_step, total_limit, e);
    if (!rc && out_path) *out_path = final;
    else free(final);
    free(tmp);
    return rc;
}

/* ---- resume ---------------------------------------------------------------------------------- */

static int is_complete_dir(const char *dir) {
    char *state = path_join(dir, CKPT_STATE_FILE);
    int ok = file_exists(state);
    free(state);
    return ok;
}

static int resolve_latest(const char *output_dir, char **dir, Err *e) {
    int64_t *steps;
    int n = checkpoint_list(output_dir, &steps, e);
    if (n < 0) return -1;
    for (int i = n - 1; i >= 0 && !*dir; i--) {
        char *path = checkpoint_dir(output_dir, steps[i]);
        if (is_complete_dir(path)) *dir = path;
        else { log_warn("skipping %s: it has no %s", path, CKPT_STATE_FILE); free(path); }
    }
    free(steps);
    return 0;
}

int checkpoint_resolve(const char *output_dir, const char *resume, char **dir, Err *e) {
    *dir = NULL;
    if (!resume || !*resume) return 0;
    if (!strcmp(resume, "latest")) return resolve_latest(output_dir, dir, e);
    char *path = dir_exists(resume) ? xstrdup(resume) : path_join(output_dir, resume);
    if (!dir_exists(path)) {
        int rc = err_setc(e, EXIT_USAGE, "resume_from_checkpoint: %s is not a directory (looked as given and in %s)",
                          resume, output_dir);
        free(path);
        return rc;
    }
    if (!is_complete_dir(path)) {
        int rc = err_setc(e, EXIT_USAGE, "resume_from_checkpoint: %s is not a complete checkpoint (no %s)", path, CKPT_STATE_FILE);
        free(path);
        return rc;
    }
    *dir = path;
    return 0;
}

/* ---- loading parts back ---------------------------------------------------------------------- */

static int load_st(const char *dir, const char *file, StFile *f, Err *e) {
    char *path = path_join(dir, file);
    int rc = st_open(f, path, e);
    free(path);
    return rc;
}

int checkpoint_load_optimizer(const char *dir, Optimizer *o, Err *e) {
    StFile f;
    if (load_st(dir, CKPT_OPTIMIZER_FILE, &f, e)) return -1;
    int rc = optim_state_load(o, &f, e);
    st_close(&f);
    return rc;
}

int checkpoint_load_ema(const char *dir, Ema *m, Err *e) {
    StFile f;
    if (load_st(dir, CKPT_EMA_FILE, &f, e)) return -1;
    int rc = ema_state_load(m, &f, e);
    st_close(&f);
    return rc;
}

void *checkpoint_read_blob(const char *dir, const char *name, size_t *len, Err *e) {
    char *path = xasprintf("%s/%s.bin", dir, name);
    void *data = file_read_all(path, len, e);
    free(path);
    return data;
}
