/* config_internal.h — the Config structure shared by the config_*.c files (not for other modules). */
#ifndef ST_CONFIG_INTERNAL_H
#define ST_CONFIG_INTERNAL_H
#include "config/config.h"

struct Config {
    /* indexed as option_at: SimpleTuner's options, then ours ([option_count_all()]) */
    cJSON **value;        /* user value, NULL = default */
    cJSON **defaults;     /* parsed default_json */
    char **source;        /* file path or "command line" where the user set it */
    char **text;          /* config_str cache, filled by config_finish */
    char **inferred;      /* why a value not given was inferred (config_infer), or NULL */
    char *file;           /* config file read ("" when none) */
    char *data_file;      /* resolved data_backend_config path ("" when none) */
    char *examples_dir;   /* where example=NAME presets live */
    cJSON *data_root;     /* parsed multidatabackend.json */
    DatasetConfig *ds;
    int n_ds;
    char *ignored;        /* inert keys set to a non-default value, or NULL */
    char *dropped;        /* object-valued keys dropped as SimpleTuner does (for the log), or NULL */
    cJSON *extras;        /* those object values by key (SimpleTuner's "extras"); model_kwargs is read */
    cJSON *extras_source; /* key -> where it was set (file path or "command line") */
    char *unknown;        /* while loading: every unknown key met, with its suggestion, grouped by source */
    char *unknown_where;  /* the source of the last one */
    int n_unknown;
    const char *const *command_flags, *const *command_switches;   /* while loading: for suggestions */
    int quiet;
};

/* Index of a canonical option name (option_at order); aborts on an unknown name (programming error). */
int config_index(const char *key);
/* The effective value (user or default); NULL for a JSON null. */
const cJSON *config_value(const Config *c, int idx);
/* Replaces a value as a rule does (source kept; marks it set when `source` is non-NULL). */
void config_put(Config *c, int idx, cJSON *v, const char *source);
/* Value as the user would write it on the command line (strings unquoted); malloc'd. */
char *config_value_text(const cJSON *v);

/* Whether `value` is one of the comma-separated items of `list` ("a,b,c"). */
int csv_has(const char *list, const char *value);
/* *buf = "*buf<sep>text" (or a copy of text when *buf is NULL); for comma lists in messages. */
void text_append(char **buf, const char *sep, const char *text);
/* Whether `name` is in a NULL-terminated array of names (the array may be NULL). */
int names_have(const char *const *names, const char *name);
/* min(Levenshtein distance between two names, limit); 1000 (or limit) when either is longer than 63
 * characters. */
int name_distance_below(const char *a, const char *b, int limit);
/* The most edits that still count as a typo of a name of `len` characters (2: a swap of two letters
 * is 2 edits; 3 from 10 characters): farther names get no "did you mean". */
static inline int typo_distance(size_t len) { return len >= 10 ? 3 : 2; }
/* Pixel edge for a validation_resolution given in megapixels (< 128), as SimpleTuner converts it. */
int megapixel_edge(double mp);
/* A fresh Config holding only defaults. */
Config *config_new(void);
/* Sets option `d` from a raw value (config file entry or command-line string); `where` names the
 * source in messages and is recorded as the key's source. */
int config_set(Config *c, const OptionDef *d, const cJSON *raw, int from_cli, const char *where, Err *e);

/* Post-parse rules of spec §2.1 and required keys (config_rules.c). */
int config_apply_rules(Config *c, int require_keys, Err *e);
/* "not supported yet" checks and the list of inert keys the user set (config_rules.c). */
int config_check_support(Config *c, Err *e);
/* multidatabackend.json (config_datasets.c). */
int config_load_datasets(Config *c, Err *e);
void config_free_datasets(Config *c);
/* Coerces a raw JSON value (from a file, or a string from the command line) to the option's type. */
cJSON *config_coerce(const OptionDef *d, const cJSON *raw, int from_cli, const char *where, Err *e);

/* The range of a numeric option (config_ranges.c); NULL for non-numeric names. */
typedef struct OptionRange { const char *name; int integer; double min, max; int min_exclusive, max_exclusive; } OptionRange;
const OptionRange *option_range(const char *name);
int option_range_count(void);
const OptionRange *option_range_at(int i);

#endif
