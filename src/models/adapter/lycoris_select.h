/* lycoris_select.h — which linear layers a lycoris_config adapts, and with which settings, as
 * LyCORIS' LycorisNetwork walks a PyTorch model (wrapper.py), on our module paths.
 *
 * LyCORIS visits modules by path (parents before children) and knows each by its Python class
 * name. A module is a trigger when its class is in target_module ∪ module_algo_map keys (and its
 * path matches no target_name), or when its path matches target_name ∪ name_algo_map keys
 * (re.match — anchored at the start only — or fnmatch with use_fnmatch); exclude_name entries
 * (exact or matching) are never triggers. A class trigger adapts every Linear below it with its
 * module_algo_map entry, except that a module_algo_map class further down (the Linear itself
 * included) takes over with its own entry; a name trigger adapts the module itself when it is a
 * Linear, with its name_algo_map entry (else its class's module_algo_map entry). The first trigger
 * on the way down from the root wins. Entries override the top-level algo, linear_dim (dim),
 * linear_alpha (alpha), factor, full_matrix, decompose_both, use_scalar, bypass_mode,
 * unbalanced_factorization; rs_lora and rank_dropout_scale come only from entries; algo is
 * inherited from the enclosing entry.
 *
 * Our models have no Python classes, so a family declares them (ModuleClass, models/family.c): for
 * each non-Linear module path (a pattern whose "*" matches one path segment, e.g. a block index)
 * its diffusers class name and, optionally, a second name it also answers to. Every linear layer is
 * class "Linear"; the path "" is the transformer's class. The result depends only on the names, so
 * the same configuration selects the same modules in every run. */
#ifndef ST_MODELS_LYCORIS_SELECT_H
#define ST_MODELS_LYCORIS_SELECT_H
#include "base/error.h"
#include "config/lycoris_config.h"
#include "models/adapter/lycoris.h"

typedef struct ModuleClass {
    const char *path;     /* e.g. "transformer_blocks.*.attn"; NULL ends a table */
    const char *cls;      /* e.g. "FluxAttention" */
    const char *alias;    /* another class name it matches (e.g. "Attention"), or NULL */
} ModuleClass;

typedef struct LycorisModel {
    const char *root_class;         /* the transformer's class, e.g. "LongCatImageTransformer2DModel" */
    const ModuleClass *classes;
    const char *const *names;       /* the linear layers' module paths */
    int n;
    int force_bypass;               /* the base is quanto-quantised: LyCORIS switches such layers to bypass mode */
} LycorisModel;

/* specs[i] and selected[i] (0/1) for every linear; error (EXIT_USAGE, naming the file and the
 * targets) when nothing is selected, a pattern does not compile, or two modules would save under
 * one key. */
int lycoris_select(const LycorisConfig *c, const LycorisModel *m, LycorisModuleSpec *specs, int *selected, Err *e);

/* The class name of a module path (NULL when the family declares none). */
const char *lycoris_module_class(const LycorisModel *m, const char *path, int is_linear, int alias);

#endif
