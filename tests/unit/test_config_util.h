/* test_config_util.h — helpers for the configuration tests: write a config and load it. */
#ifndef ST_TEST_CONFIG_UTIL_H
#define ST_TEST_CONFIG_UTIL_H
#include "test_util.h"
#include "config/config.h"

/* A minimal dataset file in dir; returns its malloc'd path. */
static inline char *write_min_data(const char *dir) {
    char *p = malloc(strlen(dir) + 32);
    sprintf(p, "%s/data.json", dir);
    write_text(p, "[{\"id\": \"edits\", \"instance_data_dir\": \"/d/edits\", \"conditioning_data\": \"refs\"},\n"
                  " {\"id\": \"refs\", \"instance_data_dir\": \"/d/refs\", \"conditioning_type\": \"reference_strict\"}]\n");
    return p;
}

/* Loads with argv (NULL-terminated list); returns 0/-1 and fills *c or e. Quiet options. */
static inline int load_args(Config **c, Err *e, const char *const *args) {
    int n = 0;
    while (args[n]) n++;
    ConfigLoadOptions opt = {0};
    opt.quiet = 1;
    err_clear(e);
    return config_load_with(c, n, (char **)args, &opt, e);
}

/* Writes dir/config.json holding the required keys, data_backend_config = a minimal dataset file,
 * then `members` (JSON object members; later duplicates win, as in SimpleTuner), and loads it with
 * the optional extra argument. */
static inline int load_json(Config **c, Err *e, const char *dir, const char *members, const char *extra) {
    char path[512];
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *data = write_min_data(dir);
    size_t n = strlen(members) + strlen(data) + 512;
    char *json = malloc(n);
    snprintf(json, n, "{\"model_family\": \"qwen_image\", \"model_type\": \"lora\", \"output_dir\": \"/tmp/st_out\",\n"
             " \"optimizer\": \"adamw_bf16\", \"data_backend_config\": \"%s\"%s\n%s\n}\n", data, members[0] ? "," : "", members);
    write_text(path, json);
    free(json);
    free(data);
    const char *args[] = {"--config", path, extra, NULL};
    return load_args(c, e, args);
}

#endif
