/* lycoris_config.h — SimpleTuner's `lycoris_config` file (lora_type=lycoris): a JSON object in
 * LyCORIS' create_lycoris format, read and checked whole so that a bad file stops the load with one
 * error naming the file and the key.
 *
 *   {"algo": "lokr", "multiplier": 1.0, "linear_dim": 10000, "linear_alpha": 1, "factor": 16,
 *    "full_matrix": true, "use_scalar": true, "bypass_mode": true, "dropout": 0, "rank_dropout": 0,
 *    "module_dropout": 0, "apply_preset": {"target_module": ["Attention"], "target_name": [...],
 *    "module_algo_map": {"Attention": {"factor": 16}}, "name_algo_map": {...}, "use_fnmatch": false,
 *    "exclude_name": [...], "lora_prefix": "lycoris"}}
 *
 * SimpleTuner's rules: algo, multiplier and linear_alpha are required, linear_dim too unless
 * full_matrix is true; multiplier, linear_dim and linear_alpha are cast with int() (fractions
 * truncate; linear_dim defaults to 4). Booleans must be JSON true/false (LyCORIS reads 0 and null as
 * true; we refuse them instead of guessing). Keys LyCORIS ignores at the top level (rs_lora,
 * weight_decompose, rank_dropout_scale, wd_on_out) produce warnings; DoRA, train_norm, T-LoRA and
 * algorithms other than lokr/loha/lora/locon are "not supported yet". */
#ifndef ST_CONFIG_LYCORIS_CONFIG_H
#define ST_CONFIG_LYCORIS_CONFIG_H
#include "base/error.h"

/* Keys a module_algo_map / name_algo_map entry (or the top level) may set; `set` has one bit each. */
enum {
    LYK_ALGO = 1 << 0, LYK_DIM = 1 << 1, LYK_ALPHA = 1 << 2, LYK_FACTOR = 1 << 3, LYK_FULL_MATRIX = 1 << 4,
    LYK_DECOMPOSE_BOTH = 1 << 5, LYK_USE_SCALAR = 1 << 6, LYK_RS_LORA = 1 << 7, LYK_BYPASS = 1 << 8,
    LYK_RANK_DROPOUT_SCALE = 1 << 9, LYK_UNBALANCED = 1 << 10,
};

typedef struct LycorisEntry {
    unsigned set;
    char algo[16];              /* lower-cased: lokr, loha, lora, locon */
    int dim, factor;
    double alpha;
    int full_matrix, decompose_both, use_scalar, rs_lora, bypass_mode, rank_dropout_scale, unbalanced_factorization;
} LycorisEntry;

typedef struct LycorisMapItem { char *key; LycorisEntry entry; } LycorisMapItem;

typedef struct LycorisConfig {
    char *path;
    char *text;                 /* the file as read (saved with the weights, as SimpleTuner does) */
    char algo[16];
    double multiplier;          /* after int() */
    int linear_dim;
    double linear_alpha;        /* after int() */
    LycorisEntry root;          /* top-level factor, full_matrix, decompose_both, use_scalar, bypass_mode,
                                 * unbalanced_factorization (other bits unset) */
    double dropout, rank_dropout, module_dropout;
    /* apply_preset (LyCORIS' defaults when absent: every Linear) */
    char **target_module; int n_target_module;
    char **target_name; int n_target_name;
    char **exclude_name; int n_exclude_name;
    LycorisMapItem *module_map; int n_module_map;   /* in file order */
    LycorisMapItem *name_map; int n_name_map;
    int use_fnmatch;
    char lora_prefix[64];
    char *warnings;             /* "; "-separated notes for the user, or NULL */
} LycorisConfig;

/* Reads and checks `path`; errors are EXIT_USAGE and start with "lycoris_config <path>". */
int lycoris_config_load(const char *path, LycorisConfig *c, Err *e);
void lycoris_config_free(LycorisConfig *c);

#endif
