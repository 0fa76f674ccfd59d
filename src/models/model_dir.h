/* model_dir.h — a model folder in the diffusers layout: model_index.json names the pipeline class
 * and each component (subfolder → library, class). One loader for train, validate and run-module:
 * components are found as subfolders, unless a per-component override points elsewhere (as
 * SimpleTuner's pretrained_transformer_model_name_or_path / pretrained_vae_model_name_or_path,
 * or a pipeline.json "components" map). */
#ifndef ST_MODEL_DIR_H
#define ST_MODEL_DIR_H
#include "base/error.h"

#define MODEL_DIR_MAX_COMPONENTS 12

typedef struct ModelComponent {
    char *name;        /* "transformer", "vae", "text_encoder", "tokenizer", "processor", "text_processor", "scheduler" */
    char *class_name;  /* e.g. "QwenImageTransformer2DModel" (from model_index.json; may be NULL) */
    char *path;        /* folder holding its config and weights */
} ModelComponent;

typedef struct ModelDir {
    char *root;
    char *pipeline_class;  /* model_index.json "_class_name" (NULL when there is no index) */
    int n;
    ModelComponent comp[MODEL_DIR_MAX_COMPONENTS];
} ModelDir;

/* Reads root/model_index.json when present; otherwise every subfolder with a config file is a
 * component named after the folder. */
int model_dir_open(ModelDir *md, const char *root, Err *e);
void model_dir_close(ModelDir *md);
/* Points component `name` at another folder (relative paths are taken as given). */
int model_dir_override(ModelDir *md, const char *name, const char *path, Err *e);
/* The component's folder, or NULL. */
const char *model_dir_path(const ModelDir *md, const char *name);
/* The component's folder, or an error naming the model folder and the missing component. */
const char *model_dir_require(const ModelDir *md, const char *name, Err *e);
const char *model_dir_class(const ModelDir *md, const char *name);

#endif
