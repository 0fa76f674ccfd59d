/* test_option_effects.c — training and dataset options set to a value other than their default reach
 * the component that uses them and change what it computes: the learning rate schedule, the
 * optimizer, the σ draw and loss, the step counts; the buckets, filters and captions of a small
 * dataset on disk. (The components' own tests check their formulas; tests/sh/test_option_effects.sh
 * covers the options seen only end to end. implemented_coverage.tsv lists which test covers which.) */
#include "test_data_helpers.h"
#include "config/config.h"
#include "data/dataset.h"
#include "data/dataset_config.h"
#include "train/flow_objective.h"
#include "train/lr_schedule.h"
#include "train/train_setup.h"
#include <math.h>

/* A configuration from the command-line keys alone: the required keys, 100 steps, then `kv`. */
static Config *load_kv(const char *data, const char *const *kv) {
    const char *base[] = {"model_family=qwen_image", "model_type=lora", "output_dir=out", "optimizer=adamw_bf16",
                          "max_train_steps=100", "num_train_epochs=0", "train_batch_size=1"};
    char *argv[48];
    int n = 0;
    for (size_t i = 0; i < sizeof base / sizeof *base; i++) argv[n++] = (char *)base[i];
    char *dbc = data ? xasprintf("data_backend_config=%s", data) : NULL;
    if (dbc) argv[n++] = dbc;
    for (int i = 0; kv && kv[i] && n < 47; i++) argv[n++] = (char *)kv[i];
    ConfigLoadOptions opt = {0};
    opt.quiet = 1; opt.args_only = 1; opt.skip_datasets = !data; opt.allow_missing_required = !data;
    Config *c = NULL;
    Err e = {0};
    if (config_load_with(&c, n, argv, &opt, &e)) fail_msg("%s", e.msg);
    free(dbc);
    return c;
}

static TrainerConfig trainer_with(const char *const *kv) {
    Config *c = load_kv(NULL, kv);
    TrainerConfig t;
    Err e = {0};
    if (trainer_config_from(c, &t, &e)) fail_msg("%s", e.msg);
    t.output_dir = t.resume_from = NULL;   /* they point into the freed config */
    config_free(c);
    return t;
}

#define KV(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_learning_rate_schedule(void **st) {
    (void)st;
    TrainerConfig d = trainer_with(NULL);
    /* constant_with_warmup at 4e-7 */
    assert_true(lr_schedule_at(&d.lr, 50) == 4e-7);
    TrainerConfig t = trainer_with(KV("learning_rate=1e-3"));
    assert_true(lr_schedule_at(&t.lr, 50) == 1e-3);
    t = trainer_with(KV("learning_rate=1e-3", "lr_warmup_steps=10"));
    assert_true(lr_schedule_at(&t.lr, 0) < 1e-3 / 5 && lr_schedule_at(&t.lr, 20) == 1e-3);
    t = trainer_with(KV("learning_rate=1e-3", "lr_scheduler=linear"));
    assert_true(fabs(lr_schedule_at(&t.lr, 50) - 0.5e-3) < 1e-9);
    TrainerConfig c1 = trainer_with(KV("learning_rate=1e-3", "lr_scheduler=cosine_with_restarts"));
    TrainerConfig c2 = trainer_with(KV("learning_rate=1e-3", "lr_scheduler=cosine_with_restarts", "lr_num_cycles=2"));
    assert_true(fabs(lr_schedule_at(&c1.lr, 50) - lr_schedule_at(&c2.lr, 50)) > 1e-4);
    TrainerConfig p1 = trainer_with(KV("learning_rate=1e-3", "lr_scheduler=polynomial"));
    TrainerConfig p2 = trainer_with(KV("learning_rate=1e-3", "lr_scheduler=polynomial", "lr_power=2"));
    TrainerConfig p3 = trainer_with(KV("learning_rate=1e-3", "lr_scheduler=polynomial", "lr_end=1e-4"));
    assert_true(lr_schedule_at(&p1.lr, 50) != lr_schedule_at(&p2.lr, 50));
    assert_true(lr_schedule_at(&p1.lr, 50) != lr_schedule_at(&p3.lr, 50));
}

static void test_optimizer_and_loop(void **st) {
    (void)st;
    TrainerConfig d = trainer_with(NULL);
    TrainerConfig t = trainer_with(KV("optimizer=optimi-lion"));
    assert_int_equal(d.optim.kind, OPTIM_ADAMW_BF16);
    assert_int_equal(t.optim.kind, OPTIM_OPTIMI_LION);
    t = trainer_with(KV("optimizer_config=weight_decay=0.5,eps=1e-3"));
    assert_true(t.optim.weight_decay == 0.5 && t.optim.eps == 1e-3 && d.optim.weight_decay != 0.5);
    t = trainer_with(KV("optimizer_beta1=0.7", "optimizer_beta2=0.95"));
    assert_true(t.optim.beta1 == 0.7 && t.optim.beta2 == 0.95 && d.optim.beta1 == 0.9);
    t = trainer_with(KV("train_batch_size=3", "gradient_accumulation_steps=2", "max_train_steps=7", "checkpoint_step_interval=5",
                        "checkpoints_total_limit=2", "max_grad_norm=0.5", "grad_clip_method=norm", "seed=11"));
    assert_int_equal(t.train_batch_size, 3);
    assert_int_equal(t.gradient_accumulation_steps, 2);
    assert_int_equal(t.max_train_steps, 7);
    assert_int_equal(t.checkpoint_every, 5);
    assert_int_equal(t.checkpoints_total_limit, 2);
    assert_true(t.max_grad_norm == 0.5 && d.max_grad_norm == 2.0);
    assert_int_equal(t.clip_method, GRAD_CLIP_NORM);
    assert_int_equal(d.clip_method, GRAD_CLIP_VALUE);
    assert_int_equal(t.seed, 11);
    /* the validation generator's seed: validation_seed, else seed (SimpleTuner: validation_seed or seed) */
    Config *v = load_kv(NULL, KV("seed=9"));
    assert_int_equal(config_validation_seed(v), 9);
    config_free(v);
    v = load_kv(NULL, KV("seed=9", "validation_seed=5"));
    assert_int_equal(config_validation_seed(v), 5);
    config_free(v);
    /* resume_from_checkpoint: latest by default, or the folder named */
    Config *c = load_kv(NULL, KV("resume_from_checkpoint=out/checkpoint-5"));
    TrainerConfig r;
    Err e = {0};
    if (trainer_config_from(c, &r, &e)) fail_msg("%s", e.msg);
    assert_string_equal(r.resume_from, "out/checkpoint-5");
    config_free(c);
    /* num_train_epochs: steps = epochs x ceil(batches per epoch / gradient_accumulation_steps) */
    c = load_kv(NULL, KV("max_train_steps=0", "num_train_epochs=3", "gradient_accumulation_steps=2"));
    assert_int_equal(train_steps_from_epochs(c, 5), 9);
    config_free(c);
}

/* Mean of many σ draws (a fixed seed): the distribution's knobs move it. */
static double sigma_mean(const FlowConfig *f) {
    Rng r;
    rng_seed(&r, 5);
    double s = 0;
    for (int i = 0; i < 4000; i++) s += flow_sigma_draw(f, 0, &r);
    return s / 4000;
}

static void test_objective(void **st) {
    (void)st;
    TrainerConfig d = trainer_with(NULL);
    double m0 = sigma_mean(&d.flow);
    TrainerConfig t = trainer_with(KV("flow_sigmoid_scale=3"));
    assert_true(t.flow.sigmoid_scale == 3 && fabs(sigma_mean(&t.flow) - m0) < 0.05);   /* symmetric: mean stays near 0.5 */
    Rng a, b;
    rng_seed(&a, 5); rng_seed(&b, 5);
    assert_true(flow_sigma_draw(&t.flow, 0, &a) != flow_sigma_draw(&d.flow, 0, &b));
    t = trainer_with(KV("flow_use_uniform_schedule=true"));
    assert_int_equal(t.flow.dist, SIGMA_UNIFORM);
    t = trainer_with(KV("flow_use_beta_schedule=true", "flow_beta_schedule_alpha=5", "flow_beta_schedule_beta=1"));
    assert_int_equal(t.flow.dist, SIGMA_BETA);
    assert_true(sigma_mean(&t.flow) > m0 + 0.2);          /* Beta(5, 1) has mean 5/6 */
    t = trainer_with(KV("flow_use_beta_schedule=true", "flow_beta_schedule_alpha=1", "flow_beta_schedule_beta=5"));
    assert_true(sigma_mean(&t.flow) < m0 - 0.2);
    t = trainer_with(KV("flow_schedule_shift=1"));
    assert_true(flow_shift_factor(&t.flow, 64, 64) != flow_shift_factor(&d.flow, 64, 64));
    t = trainer_with(KV("flow_schedule_auto_shift=true"));
    assert_true(t.flow.auto_shift && t.flow.shift == 0);
    assert_true(flow_shift_factor(&t.flow, 64, 64) != flow_shift_factor(&d.flow, 64, 64));
    t = trainer_with(KV("loss_type=huber", "huber_c=0.5", "huber_schedule=constant"));
    assert_int_equal(t.flow.loss_type, LOSS_HUBER);
    assert_int_equal(d.flow.loss_type, LOSS_L2);
    assert_true(t.flow.huber_c == 0.5 && d.flow.huber_c == 0.1);
    assert_int_equal(t.flow.huber_schedule, HUBER_CONSTANT);
    t = trainer_with(KV("input_perturbation=0.2"));
    assert_true(flow_input_perturbation_at(&t.flow, 50) == 0.2 && flow_input_perturbation_at(&d.flow, 50) == 0);
    t = trainer_with(KV("input_perturbation=0.2", "input_perturbation_steps=100"));
    assert_true(flow_input_perturbation_at(&t.flow, 50) < 0.2);
    t = trainer_with(KV("masked_loss_probability=0.25"));
    assert_true(t.flow.masked_loss_probability == 0.25 && d.flow.masked_loss_probability == 1.0);
}

/* ---- datasets ---------------------------------------------------------------------------------- */

typedef struct Fx { char *dir, *data, *data_crop; } Fx;

static int setup(void **st) {
    Fx *f = calloc(1, sizeof *f);
    f->dir = tmpdir_make();
    char *e = path_join(f->dir, "edits"), *r = path_join(f->dir, "refs");
    static const struct { const char *name; int w, h; } IMGS[] = {{"a", 64, 48}, {"b", 48, 64}, {"c", 64, 64}, {"d", 32, 48}};
    for (int i = 0; i < 4; i++) {
        char png[16], txt[16];
        snprintf(png, sizeof png, "%s.png", IMGS[i].name);
        snprintf(txt, sizeof txt, "%s.txt", IMGS[i].name);
        make_png(e, png, IMGS[i].w, IMGS[i].h, 10 * i);
        make_png(r, png, IMGS[i].w, IMGS[i].h, 10 * i + 5);
        make_text(e, txt, i == 0 ? "first line\nsecond line" : "one line");
    }
    f->data = path_join(f->dir, "data.json");
    char *json = xasprintf("[{\"id\": \"edits\", \"instance_data_dir\": \"%s\", \"conditioning_data\": [\"refs\"]},\n"
                           " {\"id\": \"refs\", \"dataset_type\": \"conditioning\", \"instance_data_dir\": \"%s\"}]\n", e, r);
    write_text(f->data, json);
    free(json);
    /* the same with square center crops (maximum_image_size / target_downsample_size act there) */
    f->data_crop = path_join(f->dir, "data_crop.json");
    json = xasprintf("[{\"id\": \"edits\", \"instance_data_dir\": \"%s\", \"conditioning_data\": [\"refs\"], \"crop\": true,\n"
                     "  \"crop_aspect\": \"square\", \"crop_style\": \"center\"},\n"
                     " {\"id\": \"refs\", \"dataset_type\": \"conditioning\", \"instance_data_dir\": \"%s\"}]\n", e, r);
    write_text(f->data_crop, json);
    free(json); free(e); free(r);
    *st = f;
    return 0;
}

static int teardown(void **st) {
    Fx *f = *st;
    tmpdir_remove(f->dir);
    free(f->data); free(f->data_crop); free(f);
    return 0;
}

/* Loads the datasets with these options; returns 0, or -1 with e set. */
static int group_from(const char *data, const char *const *kv, Config **cfg, DataSpecs *specs, DataGroup *g, Err *e) {
    *cfg = load_kv(data, kv);
    if (data_specs_from_config(*cfg, 1, specs, e)) return -1;
    int rc = data_load(specs->specs, specs->n, &specs->opt, g, e);
    if (rc) { data_specs_free(specs); config_free(*cfg); }
    return rc;
}

static int group_with(const Fx *f, const char *const *kv, Config **cfg, DataSpecs *specs, DataGroup *g, Err *e) {
    return group_from(f->data, kv, cfg, specs, g, e);
}

static void group_free(Config *c, DataSpecs *s, DataGroup *g) { data_free(g); data_specs_free(s); config_free(c); }

/* The item with this name in the edit set. */
static const DataItem *item(const DataGroup *g, const char *rel) {
    for (int i = 0; i < g->sets[0].n_items; i++)
        if (!strcmp(g->sets[0].items[i].rel, rel)) return &g->sets[0].items[i];
    return NULL;
}

/* What one option set changes in one image's sample (or the set's item count). */
typedef struct Look { int tw, th, iw, ih, n_items, n_captions; char caption[64]; } Look;

static Look look_in(const char *data, const char *const *kv, const char *rel) {
    Config *c; DataSpecs s; DataGroup g; Err e = {0};
    if (group_from(data, kv, &c, &s, &g, &e)) fail_msg("%s", e.msg);
    Look l = {0};
    l.n_items = g.sets[0].n_items;
    const DataItem *it = item(&g, rel);
    if (it) {
        l.tw = it->geom.target_w; l.th = it->geom.target_h; l.iw = it->geom.inter_w; l.ih = it->geom.inter_h;
        l.n_captions = it->captions.n;
        snprintf(l.caption, sizeof l.caption, "%s", it->captions.n ? it->captions.text[0] : "");
    }
    group_free(c, &s, &g);
    return l;
}

static Look look(const Fx *f, const char *const *kv, const char *rel) { return look_in(f->data, kv, rel); }

#define BASE "resolution=64", "resolution_type=pixel_area", "caption_strategy=textfile"

static void test_dataset_geometry(void **st) {
    Fx *f = *st;
    Look d = look(f, KV(BASE), "c.png");
    assert_int_equal(d.n_items, 4);
    assert_int_equal(d.tw, 64);
    Look l = look(f, KV(BASE, "resolution=32"), "c.png");
    assert_int_equal(l.tw, 32);
    /* pixel: the short edge is the resolution; pixel_area: the area */
#define A16 "aspect_bucket_alignment=16", "i_know_what_i_am_doing=true"
    Look pa = look(f, KV(BASE, A16, "resolution=48"), "a.png"), px = look(f, KV(BASE, A16, "resolution=48", "resolution_type=pixel"), "a.png");
    assert_true(pa.tw != px.tw || pa.th != px.th);
    l = look(f, KV(BASE, "resolution_type=pixel", "minimum_image_size=60"), "c.png");
    assert_int_equal(l.n_items, 1);   /* only the 64x64 image has both edges >= 60 */
    /* a square crop is cut at the image's own scale, after images above maximum_image_size are
     * downsampled to target_downsample_size */
    Look big = look_in(f->data_crop, KV(BASE, "resolution_type=pixel", "resolution=32"), "c.png");
    Look ds = look_in(f->data_crop, KV(BASE, "resolution_type=pixel", "resolution=32", "maximum_image_size=50", "target_downsample_size=40"), "c.png");
    assert_int_equal(big.tw, 32); assert_int_equal(ds.tw, 32);
    assert_int_equal(big.iw, 64); assert_int_equal(ds.iw, 40);
    /* Qwen forces aspect_bucket_alignment 32 unless i_know_what_i_am_doing */
    Look a32 = look(f, KV(BASE, "resolution=48", "aspect_bucket_alignment=16"), "c.png");
    Look a16 = look(f, KV(BASE, "resolution=48", "aspect_bucket_alignment=16", "i_know_what_i_am_doing=true"), "c.png");
    assert_int_equal(a32.tw, 64);
    assert_int_equal(a16.tw, 48);
    /* aspect_bucket_rounding: 32x48 is 0.67 at two digits, 0.7 at one: another bucket */
    Look r2 = look(f, KV(BASE, "resolution=48", "aspect_bucket_alignment=16", "i_know_what_i_am_doing=true"), "d.png");
    Look r1 = look(f, KV(BASE, "resolution=48", "aspect_bucket_alignment=16", "i_know_what_i_am_doing=true", "aspect_bucket_rounding=1"), "d.png");
    assert_true(r1.tw != r2.tw || r1.th != r2.th);
}

static void test_dataset_captions(void **st) {
    Fx *f = *st;
    Look d = look(f, KV(BASE), "a.png");
    assert_int_equal(d.n_captions, 2);
    assert_string_equal(d.caption, "first line");
    Look l = look(f, KV(BASE, "caption_strategy=filename"), "a.png");
    assert_string_equal(l.caption, "a");
    l = look(f, KV(BASE, "caption_strategy=instance_prompt", "instance_prompt=sks"), "a.png");
    assert_string_equal(l.caption, "sks");
    l = look(f, KV(BASE, "instance_prompt=sks", "prepend_instance_prompt=true"), "a.png");
    assert_string_equal(l.caption, "sks first line");
    l = look(f, KV(BASE, "instance_prompt=sks", "only_instance_prompt=true"), "a.png");
    assert_string_equal(l.caption, "sks");
    l = look(f, KV(BASE, "disable_multiline_split=true"), "a.png");
    assert_int_equal(l.n_captions, 1);
}

static void test_dataset_sampling(void **st) {
    Fx *f = *st;
    Config *c; DataSpecs s; DataGroup g; Err e = {0};
    /* four images: no bucket fills a batch of 5, so pruning leaves nothing; disable_bucket_pruning
     * keeps the buckets (their samples cycle to fill batches) */
    int rc_pruned = group_with(f, KV(BASE, "train_batch_size=5"), &c, &s, &g, &e);
    assert_int_equal(rc_pruned, -1);
    assert_contains(e.msg, "no bucket holds a full batch");
    if (group_with(f, KV(BASE, "train_batch_size=5", "disable_bucket_pruning=true"), &c, &s, &g, &e)) fail_msg("%s", e.msg);
    group_free(c, &s, &g);
    /* conditioning_multidataset_sampling, data_backend_sampling and caption_dropout_probability reach the
     * sampler's options and the set's spec (test_data_sampler.c and test_data_dataset.c draw with them) */
    c = load_kv(f->data, KV(BASE, "conditioning_multidataset_sampling=combined", "data_backend_sampling=uniform",
                            "caption_dropout_probability=0.5"));
    if (data_specs_from_config(c, 1, &s, &e)) fail_msg("%s", e.msg);
    assert_int_equal(s.opt.multi_cond, MULTI_COND_COMBINED);
    assert_int_equal(s.opt.weighting, SAMPLING_UNIFORM);
    assert_true(s.specs[0].caption_dropout_probability == 0.5);
    data_specs_free(&s); config_free(c);
    c = load_kv(f->data, KV(BASE));
    if (data_specs_from_config(c, 1, &s, &e)) fail_msg("%s", e.msg);
    assert_int_equal(s.opt.multi_cond, MULTI_COND_RANDOM);
    assert_int_equal(s.opt.weighting, SAMPLING_AUTO_WEIGHTING);
    assert_true(s.specs[0].caption_dropout_probability == 0.1);
    data_specs_free(&s); config_free(c);
    /* cache_dir: where a dataset's VAE latents go when it names no cache_dir_vae */
    c = load_kv(f->data, KV(BASE, "cache_dir=elsewhere"));
    assert_string_equal(config_dataset_find(c, "edits")->cache_dir_vae, "elsewhere/vae/qwen_image/edits");
    config_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_learning_rate_schedule),
        cmocka_unit_test(test_optimizer_and_loop),
        cmocka_unit_test(test_objective),
        cmocka_unit_test_setup_teardown(test_dataset_geometry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dataset_captions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dataset_sampling, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
