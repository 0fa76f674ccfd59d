/* training_state.c — training_state.json as SimpleTuner writes it (StateTracker.save_training_state). */
#include <cjson/cJSON.h>
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

/* An integer field: absent → def; present but not a whole number → error. */
static int read_count(const cJSON *root, const char *key, int64_t def, int64_t *out, const char *path, Err *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v) { *out = def; return 0; }
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int64_t)v->valuedouble)
        return err_set(e, "%s: '%s' must be a whole number", path, key);
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
            if (!cJSON_IsNumber(it)) return err_set(e, "%s: repeats['%s'] must be a number", path, it->string);
            ts->repeat_ids[ts->n_repeats] = xstrdup(it->string);
            ts->repeat_counts[ts->n_repeats++] = (int64_t)it->valuedouble;
        }
    }
    return 0;
}

int training_state_read(const char *dir, TrainingState *ts, Err *e) {
    memset(ts, 0, sizeof *ts);
    char *path = path_join(dir, CKPT_STATE_FILE);
    size_t len;
    char *text = file_read_all(path, &len, e);
    if (!text) { free(path); return -1; }
    cJSON *root = cJSON_ParseWithLength(text, len);
    int rc = 0;
    if (!root || !cJSON_IsObject(root)) rc = err_set(e, "%s: not a JSON object", path);
    else if (read_count(root, "global_step", 0, &ts->global_step, path, e) ||
             read_count(root, "epoch_step", 0, &ts->epoch_step, path, e) ||
             read_count(root, "epoch", 1, &ts->epoch, path, e) || read_lists(root, ts, path, e))
        rc = -1;
    if (rc) training_state_free(ts);
    cJSON_Delete(root); free(text); free(path);
    return rc;
}
