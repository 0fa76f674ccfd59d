/* lycoris_config files (config/lycoris_config.h) and the module selection of apply_preset
 * (models/adapter/lycoris_select.h) on both families' module names and diffusers classes: bad files
 * give one error naming the file and the key; SimpleTuner's casts and required keys; class targets
 * (Attention, FeedForward, the transformer class), module_algo_map overrides and nesting, target_name
 * as re.match and fnmatch, name_algo_map, exclude_name as LyCORIS applies it, nothing selected. */
#include "test_util.h"
#include "config/lycoris_config.h"
#include "models/adapter/lycoris_select.h"
#include "models/family.h"

static const char *const LONGCAT[] = {
    "x_embedder", "context_embedder", "time_embed.timestep_embedder.linear_1", "time_embed.timestep_embedder.linear_2",
    "norm_out.linear", "proj_out",
    "transformer_blocks.0.norm1.linear", "transformer_blocks.0.norm1_context.linear", "transformer_blocks.0.attn.to_q",
    "transformer_blocks.0.attn.to_k", "transformer_blocks.0.attn.to_v", "transformer_blocks.0.attn.to_out.0",
    "transformer_blocks.0.attn.add_q_proj", "transformer_blocks.0.attn.add_k_proj", "transformer_blocks.0.attn.add_v_proj",
    "transformer_blocks.0.attn.to_add_out", "transformer_blocks.0.ff.net.0.proj", "transformer_blocks.0.ff.net.2",
    "transformer_blocks.0.ff_context.net.0.proj", "transformer_blocks.0.ff_context.net.2",
    "single_transformer_blocks.0.norm.linear", "single_transformer_blocks.0.attn.to_q", "single_transformer_blocks.0.attn.to_k",
    "single_transformer_blocks.0.attn.to_v", "single_transformer_blocks.0.proj_mlp", "single_transformer_blocks.0.proj_out",
};
static const char *const QWEN[] = {
    "time_text_embed.timestep_embedder.linear_1", "time_text_embed.timestep_embedder.linear_2", "img_in", "txt_in", "norm_out.linear",
    "proj_out", "transformer_blocks.0.img_mod.1", "transformer_blocks.0.txt_mod.1", "transformer_blocks.0.attn.to_q",
    "transformer_blocks.0.attn.to_k", "transformer_blocks.0.attn.to_v", "transformer_blocks.0.attn.add_q_proj",
    "transformer_blocks.0.attn.add_k_proj", "transformer_blocks.0.attn.add_v_proj", "transformer_blocks.0.attn.to_out.0",
    "transformer_blocks.0.attn.to_add_out", "transformer_blocks.0.img_mlp.net.0.proj", "transformer_blocks.0.img_mlp.net.2",
    "transformer_blocks.0.txt_mlp.net.0.proj", "transformer_blocks.0.txt_mlp.net.2",
};
#define NL ((int)(sizeof LONGCAT / sizeof *LONGCAT))
#define NQ ((int)(sizeof QWEN / sizeof *QWEN))

typedef struct Fx { char *dir; char *path; LycorisConfig c; Err e; } Fx;

static int setup(void **state) {
    Fx *f = calloc(1, sizeof *f);
    f->dir = tmpdir_make();
    f->path = malloc(strlen(f->dir) + 32);
    sprintf(f->path, "%s/lycoris_config.json", f->dir);
    *state = f;
    return 0;
}
static int teardown(void **state) {
    Fx *f = *state;
    lycoris_config_free(&f->c);
    tmpdir_remove(f->dir);
    free(f->path); free(f);
    return 0;
}

static int load(Fx *f, const char *json) {
    lycoris_config_free(&f->c);
    write_text(f->path, json);
    memset(&f->e, 0, sizeof f->e);
    return lycoris_config_load(f->path, &f->c, &f->e);
}

static void test_bad_configs(void **state) {
    Fx *f = *state;
    static const struct { const char *json, *want; } CASES[] = {
        {"{\"multiplier\": 1, \"linear_dim\": 4, \"linear_alpha\": 1}", "missing key 'algo'"},
        {"{\"algo\": \"lokr\", \"linear_dim\": 4, \"linear_alpha\": 1}", "missing key 'multiplier'"},
        {"{\"algo\": \"lokr\", \"multiplier\": 1, \"linear_alpha\": 1}", "missing key 'linear_dim' (required unless full_matrix is true)"},
        {"{\"algo\": \"lokr\", \"multiplier\": 1, \"linear_dim\": 4}", "missing key 'linear_alpha'"},
        {"{\"algo\": \"ia3\", \"multiplier\": 1, \"linear_dim\": 4, \"linear_alpha\": 1}", "'algo' is 'ia3': not supported yet"},
        {"{\"algo\": \"lokra\", \"multiplier\": 1, \"linear_dim\": 4, \"linear_alpha\": 1}", "'algo' is 'lokra': not a LyCORIS algorithm"},
        {"{\"algo\": \"lokr\", \"multiplier\": 1, \"linear_dim\": 4, \"linear_alpha\": 1, \"full_matrix\": 0}", "'full_matrix' must be true or false"},
        {"{\"algo\": \"lokr\", \"multiplier\": 1, \"linear_dim\": 4, \"linear_alpha\": 1, \"factr\": 8}", "'factr' is not a LyCORIS setting"},
        {"{\"algo\": \"lokr\", \"multiplier\": 1, \"linear_dim\": 4, \"linear_alpha\": 1, \"factor\": 2.5}", "'factor' must be a whole number"},
        {"{\"algo\": \"lokr\", \"multiplier\": 0.5, \"linear_dim\": 4, \"linear_alpha\": 1}", "'multiplier' is 0 after SimpleTuner's int() cast"},
        {"{\"algo\": \"lokr\", \"multiplier\": 1, \"linear_dim\": 0, \"linear_alpha\": 1}", "'linear_dim' must be a rank of at least 1"},
        {"{\"algo\": \"lokr\", \"multiplier\": 1, \"linear_dim\": 4, \"linear_alpha\": 1, \"rank_dropout\": 1.5}", "'rank_dropout' must be a probability"},
        {"{\"algo\": \"lokr\", \"multiplier\": 1, \"linear_dim\": 4, \"linear_alpha\": 1, \"dora_wd\": true}", "'dora_wd' is true: not supported yet"},
        {"{\"algo\": \"lokr\", \"multiplier\": 1, \"linear_dim\": 4, \"linear_alpha\": 1, \"preset\": \"my.toml\"}", "preset files are not supported yet"},
        {"{\"algo\": \"lokr\", \"multiplier\": 1, \"linear_dim\": 4, \"linear_alpha\": 1, \"apply_preset\": {\"target_modules\": [\"Attention\"]}}",
         "'apply_preset.target_modules' is not a preset key"},
        {"{\"algo\": \"lokr\", \"multiplier\": 1, \"linear_dim\": 4, \"linear_alpha\": 1, \"apply_preset\": {\"target_module\": \"Attention\"}}",
         "'apply_preset.target_module' must be a list of strings"},
        {"{\"algo\": \"lokr\", \"multiplier\": 1, \"linear_dim\": 4, \"linear_alpha\": 1, \"apply_preset\": {\"module_algo_map\": {\"Attention\": {\"dropout\": 0.1}}}}",
         "'apply_preset.module_algo_map.Attention.dropout' cannot be set per module"},
        {"{\"algo\": \"lokr\", \"multiplier\": 1, \"linear_dim\": 4, \"linear_alpha\": 1, \"apply_preset\": {\"name_algo_map\": {\"x\": {\"fator\": 2}}}}",
         "'apply_preset.name_algo_map.x.fator' is not a LyCORIS module setting"},
        {"{\"algo\": \"lokr\", \"multiplier\": 1, \"linear_dim\": 4, \"linear_alpha\": 1, \"apply_preset\": {\"module_algo_map\": {\"FeedForward\": {\"algo\": \"boft\"}}}}",
         "'apply_preset.module_algo_map.FeedForward.algo' is 'boft': not supported yet"},
        {"{\"algo\": \"lokr\", \"multiplier\": 1, \"linear_dim\": 4, \"linear_alpha\": 1, \"tlora_min_rank\": 2}", "not supported yet (SimpleTuner's T-LoRA)"},
        {"{\"algo\": \"lokr\", \"multiplier\": 1, \"linear_dim\": 4, \"linear_alpha\": 1,}", "not valid JSON"},
        {"[1, 2]", "expected a JSON object"},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++) {
        if (load(f, CASES[i].json) == 0) fail_msg("case %zu should fail: %s", i, CASES[i].json);
        assert_int_equal(f->e.code, EXIT_USAGE);
        assert_contains(f->e.msg, f->path);
        assert_contains(f->e.msg, CASES[i].want);
    }
    /* a missing file names it */
    lycoris_config_free(&f->c);
    assert_int_equal(lycoris_config_load("no/such/lycoris.json", &f->c, &f->e), -1);
    assert_contains(f->e.msg, "no/such/lycoris.json");
}

static void test_simpletuner_rules(void **state) {
    Fx *f = *state;
    /* full_matrix true: linear_dim may be absent (4); fractions truncate as SimpleTuner's int() does */
    if (load(f, "{\"algo\": \"LoKr\", \"multiplier\": 1.9, \"linear_alpha\": 2.7, \"full_matrix\": true, \"rs_lora\": true}")) fail_msg("%s", f->e.msg);
    assert_string_equal(f->c.algo, "lokr");
    assert_true(f->c.multiplier == 1.0);
    assert_true(f->c.linear_alpha == 2.0);
    assert_int_equal(f->c.linear_dim, 4);
    assert_int_equal(f->c.root.factor, -1);
    assert_non_null(f->c.warnings);
    assert_contains(f->c.warnings, "multiplier 1.9 is cut to 1");
    assert_contains(f->c.warnings, "top-level 'rs_lora' has no effect");
    /* the SimpleTuner preset's file, as shipped */
    if (load(f, "{\"bypass_mode\": true, \"algo\": \"lokr\", \"multiplier\": 1.0, \"full_matrix\": true, \"linear_dim\": 10000, \"linear_alpha\": 1,"
                " \"factor\": 16, \"apply_preset\": {\"target_module\": [\"LongCatImageTransformer2DModel\"],"
                " \"module_algo_map\": {\"LongCatImageTransformer2DModel\": {\"factor\": 16}}}}")) fail_msg("%s", f->e.msg);
    assert_null(f->c.warnings);
    assert_int_equal(f->c.linear_dim, 10000);
    assert_int_equal(f->c.n_target_module, 1);
    assert_int_equal(f->c.n_module_map, 1);
    assert_true(f->c.root.bypass_mode && f->c.root.full_matrix);
}

/* Selected modules of a family for a config text: the count, with specs/selected filled. */
static int select_on(Fx *f, const char *family, const char *json, LycorisModuleSpec *specs, int *sel, int force_bypass) {
    if (load(f, json)) fail_msg("%s", f->e.msg);
    const ModelFamily *fam = family_find(family);
    int lc = !strcmp(family, "longcat_image");
    LycorisModel m = {fam->transformer_class, fam->module_classes, lc ? LONGCAT : QWEN, lc ? NL : NQ, force_bypass};
    if (lycoris_select(&f->c, &m, specs, sel, &f->e)) return -1;
    int n = 0;
    for (int i = 0; i < m.n; i++) n += sel[i];
    return n;
}

static int index_of(const char *const *names, int n, const char *name) {
    for (int i = 0; i < n; i++) if (!strcmp(names[i], name)) return i;
    fail_msg("no module %s", name);
    return -1;
}

#define HEAD "{\"algo\": \"lokr\", \"multiplier\": 1, \"linear_dim\": 8, \"linear_alpha\": 2, \"factor\": 4, "

static void test_selection_longcat(void **state) {
    Fx *f = *state;
    LycorisModuleSpec sp[NL];
    int sel[NL];
    /* attention: FluxAttention, also under the name "Attention" — double blocks 8 layers, single 3 */
    assert_int_equal(select_on(f, "longcat_image", HEAD "\"apply_preset\": {\"target_module\": [\"Attention\"]}}", sp, sel, 0), 11);
    assert_true(sel[index_of(LONGCAT, NL, "single_transformer_blocks.0.attn.to_v")]);
    assert_false(sel[index_of(LONGCAT, NL, "single_transformer_blocks.0.proj_mlp")]);
    assert_int_equal(select_on(f, "longcat_image", HEAD "\"apply_preset\": {\"target_module\": [\"FluxAttention\"]}}", sp, sel, 0), 11);
    /* FeedForward: ff and ff_context of the double blocks */
    assert_int_equal(select_on(f, "longcat_image", HEAD "\"apply_preset\": {\"target_module\": [\"FeedForward\"]}}", sp, sel, 0), 4);
    assert_true(sel[index_of(LONGCAT, NL, "transformer_blocks.0.ff_context.net.2")]);
    /* the transformer class: every linear, with the class's entry */
    assert_int_equal(select_on(f, "longcat_image", HEAD "\"apply_preset\": {\"target_module\": [\"LongCatImageTransformer2DModel\"],"
                                                   " \"module_algo_map\": {\"LongCatImageTransformer2DModel\": {\"factor\": 16}}}}", sp, sel, 0), NL);
    for (int i = 0; i < NL; i++) { assert_int_equal(sp[i].factor, 16); assert_int_equal(sp[i].algo, LYCO_LOKR); assert_int_equal(sp[i].dim, 8); }
    /* a single block's class, with the feed-forward of double blocks by name (fnmatch) */
    int n = select_on(f, "longcat_image", HEAD "\"apply_preset\": {\"target_module\": [\"FluxSingleTransformerBlock\"], \"use_fnmatch\": true,"
                                           " \"target_name\": [\"transformer_blocks.*.ff.*\"]}}", sp, sel, 1);
    assert_int_equal(n, 6 + 2);
    for (int i = 0; i < NL; i++) if (sel[i]) assert_true(sp[i].bypass_mode);   /* quanto base: bypass forced */
    /* nothing matches: the error lists this model's classes */
    assert_int_equal(select_on(f, "longcat_image", HEAD "\"apply_preset\": {\"target_module\": [\"QwenImageTransformerBlock\"]}}", sp, sel, 0), -1);
    assert_contains(f->e.msg, f->path);
    assert_contains(f->e.msg, "selects no linear layer");
    assert_contains(f->e.msg, "FluxTransformerBlock");
    assert_contains(f->e.msg, "FeedForward");
}

static void test_selection_qwen(void **state) {
    Fx *f = *state;
    LycorisModuleSpec sp[NQ];
    int sel[NQ];
    /* SimpleTuner's LoKr defaults: Attention and FeedForward, 12 linears per block, factor by class */
    int n = select_on(f, "qwen_image", HEAD "\"apply_preset\": {\"target_module\": [\"Attention\", \"FeedForward\"],"
                                       " \"module_algo_map\": {\"Attention\": {\"factor\": 16}, \"FeedForward\": {\"factor\": 8, \"dim\": 3, \"alpha\": 6}}}}",
                      sp, sel, 0);
    assert_int_equal(n, 12);
    int q = index_of(QWEN, NQ, "transformer_blocks.0.attn.to_out.0"), m = index_of(QWEN, NQ, "transformer_blocks.0.txt_mlp.net.0.proj");
    assert_int_equal(sp[q].factor, 16); assert_int_equal(sp[q].dim, 8); assert_true(sp[q].alpha == 2.0f);
    assert_int_equal(sp[m].factor, 8); assert_int_equal(sp[m].dim, 3); assert_true(sp[m].alpha == 6.0f);
    assert_false(sel[index_of(QWEN, NQ, "transformer_blocks.0.img_mod.1")]);
    /* no apply_preset: LyCORIS' default target_module, every Linear */
    assert_int_equal(select_on(f, "qwen_image", HEAD "\"use_scalar\": true}", sp, sel, 0), NQ);
    assert_true(sp[0].use_scalar);
    /* exclude_name stops a trigger: with the default (Linear) targets to_q goes; under an Attention
     * trigger it does not (LyCORIS checks exclusions on triggers only) */
    assert_int_equal(select_on(f, "qwen_image", HEAD "\"apply_preset\": {\"exclude_name\": [\"transformer_blocks.0.attn.to_q\"]}}", sp, sel, 0), NQ - 1);
    assert_int_equal(select_on(f, "qwen_image", HEAD "\"apply_preset\": {\"target_module\": [\"Attention\"], \"exclude_name\": [\"transformer_blocks.0.attn.to_q\"]}}",
                               sp, sel, 0), 8);
    /* target_name as re.match: anchored at the start only, "." any character */
    assert_int_equal(select_on(f, "qwen_image", HEAD "\"apply_preset\": {\"target_module\": [], \"target_name\": [\"transformer_blocks.0.attn.to_(q|k)\"]}}",
                               sp, sel, 0), 2);
    assert_int_equal(select_on(f, "qwen_image", HEAD "\"apply_preset\": {\"target_module\": [], \"target_name\": [\"transformer_blocks.0.attn.add\"]}}",
                               sp, sel, 0), 3);
    /* name_algo_map: its own entries; module_algo_map nested under a block trigger takes over */
    n = select_on(f, "qwen_image", HEAD "\"apply_preset\": {\"target_module\": [\"QwenImageTransformerBlock\"],"
                                   " \"module_algo_map\": {\"FeedForward\": {\"algo\": \"loha\", \"dim\": 2}},"
                                   " \"name_algo_map\": {\"proj_out\": {\"algo\": \"lora\", \"dim\": 5, \"rs_lora\": true}}}}", sp, sel, 0);
    assert_int_equal(n, 14 + 1);
    assert_int_equal(sp[m].algo, LYCO_LOHA); assert_int_equal(sp[m].dim, 2);
    assert_int_equal(sp[q].algo, LYCO_LOKR); assert_int_equal(sp[q].dim, 8);
    int po = index_of(QWEN, NQ, "proj_out");
    assert_int_equal(sp[po].algo, LYCO_LORA); assert_int_equal(sp[po].dim, 5); assert_true(sp[po].rs_lora);
    /* a bad regular expression names its key */
    assert_int_equal(select_on(f, "qwen_image", HEAD "\"apply_preset\": {\"target_name\": [\"attn.(to\"]}}", sp, sel, 0), -1);
    assert_contains(f->e.msg, "apply_preset.target_name entry 'attn.(to'");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_configs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_simpletuner_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_selection_longcat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_selection_qwen, setup, teardown),
    };
    return cmocka_run_group_tests_name("lycoris_config", tests, NULL, NULL);
}
