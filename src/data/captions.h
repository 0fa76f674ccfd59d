/* captions.h — the caption of each training image, as SimpleTuner's caption strategies give it:
 *   textfile        the .txt beside the image (same path, extension replaced); each non-empty line is
 *                   one candidate caption unless disable_multiline_split; one line is picked per
 *                   sample and epoch, deterministically from the seed.
 *   filename        the file stem with '_' turned into ' '.
 *   instanceprompt  instance_prompt for every image.
 *   null            no caption (reference sets).
 * prepend_instance_prompt puts "instance_prompt " in front of every candidate; only_instance_prompt
 * replaces every caption with instance_prompt. Caption dropout is decided per (dataset, image,
 * epoch) so a resumed run drops exactly the same samples. */
#ifndef ST_CAPTIONS_H
#define ST_CAPTIONS_H
#include <stdint.h>
#include "base/error.h"

typedef enum { CAPTION_NONE = 0, CAPTION_TEXTFILE, CAPTION_FILENAME, CAPTION_INSTANCEPROMPT } CaptionStrategy;

typedef struct CaptionSpec {
    CaptionStrategy strategy;
    const char *instance_prompt;       /* NULL when unset */
    int prepend_instance_prompt, only_instance_prompt, disable_multiline_split;
} CaptionSpec;

typedef struct CaptionList {
    int n;                             /* 0 for CAPTION_NONE */
    char **text;
    int cap;                           /* allocated entries of text */
} CaptionList;

/* Parses a caption_strategy value; NULL (JSON null) means CAPTION_NONE. "instance_prompt" is accepted
 * as an alias of "instanceprompt". Other strategies (parquet, csv, huggingface) are "not supported yet". */
int caption_strategy_parse(const char *s, CaptionStrategy *out, Err *e);
/* Checks the spec is usable (e.g. instanceprompt needs instance_prompt); `dataset_id` names it. */
int caption_spec_check(const CaptionSpec *spec, const char *dataset_id, Err *e);
/* Path of the caption file of an image: root/rel with the extension replaced by ".txt" (malloc'd). */
char *caption_file_path(const char *root, const char *rel);
/* The candidate captions of image `rel` under `root`. A missing caption file is an error naming it
 * (message "<path>: caption file not found"); so is a caption file (or, with the filename strategy,
 * a file name) that is not valid UTF-8, as Python's decoder refuses it upstream (exit 2). */
int caption_load(const CaptionSpec *spec, const char *root, const char *rel, CaptionList *out, Err *e);
void caption_list_free(CaptionList *c);
/* The caption used for this sample in this epoch ("" when the list is empty). */
const char *caption_pick(const CaptionList *c, uint64_t seed, int64_t epoch, const char *dataset_id, const char *rel);
/* 1 when the caption of this sample is dropped this epoch (probability p in [0, 1]). */
int caption_dropped(double p, uint64_t seed, int64_t epoch, const char *dataset_id, const char *rel);

#endif
