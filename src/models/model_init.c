/* model_init.c — see model_init.h. Configs follow the published files (specs/); tiny and small
 * shrink widths and depths and take the generated vocabulary's ids. */
#include "models/model_init.h"
#include "base/files.h"
#include "models/family.h"
#include "models/qwen25vl/model.h"
#include "models/qwen25vl/tiny_tokenizer.h"
#include "models/transformer.h"
#include "models/vae/vae.h"
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static cJSON *ints(const int *v, int n) { return cJSON_CreateIntArray(v, n); }

void model_init_config_header(cJSON *j, const char *cls) {
    cJSON_AddStringToObject(j, "_class_name", cls);
    cJSON_AddStringToObject(j, "_diffusers_version", "0.36.0");
}

/* Qwen2.5-VL; ids from the generated vocabulary (tiny, small) or the real ones (full). */
static cJSON *text_encoder_config(ModelSize s, const TinyVocabIds *v, int text_layers) {
    static const int HIDDEN[] = {32, 64, 3584}, LAYERS[] = {2, 2, 28}, HEADS[] = {2, 4, 28}, KV[] = {1, 2, 4};
    static const int INTER[] = {64, 128, 18944}, MROPE[3][3] = {{2, 3, 3}, {2, 3, 3}, {16, 24, 24}};
    static const int VDEPTH[] = {2, 2, 32}, VHIDDEN[] = {32, 32, 1280}, VHEADS[] = {2, 2, 16}, VINTER[] = {48, 64, 3420};
    cJSON *j = cJSON_CreateObject();
    const char *arch[1] = {"Qwen2_5_VLForConditionalGeneration"};
    cJSON_AddItemToObject(j, "architectures", cJSON_CreateStringArray(arch, 1));
    cJSON_AddNumberToObject(j, "attention_dropout", 0.0);
    cJSON_AddNumberToObject(j, "bos_token_id", v->endoftext);
    cJSON_AddNumberToObject(j, "eos_token_id", v->im_end);
    cJSON_AddStringToObject(j, "hidden_act", "silu");
    cJSON_AddNumberToObject(j, "hidden_size", HIDDEN[s]);
    cJSON_AddNumberToObject(j, "image_token_id", v->image_pad);
    cJSON_AddNumberToObject(j, "initializer_range", 0.02);
    cJSON_AddNumberToObject(j, "intermediate_size", INTER[s]);
    cJSON_AddNumberToObject(j, "max_position_embeddings", 128000);
    cJSON_AddStringToObject(j, "model_type", "qwen2_5_vl");
    cJSON_AddNumberToObject(j, "num_attention_heads", HEADS[s]);
    cJSON_AddNumberToObject(j, "num_hidden_layers", text_layers ? text_layers : LAYERS[s]);
    cJSON_AddNumberToObject(j, "num_key_value_heads", KV[s]);
    cJSON_AddNumberToObject(j, "rms_norm_eps", 1e-6);
    cJSON *rs = cJSON_CreateObject();
    cJSON_AddItemToObject(rs, "mrope_section", ints(MROPE[s], 3));
    cJSON_AddStringToObject(rs, "rope_type", "default");
    cJSON_AddStringToObject(rs, "type", "default");
    cJSON_AddItemToObject(j, "rope_scaling", rs);
    cJSON_AddNumberToObject(j, "rope_theta", 1000000.0);
    cJSON_AddBoolToObject(j, "tie_word_embeddings", s != SIZE_FULL);
    cJSON_AddStringToObject(j, "torch_dtype", "bfloat16");
    cJSON_AddNumberToObject(j, "video_token_id", v->video_pad);
    cJSON *vc = cJSON_CreateObject();
    int depth = text_layers ? text_layers : VDEPTH[s];
    cJSON_AddNumberToObject(vc, "depth", depth);
    /* the published full-attention blocks that exist at this depth (at least the last one) */
    int full_att[4] = {7, 15, 23, 31}, n_att = 0;
    if (s != SIZE_FULL) full_att[n_att++] = 1 < depth ? 1 : depth - 1;
    else for (int i = 0; i < 4; i++) if (full_att[i] < depth) full_att[n_att++] = full_att[i];
    if (!n_att) full_att[n_att++] = depth - 1;
    cJSON_AddItemToObject(vc, "fullatt_block_indexes", ints(full_att, n_att));
    cJSON_AddStringToObject(vc, "hidden_act", "silu");
    cJSON_AddNumberToObject(vc, "hidden_size", VHIDDEN[s]);
    cJSON_AddNumberToObject(vc, "in_channels", 3);
    cJSON_AddNumberToObject(vc, "intermediate_size", VINTER[s]);
    cJSON_AddStringToObject(vc, "model_type", "qwen2_5_vl");
    cJSON_AddNumberToObject(vc, "num_heads", VHEADS[s]);
    cJSON_AddNumberToObject(vc, "out_hidden_size", HIDDEN[s]);
    cJSON_AddNumberToObject(vc, "patch_size", 14);
    cJSON_AddNumberToObject(vc, "spatial_merge_size", 2);
    cJSON_AddNumberToObject(vc, "temporal_patch_size", 2);
    cJSON_AddNumberToObject(vc, "tokens_per_second", 2);
    cJSON_AddNumberToObject(vc, "window_size", 112);
    cJSON_AddItemToObject(j, "vision_config", vc);
    cJSON_AddNumberToObject(j, "vision_end_token_id", v->vision_end);
    cJSON_AddNumberToObject(j, "vision_start_token_id", v->vision_start);
    cJSON_AddNumberToObject(j, "vision_token_id", v->vision_pad);
    cJSON_AddNumberToObject(j, "vocab_size", v->vocab_size);
    return j;
}

/* Each family's published scheduler_config.json (LongCat: FLUX-style values; see specs). */
static cJSON *scheduler_config(const FamilyScheduler *fs) {
    cJSON *j = cJSON_CreateObject();
    model_init_config_header(j, "FlowMatchEulerDiscreteScheduler");
    cJSON_AddNumberToObject(j, "base_image_seq_len", 256);
    cJSON_AddNumberToObject(j, "base_shift", 0.5);
    cJSON_AddNumberToObject(j, "max_image_seq_len", fs->max_image_seq_len);
    cJSON_AddNumberToObject(j, "max_shift", fs->max_shift);
    cJSON_AddNumberToObject(j, "num_train_timesteps", 1000);
    cJSON_AddNumberToObject(j, "shift", fs->shift);
    if (fs->shift_terminal > 0) cJSON_AddNumberToObject(j, "shift_terminal", fs->shift_terminal);
    else cJSON_AddNullToObject(j, "shift_terminal");
    cJSON_AddStringToObject(j, "time_shift_type", "exponential");
    cJSON_AddBoolToObject(j, "use_dynamic_shifting", 1);
    return j;
}

/* Qwen2-VL image processor with the Qwen2.5-VL-7B-Instruct pixel bounds. */
static cJSON *processor_config(void) {
    static const double MEAN[3] = {0.48145466, 0.4578275, 0.40821073}, STD[3] = {0.26862954, 0.26130258, 0.27577711};
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "do_convert_rgb", 1); cJSON_AddBoolToObject(j, "do_normalize", 1);
    cJSON_AddBoolToObject(j, "do_rescale", 1); cJSON_AddBoolToObject(j, "do_resize", 1);
    cJSON_AddItemToObject(j, "image_mean", cJSON_CreateDoubleArray(MEAN, 3));
    cJSON_AddStringToObject(j, "image_processor_type", "Qwen2VLImageProcessor");
    cJSON_AddItemToObject(j, "image_std", cJSON_CreateDoubleArray(STD, 3));
    cJSON_AddNumberToObject(j, "max_pixels", 12845056);
    cJSON_AddNumberToObject(j, "merge_size", 2);
    cJSON_AddNumberToObject(j, "min_pixels", 3136);
    cJSON_AddNumberToObject(j, "patch_size", 14);
    cJSON_AddStringToObject(j, "processor_class", "Qwen2VLProcessor");
    cJSON_AddNumberToObject(j, "resample", 3);
    cJSON_AddNumberToObject(j, "rescale_factor", 1.0 / 255.0);
    cJSON_AddNumberToObject(j, "temporal_patch_size", 2);
    return j;
}

static void add_component(cJSON *idx, const char *name, const char *lib, const char *cls) {
    const char *v[2] = {lib, cls};
    cJSON_AddItemToObject(idx, name, cJSON_CreateStringArray(v, 2));
}

static int write_json(const char *dir, const char *name, const cJSON *j, Err *e) {
    if (dir_make(dir, e)) return -1;
    char *p = path_join(dir, name), *txt = cJSON_Print(j);
    int rc = file_write_atomic(p, txt, strlen(txt), e);
    free(p); free(txt);
    return rc;
}

/* Copies every regular file of src into dst (the real tokenizer for --size full). */
static int copy_dir_files(const char *src, const char *dst, Err *e) {
    DIR *d = opendir(src);
    if (!d) return err_setc(e, EXIT_USAGE, "--tokenizer %s: not a readable folder", src);
    int rc = dir_make(dst, e), copied = 0;
    for (struct dirent *de; !rc && (de = readdir(d));) {
        if (de->d_name[0] == '.') continue;
        char *s = path_join(src, de->d_name), *t = path_join(dst, de->d_name);
        size_t n;
        if (file_exists(s)) {
            char *buf = file_read_all(s, &n, e);
            rc = buf ? file_write_atomic(t, buf, n, e) : -1;
            free(buf);
            copied++;
        }
        free(s); free(t);
    }
    closedir(d);
    if (!rc && !copied) rc = err_setc(e, EXIT_USAGE, "--tokenizer %s: no files to copy", src);
    return rc;
}

int model_init_dir_is_empty(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 1;
    int empty = 1;
    for (struct dirent *de; empty && (de = readdir(d));) empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
    closedir(d);
    return empty;
}

/* Transformer and text encoder are streamed tensor by tensor (full-size layouts are tens of GB;
 * full size is stored in bf16 as published, tiny and small as save_full stores them); the VAE is
 * small enough to build in memory. */
static int write_weights(const ModelFamily *fam, ModelSize size, const char *out, const cJSON *tcfg, const cJSON *vcfg,
                         const cJSON *tecfg, uint64_t seed, Err *e) {
    char *tdir = path_join(out, "transformer"), *vdir = path_join(out, "vae"), *edir = path_join(out, "text_encoder");
    char *tfile = path_join(tdir, "diffusion_pytorch_model.safetensors"), *efile = path_join(edir, "model.safetensors");
    int rc = fam->transformer->write_random(tcfg, seed, DT_BF16, size == SIZE_FULL ? DT_BF16 : DT_COUNT, tfile, e);
    if (!rc) {
        Vae v;
        rc = vae_init_random(&v, vcfg, seed + 1, DT_BF16, e);
        if (!rc) { rc = vae_save(&v, vcfg, vdir, e); vae_free(&v); }
    }
    if (!rc) rc = qwenvl_write_random(tecfg, seed + 2, DT_BF16, efile, e);
    free(tdir); free(vdir); free(edir); free(tfile); free(efile);
    return rc;
}

static const char *const SET_COMPONENTS[] = {"transformer", "vae", "text_encoder", "processor", "scheduler", NULL};

/* The spec's overrides of `component` into its config: "component.a.b=value" replaces key b of
 * object a; the key must exist (a misspelt key is an error, not a silently added field). The value
 * is JSON (a number, true, [1, 2], "text") or, when it does not parse, a plain string. */
static int apply_sets(const ModelInitSpec *s, const char *component, cJSON *cfg, Err *e) {
    const size_t cl = strlen(component);
    for (int i = 0; i < s->n_sets; i++) {
        const char *set = s->sets[i], *eq = strchr(set, '=');
        if (strncmp(set, component, cl) || set[cl] != '.') continue;
        char *path = xasprintf("%.*s", (int)((size_t)(eq - set) - cl - 1), set + cl + 1);
        cJSON *obj = cfg;
        int rc = 0;
        for (char *key = path, *dot; !rc; key = dot + 1) {
            dot = strchr(key, '.');
            if (dot) *dot = 0;
            cJSON *item = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
            if (!item) { rc = err_setc(e, EXIT_USAGE, "--set %s: %s has no key '%s'", set, component, key); break; }
            if (dot) { obj = item; continue; }
            cJSON *v = cJSON_Parse(eq + 1);
            if (!v) v = cJSON_CreateString(eq + 1);
            cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v);
            break;
        }
        free(path);
        if (rc) return -1;
    }
    return 0;
}

/* 1 when one of the spec's overrides sets `key` ("component.a.b"). */
static int set_given(const ModelInitSpec *s, const char *key) {
    const size_t kl = strlen(key);
    for (int i = 0; i < s->n_sets; i++)
        if (!strncmp(s->sets[i], key, kl) && s->sets[i][kl] == '=') return 1;
    return 0;
}

static int check_sets(const ModelInitSpec *s, Err *e) {
    for (int i = 0; i < s->n_sets; i++) {
        const char *set = s->sets[i], *eq = strchr(set, '='), *dot = strchr(set, '.');
        int known = 0;
        for (int k = 0; SET_COMPONENTS[k] && dot; k++)
            known |= (size_t)(dot - set) == strlen(SET_COMPONENTS[k]) && !strncmp(set, SET_COMPONENTS[k], (size_t)(dot - set));
        if (!eq || !dot || dot > eq || dot + 1 == eq || !known)
            return err_setc(e, EXIT_USAGE, "--set '%s': expected COMPONENT.KEY=VALUE with COMPONENT one of transformer, vae, "
                                           "text_encoder, processor, scheduler", set);
    }
    return 0;
}

/* Every component's config with the spec's overrides applied (the text encoder's first: its width
 * is the transformer's joint_attention_dim). */
static int build_configs(const ModelInitSpec *s, const ModelFamily *fam, const FamilyFlavour *fl, const TinyVocabIds *vocab,
                         cJSON **te, cJSON **tr, cJSON **va, cJSON **sc, cJSON **pc, Err *e) {
    *te = text_encoder_config(s->size, vocab, s->text_layers);
    *tr = *va = *sc = *pc = NULL;
    int rc = apply_sets(s, "text_encoder", *te, e);
    cJSON *hidden = cJSON_GetObjectItemCaseSensitive(*te, "hidden_size");
    if (!rc && (!cJSON_IsNumber(hidden) || hidden->valueint < 1))
        rc = err_setc(e, EXIT_USAGE, "--set text_encoder.hidden_size: expected a positive integer");
    /* the vision merger writes into the token embeddings: it follows the text width unless set too */
    cJSON *vision = cJSON_GetObjectItemCaseSensitive(*te, "vision_config");
    if (!rc && vision && !set_given(s, "text_encoder.vision_config.out_hidden_size"))
        cJSON_ReplaceItemInObjectCaseSensitive(vision, "out_hidden_size", cJSON_CreateNumber(hidden->valueint));
    if (!rc) {
        *tr = fam->init_transformer_config(s, fl->zero_cond_t, hidden->valueint);
        *va = fam->init_vae_config(s->size);
        *sc = scheduler_config(&fam->scheduler);
        *pc = processor_config();
        rc = apply_sets(s, "transformer", *tr, e) || apply_sets(s, "vae", *va, e) || apply_sets(s, "scheduler", *sc, e) ||
             apply_sets(s, "processor", *pc, e);
    }
    if (rc) { cJSON_Delete(*te); cJSON_Delete(*tr); cJSON_Delete(*va); cJSON_Delete(*sc); cJSON_Delete(*pc); }
    return rc;
}

int model_init_write(const ModelInitSpec *s, Err *e) {
    const char *family = s->family, *flavour = s->flavour, *out = s->out, *tok_dir = s->tokenizer_dir;
    ModelSize size = s->size;
    int weights = s->weights;
    const uint64_t seed = s->seed;
    const ModelFamily *fam = family_require(family, e);
    if (!fam) return -1;
    const FamilyFlavour *fl = family_flavour(fam, flavour);
    if (!fl) return err_setc(e, EXIT_USAGE, "model flavour '%s' is not a flavour of %s", flavour, family);
    if (size == SIZE_FULL && !tok_dir) return err_setc(e, EXIT_USAGE, "a full-size model folder needs the real tokenizer folder");
    if (check_sets(s, e)) return -1;
    TinyVocabIds vocab = {152064, 151643, 151644, 151645, 151652, 151653, 151654, 151655, 151656};
    cJSON *te, *tr, *va, *sc, *pc, *idx;
    /* the overrides are tried once before anything is written, so a misspelt key leaves no folder behind */
    if (build_configs(s, fam, fl, &vocab, &te, &tr, &va, &sc, &pc, e)) return -1;
    cJSON_Delete(te); cJSON_Delete(tr); cJSON_Delete(va); cJSON_Delete(sc); cJSON_Delete(pc);
    char *tok_out = path_join(out, "tokenizer");
    int rc = dir_make(out, e);
    if (!rc) rc = size == SIZE_FULL ? copy_dir_files(tok_dir, tok_out, e) : tiny_tokenizer_write(tok_out, size == SIZE_TINY ? 400 : 800, &vocab, e);
    free(tok_out);
    /* the text encoder's config names the ids of the vocabulary just written */
    if (rc || build_configs(s, fam, fl, &vocab, &te, &tr, &va, &sc, &pc, e)) return -1;
    idx = cJSON_CreateObject();
    model_init_config_header(idx, fl->pipeline_class);
    const char *proc_name = fam->processor_folder;
    add_component(idx, proc_name, "transformers", "Qwen2VLProcessor");
    add_component(idx, "scheduler", "diffusers", "FlowMatchEulerDiscreteScheduler");
    add_component(idx, "text_encoder", "transformers", "Qwen2_5_VLForConditionalGeneration");
    add_component(idx, "tokenizer", "transformers", "Qwen2Tokenizer");
    add_component(idx, "transformer", "diffusers", fam->transformer_class);
    add_component(idx, "vae", "diffusers", fam->vae_class);

    char *d_tr = path_join(out, "transformer"), *d_va = path_join(out, "vae"), *d_te = path_join(out, "text_encoder");
    char *d_sc = path_join(out, "scheduler"), *d_pc = path_join(out, proc_name);
    rc = write_json(out, "model_index.json", idx, e);
    if (!rc) rc = write_json(d_tr, "config.json", tr, e);
    if (!rc) rc = write_json(d_va, "config.json", va, e);
    if (!rc) rc = write_json(d_te, "config.json", te, e);
    if (!rc) rc = write_json(d_sc, "scheduler_config.json", sc, e);
    if (!rc) rc = write_json(d_pc, "preprocessor_config.json", pc, e);
    if (!rc && (size != SIZE_FULL || weights)) rc = write_weights(fam, size, out, tr, va, te, (uint64_t)seed, e);
    free(d_tr); free(d_va); free(d_te); free(d_sc); free(d_pc);
    cJSON_Delete(te); cJSON_Delete(tr); cJSON_Delete(va); cJSON_Delete(sc); cJSON_Delete(pc); cJSON_Delete(idx);
    return rc;
}
