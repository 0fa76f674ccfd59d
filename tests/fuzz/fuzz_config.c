/* libFuzzer target: config.json through the real loader (comments, aliases, types, SimpleTuner's
 * post-parse rules, option support), then every option read back. Datasets are not loaded here
 * (fuzz_databackend does that). */
#include "fuzz_common.h"
#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    char path[128];
    fuzz_write(FUZZ_PATH(path, "config.json"), data, n);
    char *argv[2] = {"--config", path};
    ConfigLoadOptions opt = { .skip_datasets = 1, .quiet = 1 };
    Config *c = NULL; Err e = {0};
    if (config_load_with(&c, 2, argv, &opt, &e) == 0) {
        int wh[8][2];
        config_validation_resolutions(c, wh, 8, &e);
        config_ignored(c);
        config_free(c);
    }
    return 0;
}
