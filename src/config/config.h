/* config.h — SimpleTuner-compatible configuration: config.json + multidatabackend.json + key=value.
 *
 * Every option SimpleTuner's field registry knows (464 rows of specs/simpletuner-options.tsv) is in one
 * generated table (options_table.c) with its type, default, aliases and choices. config_load reads the
 * config file(s) and command line into a Config: a resolved key -> value store over that table, with
 * every default filled in and SimpleTuner's post-parse rules applied (spec §2.1).
 *
 * Each option is also classified (config_support.c, the one list to edit when a feature lands):
 *   implemented  we honour it;
 *   inert        it cannot change results on this program (publishing, trackers, UI, cloud, GPU-only
 *                tuning); accepted, and listed once in the log as "ignored, no effect here: ..." when set;
 *   unsupported  it would change behaviour we lack: a value other than its default stops the load with
 *                "not supported yet: KEY=VALUE" (exit 2) before any work starts.
 * Implemented and inert options may also restrict their values (model_family, optimizer,
 * mixed_precision, attention_mechanism, ...): any other value is "not supported yet: KEY=VALUE", with
 * the reason when config_support.c has one.
 *
 * Getters take the option's canonical name; asking for a name the table does not know is a programming
 * error and aborts with a message (a typo in code must not silently read a default). */
#ifndef ST_CONFIG_H
#define ST_CONFIG_H
#include <cjson/cJSON.h>
#include <stdint.h>
#include "base/error.h"

typedef struct Config Config;

/* ---- loading ---------------------------------------------------------------------------------
 * argv (the command's arguments, command name excluded) may hold, in any order:
 *   --config FILE | config=FILE        the config.json to read
 *   --data FILE | data=FILE            overrides data_backend_config
 *   --example NAME | -e NAME | example=NAME   examples/<NAME>/config.json (see ConfigLoadOptions)
 *   --env NAME | env=NAME              config/<NAME>/config.json
 *   key=value, --key=value, --key value  overrides; later wins over earlier and over the file
 * Without --config/--example/--env: $CONFIG_PATH, then config/$ENV/config.json (ENV environment
 * variable), then config/config.json; when none exists and command-line keys were given, the
 * configuration is built from them alone. Relative paths are taken from the current directory. */
typedef struct ConfigLoadOptions {
    /* Flags the calling command handles itself (e.g. "--image", "--prompt", "--output"); each takes
     * one value ("--image x" or "--image=x") and is skipped here. NULL-terminated; may be NULL. */
    const char *const *command_flags;
    /* Same for flags that take no value (e.g. "--json"). NULL-terminated; may be NULL. */
    const char *const *command_switches;
    /* Do not require model_family/model_type/output_dir/optimizer/data_backend_config
     * (e.g. `validate` driven by flags alone). */
    int allow_missing_required;
    /* Do not read multidatabackend.json (commands that never touch datasets). */
    int skip_datasets;
    /* Folder of packaged presets; NULL = $SIMPLETUNER_EXAMPLES_DIR, else ./examples, else
     * <directory of the executable>/../examples, else <that>/../share/simpletuner/examples. */
    const char *examples_dir;
    /* Do not log the "ignored, no effect here" line (tests, `config show` prints it itself). */
    int quiet;
    /* Build the configuration from the command-line keys alone: no config.json is searched for
     * (run-module's pipeline runs must not pick up $CONFIG_PATH or ./config/config.json). */
    int args_only;
} ConfigLoadOptions;

/* Strict load with default options. On failure *out is NULL and e names file, key and the problem
 * (exit code EXIT_USAGE for every configuration error; unknown keys are listed together, each with the
 * nearest option or command flag). When no file was named, the one found is said ("using ..."). */
int config_load(Config **out, int argc, char **argv, Err *e);
int config_load_with(Config **out, int argc, char **argv, const ConfigLoadOptions *opt, Err *e);
void config_free(Config *c);
/* A configuration from (key, value) pairs alone, values as on a command line (no config.json is
 * searched for, no datasets are read): libraries and servers that hold settings in memory. */
int config_from_pairs(Config **out, const char *const *keys, const char *const *values, int n, Err *e);
/* Folder of packaged presets (malloc'd): override, $SIMPLETUNER_EXAMPLES_DIR, ./examples,
 * <directory of the executable>/../examples (build tree), <that>/../share/simpletuner/examples (installed). */
char *config_examples_dir(const char *override);

/* The file config_load read ("" when built from the command line alone), and the dataset file. */
const char *config_file(const Config *c);
const char *config_data_file(const Config *c);

/* ---- typed getters (defaults filled in; key = canonical option name) ---------------------------
 * A null value (option without default, not given) reads as NULL / NAN / 0 / 0; config_has tells. */
const char *config_str(const Config *c, const char *key);   /* text/select; numbers as text; lists joined by "," */
double config_num(const Config *c, const char *key);
long config_int(const Config *c, const char *key);          /* config_num rounded toward zero */
int config_bool(const Config *c, const char *key);
int config_has(const Config *c, const char *key);           /* value is not null */
int config_is_set(const Config *c, const char *key);        /* the user gave it (file or command line) */
const cJSON *config_json(const Config *c, const char *key); /* raw value (lists, objects); NULL when null */

/* For a module that meets a value it cannot honour yet (e.g. a dataset option the trainer lacks):
 * sets e to "<where it was set>: not supported yet: KEY=VALUE" with EXIT_USAGE and returns -1, so the
 * value is never silently ignored. */
int config_unsupported(const Config *c, const char *key, Err *e);

/* An object value SimpleTuner diverts into "extras" (e.g. model_kwargs), as written; NULL when absent.
 * model_kwargs is also taken from the command line as JSON text (model_kwargs='{"match_target_res": true}'). */
const cJSON *config_extra(const Config *c, const char *key);
/* Every extra (an object of key -> value; NULL when none), where each was set, and whether this
 * program reads that extra (model_kwargs) or drops it as SimpleTuner does. */
const cJSON *config_extras(const Config *c);
const char *config_extra_source(const Config *c, const char *key);
int config_extra_read(const char *key);

/* Where the user set the key: the file path or "command line"; NULL when not set. */
const char *config_source(const Config *c, const char *key);
/* A value the user did not give, worked out from elsewhere (model_flavour from the model folder's
 * model_index.json): stored with the reason, which `config show` prints; the key stays not set. */
void config_infer(Config *c, const char *key, const char *value, const char *why);
/* The reason given to config_infer, or NULL. */
const char *config_inferred(const Config *c, const char *key);

/* ---- option registry --------------------------------------------------------------------------- */
typedef enum { OPT_BOOL, OPT_NUMBER, OPT_TEXT, OPT_SELECT, OPT_JSON } OptionType;
typedef enum { SUPPORT_UNSUPPORTED = 0, SUPPORT_IMPLEMENTED, SUPPORT_INERT } OptionSupport;

typedef struct OptionDef {
    const char *name;
    OptionType type;
    const char *default_json;  /* the default as JSON text ("null", "16", "\"bf16\"", "true") */
    const char *aliases;       /* comma-separated other names, or "" */
    const char *choices_json;  /* JSON array of allowed values, or NULL when free or computed upstream */
    const char *section;       /* registry section (model, lora, training, ...) */
} OptionDef;

/* The generated table, sorted by name, and its aliases (alias -> canonical name). */
extern const OptionDef OPTION_TABLE[];
extern const int OPTION_COUNT;
typedef struct OptionAlias { const char *alias, *name; } OptionAlias;
extern const OptionAlias OPTION_ALIASES[];
extern const int OPTION_ALIAS_COUNT;

/* This program's own options, for behaviour SimpleTuner does not have (options_own.c, written by
 * hand): they load, validate (type, choices), show and are classified like SimpleTuner's — always
 * "implemented" — and apply only to the models their row names: set for another family or flavour,
 * the load stops with an error naming the key (exit 2). */
typedef struct OwnOption {
    OptionDef def;
    const char *scope;         /* "family" or "family:flavour,flavour" it applies to; NULL = every model */
    const char *help;          /* one line: what it does (config show, docs) */
} OwnOption;
extern const OwnOption OWN_OPTIONS[];
extern const int OWN_OPTION_COUNT;
/* Every option by index: SimpleTuner's table (0 .. OPTION_COUNT-1), then ours. */
int option_count_all(void);
const OptionDef *option_at(int i);
/* Index of a canonical name in that order, or -1. */
int option_index(const char *name);
/* Our row for a name (canonical), or NULL for SimpleTuner's options and unknown names. */
const OwnOption *option_own(const char *name);

/* Lookup by canonical name or alias (with or without leading "--"); NULL when unknown. */
const OptionDef *option_find(const char *name);
/* The known option name closest to `name` (edit distance), for "did you mean" messages; NULL when
 * none is within a typo (2 edits, 3 for names of 10 characters or more). */
const char *option_nearest(const char *name);
OptionSupport option_support(const char *name);
/* An option's default from the table (the one place defaults are written): a number (NAN when the
 * default is null or not a number) or a string into buf (NULL likewise). A name the table does not
 * know is a programming error and aborts. */
double option_default_num(const char *name);
const char *option_default_str(const char *name, char *buf, size_t cap);

/* One line of help for the WebUI's form (options_help.c), or NULL when none was written. */
const char *option_help(const char *name);
/* Every help entry names a canonical option, in sorted order; for tests. */
int option_help_validate(Err *e);

/* The run's seed: `seed`, or 42 when unset (SimpleTuner would draw one; a fixed seed makes runs
 * repeat). The validation seed, as SimpleTuner seeds its validation generator (validation_seed or
 * seed): `validation_seed` when set and not 0, else the run's seed. */
uint64_t config_run_seed(const Config *c);
uint64_t config_validation_seed(const Config *c);
/* For implemented or inert options that only accept some values: comma-separated list, else NULL. */
const char *option_supported_values(const char *name);
/* Why other values of an option are refused ("not supported yet: K=V (reason)"), or NULL. */
const char *option_unsupported_reason(const char *name);
/* The i-th implemented option (0-based) into *name; 0 past the end (coverage tests). */
int option_implemented_at(int i, const char **name);
const char *option_type_name(OptionType t);
/* Consistency of the classification lists (every name is an option, none listed twice); for tests. */
int option_support_validate(Err *e);

/* ---- datasets (multidatabackend.json, spec §2.3) ------------------------------------------------ */
typedef struct DatasetConfig {
    char *id;
    char *type;               /* local (others: not supported yet) */
    char *dataset_type;       /* image, conditioning, text_embeds, image_embeds, conditioning_image_embeds, eval, ... */
    int disabled;
    char *instance_data_dir;
    char *caption_strategy;   /* NULL when the file says null (no captions) */
    char *instance_prompt;
    int prepend_instance_prompt, only_instance_prompt, disable_multiline_split;
    double resolution;        /* global fallback applied */
    char *resolution_type;    /* pixel, area, pixel_area */
    double minimum_image_size, maximum_image_size, target_downsample_size; /* NAN when unset */
    double minimum_aspect_ratio, maximum_aspect_ratio, max_upscale_threshold; /* NAN when unset */
    int crop;
    char *crop_style;         /* random, center, centre, corner, face */
    char *crop_aspect;        /* square, preserve, closest, random */
    cJSON *crop_aspect_buckets; /* NULL or list of floats / {aspect, weight} */
    char *cache_dir_vae;      /* default <cache_dir>/vae/<model_family>/<id>; {model_family} substituted */
    char **conditioning_data; /* ids of the conditioning sets this set uses */
    int n_conditioning_data;
    char *conditioning_type;  /* reference_strict, reference_loose, mask, segmentation, controlnet; NULL */
    char *source_dataset_id;  /* explicit, or the set that lists this one in conditioning_data */
    cJSON *conditioning;      /* generator list ({type: ...}); NULL */
    char *conditioning_image_embeds;          /* id of the conditioning_image_embeds set (qwen edit-v1) */
    char *cache_dir_conditioning_image_embeds;
    long conditioning_image_embed_batch_size;
    char *text_embeds, *image_embeds;         /* ids of embed cache sets */
    char *cache_dir;                          /* text_embeds / image_embeds / conditioning_image_embeds sets */
    int is_default;                           /* "default": true on a text_embeds set */
    long write_batch_size, text_encoder_batch_size;
    int text_cache_ondemand, text_cache_disable;
    long repeats;
    double probability;
    long train_batch_size;                    /* global train_batch_size when unset */
    double caption_dropout_probability;       /* NAN when unset (global applies) */
    int is_regularisation_data;
    int vae_cache_clear_each_epoch, vae_cache_ondemand, vae_cache_disable, compress_cache;
    char *skip_file_discovery;
    int preserve_data_backend_cache, scan_for_errors;
    char *vae_cache_scan_behaviour;           /* recreate, sync */
    char *metadata_backend;                   /* discovery */
    long start_epoch, start_step, end_epoch, end_step, max_num_samples; /* end_*, max_num_samples: 0 = unset */
    double timestep_sampling_offset;
    int disable_validation, delete_unwanted_images, delete_problematic_images;
    int inferred_reference;   /* 1: a plain set listed in conditioning_data, treated as reference_strict */
    const cJSON *raw;         /* the object as written (owned by the Config) */
} DatasetConfig;

/* The datasets read from data_backend_config, validated; disabled sets are included (check .disabled).
 * Returns 0 and n = 0 when the load skipped datasets. The array is owned by the Config. */
int config_datasets(const Config *c, const DatasetConfig **out, int *n);
const DatasetConfig *config_dataset_find(const Config *c, const char *id);

/* ---- reporting ---------------------------------------------------------------------------------- */
/* The inert options the user set to a non-default value ("k1, k2"), as logged once at load; NULL if none. */
const char *config_ignored(const Config *c);
/* How `config show` marks a key: "default" when the user did not set it, else "implemented",
 * "ignored" (inert: no effect here) or "default (other values not supported yet)" (unsupported: only
 * its default loads); "inferred" for a value worked out (config_infer). `config show` adds the
 * supported values of restricted options. */
const char *config_mark(const Config *c, const char *key);
/* Resolved validation_resolution as a list of (width, height); megapixel values (< 128) converted.
 * Returns the count written (at most max) or -1 with e set. */
int config_validation_resolutions(const Config *c, int (*wh)[2], int max, Err *e);

#endif
