/* dataset_config.h — DatasetSpec / DataOptions from the loaded configuration (config.json +
 * multidatabackend.json): global fallbacks, Qwen's forced bucket alignment, dataset types. */
#ifndef ST_DATASET_CONFIG_H
#define ST_DATASET_CONFIG_H
#include "config/config.h"
#include "data/dataset.h"

typedef struct DataSpecs {
    int n;
    DatasetSpec *specs;      /* image, eval and conditioning sets, in file order (embed-cache sets left out) */
    DataOptions opt;
} DataSpecs;

/* `strict`: a corrupt image fails the load instead of being skipped. */
int data_specs_from_config(const Config *c, int strict, DataSpecs *out, Err *e);
void data_specs_free(DataSpecs *s);
/* aspect_bucket_alignment after the model rule: qwen_image forces 32 (with a warning) unless
 * i_know_what_i_am_doing is set; other families use the configured value (default 64). */
int data_bucket_alignment(const Config *c);

#endif
