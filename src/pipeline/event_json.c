/* event_json.c — a PipelineEvent as one line of JSON (see pipeline.h and docs/webui.md): what
 * `train --events FILE` and `validate --events FILE` write and what the WebUI streams. Only the
 * fields that mean something for the kind are written; a number that is not finite becomes null. */
#include "pipeline/pipeline.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>
#include <time.h>

static const char *const KIND_NAMES[] = {
    [PEV_INFO] = "info", [PEV_WARNING] = "warning", [PEV_CACHE_PROGRESS] = "cache_progress", [PEV_CACHE_DONE] = "cache_done",
    [PEV_TRAIN_START] = "train_start", [PEV_STEP] = "step", [PEV_CHECKPOINT] = "checkpoint",
    [PEV_VALIDATION_START] = "validation_start", [PEV_VALIDATION_IMAGE] = "validation_image",
    [PEV_SAMPLING_STEP] = "sampling_step", [PEV_PREVIEW] = "preview", [PEV_INTERRUPTED] = "interrupted", [PEV_DONE] = "done",
    [PEV_FAILED] = "failed",
};

const char *pipeline_event_kind_name(PipelineEventKind k) {
    if ((int)k < 0 || (size_t)k >= sizeof KIND_NAMES / sizeof *KIND_NAMES || !KIND_NAMES[k]) return "unknown";
    return KIND_NAMES[k];
}

static void add_num(cJSON *o, const char *k, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, k, v);
    else cJSON_AddNullToObject(o, k);
}

char *pipeline_event_json(const PipelineEvent *ev) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "event", pipeline_event_kind_name(ev->kind));
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    cJSON_AddNumberToObject(o, "time", (double)ts.tv_sec + 1e-3 * (double)(ts.tv_nsec / 1000000));
    switch (ev->kind) {
    case PEV_CACHE_PROGRESS: case PEV_SAMPLING_STEP:
        add_num(o, "done", (double)ev->done); add_num(o, "total", (double)ev->total); break;
    case PEV_TRAIN_START: add_num(o, "step", (double)ev->step); add_num(o, "total", (double)ev->total); break;
    case PEV_STEP:
        add_num(o, "step", (double)ev->step); add_num(o, "total", (double)ev->total); add_num(o, "epoch", (double)ev->epoch);
        add_num(o, "loss", ev->loss); add_num(o, "lr", ev->lr); add_num(o, "grad_norm", ev->grad_norm);
        add_num(o, "seconds", ev->seconds);
        break;
    case PEV_VALIDATION_START: case PEV_VALIDATION_IMAGE:
        add_num(o, "step", (double)ev->step); add_num(o, "done", (double)ev->done); add_num(o, "total", (double)ev->total); break;
    case PEV_PREVIEW: case PEV_CHECKPOINT: case PEV_INTERRUPTED: add_num(o, "step", (double)ev->step); break;
    case PEV_DONE: add_num(o, "step", (double)ev->step); add_num(o, "total", (double)ev->total); break;
    default: break;
    }
    if (ev->path) cJSON_AddStringToObject(o, "path", ev->path);
    if (ev->message) cJSON_AddStringToObject(o, "message", ev->message);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}
