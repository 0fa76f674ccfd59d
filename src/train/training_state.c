/* training_state.c — training_state.json as SimpleTuner writes it (StateTracker.save_training_state). */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "base/files.h"
#include "train/checkpoint.h"

void training_state_free(TrainingState *ts) {
    for (int i = 0; i < ts->n_exhausted; i++) free(ts->exhausted_backends[i]);
    for (int i = 0; i < ts->n_repeats; i++) free(ts->repeat_ids[i]);
    free(ts->exhausted_backends); free(ts->repeat_ids); free(ts->repeat_counts);
    memset(ts, 0, sizeof *ts);
}

int training_state_write(const char *dir, const TrainingState *ts, Err *e) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "global_step", (double)ts->global_step);
    cJSON_AddNumberToObject(root, "epoch_step", (double)ts->epoch_step);
    cJSON_AddNumberToObject(root, "epoch", (double)ts->epoch);
    cJSON *ex = cJSON_AddArrayToObject(root, "exhausted_backends");
    for (int i = 0; i < ts->n_exhausted; i++) cJSON_AddItemToArray(ex, cJSON_CreateString(ts->exhausted_backends[i]));
    cJSON *rep = cJSON_AddObjectToObject(root, "repeats");
    for (int i = 0; i < ts->n_repeats; i++) cJSON_AddNumberToObject(rep, ts->repeat_ids[i], (double)ts->repeat_counts[i]);
    char *text = cJSON_PrintUnformatted(root);
    char *path = path_join(dir, CKPT_STATE_FILE);
    int rc = file_write_atomic(path, text, strlen(text), e);
    free(path); free(text); cJSON_Delete(root);
    return rc;
}

/* A count field: absent → def; present but not a whole number >= 0 → error (the range is checked
 * before the conversion, so 1e300 is refused rather than converted). */
static int read_count(const cJSON *root, const char *key, int64_t def, int64_t *out, const char *path, Err *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v) { *out = def; return 0; }
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble < 9.0e15) || v->valuedouble != floor(v->valuedouble)) {
        char *got = cJSON_PrintUnformatted(v);
        err_set(e, "%s: '%s' must be a whole number >= 0, got %s", path, key, got);
        free(got);
        return -1;
    }
    *out = (int64_t)v->valuedouble;
    return 0;
}

static int read_lists(const cJSON *root, TrainingState *ts, const char *path, Err *e) {
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(root, "exhausted_backends");
    if (ex && !cJSON_IsNull(ex)) {
        if (!cJSON_IsArray(ex)) return err_set(e, "%s: 'exhausted_backends' must be a list of dataset ids", path);
        ts->exhausted_backends = xcalloc((size_t)cJSON_GetArraySize(ex) + 1, sizeof(char *));
        const cJSON *it;
        cJSON_ArrayForEach(it, ex) {
            if (!cJSON_IsString(it)) return err_set(e, "%s: 'exhausted_backends' must be a list of dataset ids", path);
            ts->exhausted_backends[ts->n_exhausted++] = xstrdup(it->valuestring);
        }
    }
    const cJSON *rep = cJSON_GetObjectItemCaseSensitive(root, "repeats");
    if (rep && !cJSON_IsNull(rep)) {
        if (!cJSON_IsObject(rep)) return err_set(e, "%s: 'repeats' must be an object of dataset id → count", path);
        int n = cJSON_GetArraySize(rep);
        ts->repeat_ids = xcalloc((size_t)n + 1, sizeof(char *));
        ts->repeat_counts = xcalloc((size_t)n + 1, sizeof(int64_t));
        const cJSON *it;
        cJSON_ArrayForEach(it, rep) {
            if (!cJSON_IsNumber(it) || !(it->valuedouble >= 0 && it->valuedouble < 9.0e15))
                return err_set(e, "%s: repeats['%s'] must be a count >= 0", path, it->string);
            ts->repeat_ids[ts->n_repeats] = xstrdup(it->string);
            ts->repeat_counts[ts->n_repeats++] = (int64_t)it->valuedouble;
        }
    }
    return 0;
}

/* The step in a folder name "checkpoint-<digits>" (trailing slashes allowed); 0 for other names. */
static int folder_step(const char *dir, int64_t *step) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && dir[b - 1] != '/') b--;
    const char *p = dir + b;
    if (n - b < 12 || strncmp(p, "checkpoint-", 11)) return 0;
    int64_t v = 0;
    for (size_t i = b + 11; i < n; i++) {
        if (dir[i] < '0' || dir[i] > '9' || v > INT64_MAX / 10 - 10) return 0;
        v = v * 10 + (dir[i] - '0');
    }
    *step = v;
    return 1;
}

int training_state_read(const char *dir, TrainingState *ts, Err *e) {
    memset(ts, 0, sizeof *ts);
    char *path = path_join(dir, CKPT_STATE_FILE);
    size_t len;
    char *text = file_read_all(path, &len, e);
    if (!text) { free(path); return -1; }
    cJSON *root = cJSON_ParseWithLength(text, len);
    int rc = 0;
    int64_t named;
    if (!root || !cJSON_IsObject(root)) rc = err_set(e, "%s: not a JSON object (damaged?)", path);
    else if (read_count(root, "global_step", 0, &ts->global_step, path, e) ||
             read_count(root, "epoch_step", 0, &ts->epoch_step, path, e) ||
             read_count(root, "epoch", 1, &ts->epoch, path, e) || read_lists(root, ts, path, e))
        rc = -1;
    else if (folder_step(dir, &named) && named != ts->global_step)
        rc = err_set(e, "%s: global_step %" PRId64 " disagrees with its folder name (checkpoint-%" PRId64 ")", path,
                     ts->global_step, named);
    if (rc) training_state_free(ts);
    cJSON_Delete(root); free(text); free(path);
    return rc;
}
