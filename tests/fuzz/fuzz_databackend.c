/* libFuzzer target: multidatabackend.json through the real loader (every dataset key, conditioning
 * links, defaults from the config), behind a fixed valid config.json that points at it. */
#include "fuzz_common.h"
#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    char cfg[128], mdb[128];
    FUZZ_PATH(cfg, "config.json");
    FUZZ_PATH(mdb, "multidatabackend.json");
    static int ready;
    if (!ready) {
        char text[512];
        snprintf(text, sizeof text, "{\"model_type\": \"lora\", \"model_family\": \"qwen_image\", \"model_flavour\": \"edit-v1\", "
                 "\"output_dir\": \"%s/out\", \"optimizer\": \"adamw_bf16\", \"data_backend_config\": \"%s\"}", fuzz_dir(), mdb);
        fuzz_write(cfg, text, strlen(text));
        ready = 1;
    }
    fuzz_write(mdb, data, n);
    char *argv[2] = {"--config", cfg};
    ConfigLoadOptions opt = { .quiet = 1 };
    Config *c = NULL; Err e = {0};
    if (config_load_with(&c, 2, argv, &opt, &e) == 0) {
        const DatasetConfig *d; int nd;
        config_datasets(c, &d, &nd);
        for (int i = 0; i < nd; i++) config_dataset_find(c, d[i].id);
        config_free(c);
    }
    return 0;
}
