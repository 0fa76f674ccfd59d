#include "models/model_dir.h"
#include "base/files.h"
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

static ModelComponent *find(ModelDir *md, const char *name) {
    for (int i = 0; i < md->n; i++) if (!strcmp(md->comp[i].name, name)) return &md->comp[i];
    return NULL;
}

static ModelComponent *add(ModelDir *md, const char *name, Err *e) {
    ModelComponent *c = find(md, name);
    if (c) return c;
    if (md->n == MODEL_DIR_MAX_COMPONENTS) { err_set(e, "%s: too many components (max %d)", md->root, MODEL_DIR_MAX_COMPONENTS); return NULL; }
    c = &md->comp[md->n++];
    memset(c, 0, sizeof *c);
    c->name = xstrdup(name);
    return c;
}

static int has_config(const char *dir) {
    static const char *names[] = {"config.json", "scheduler_config.json", "tokenizer_config.json", "preprocessor_config.json", "tokenizer.json", NULL};
    for (int i = 0; names[i]; i++) {
        char *p = path_join(dir, names[i]);
        int ok = file_exists(p);
        free(p);
        if (ok) return 1;
    }
    return 0;
}

int model_dir_open(ModelDir *md, const char *root, Err *e) {
    memset(md, 0, sizeof *md);
    if (!dir_exists(root)) return err_set(e, "%s: model folder not found", root);
    md->root = xstrdup(root);
    char *idx = path_join(root, "model_index.json");
    if (file_exists(idx)) {
        char *txt = file_read_all(idx, NULL, e);
        cJSON *j = txt ? cJSON_Parse(txt) : NULL;
        free(txt);
        if (!j || !cJSON_IsObject(j)) {
            cJSON_Delete(j); free(idx); model_dir_close(md);
            return err_set(e, "%s/model_index.json: not a valid JSON object", root);
        }
        const cJSON *cls = cJSON_GetObjectItemCaseSensitive(j, "_class_name");
        if (cJSON_IsString(cls)) md->pipeline_class = xstrdup(cls->valuestring);
        for (const cJSON *it = j->child; it; it = it->next) {
            if (it->string[0] == '_' || !cJSON_IsArray(it) || cJSON_GetArraySize(it) != 2) continue;
            const cJSON *k = cJSON_GetArrayItem(it, 1);
            if (cJSON_IsNull(k)) continue; /* component deliberately absent */
            ModelComponent *c = add(md, it->string, e);
            if (!c) { cJSON_Delete(j); free(idx); model_dir_close(md); return -1; }
            if (cJSON_IsString(k)) c->class_name = xstrdup(k->valuestring);
            c->path = path_join(root, it->string);
        }
        cJSON_Delete(j);
    } else {
        DIR *d = opendir(root);
        for (struct dirent *de; d && (de = readdir(d)) != NULL;) {
            if (de->d_name[0] == '.') continue;
            char *p = path_join(root, de->d_name);
            if (dir_exists(p) && has_config(p)) {
                ModelComponent *c = add(md, de->d_name, e);
                if (c) c->path = p; else free(p);
            } else free(p);
        }
        if (d) closedir(d);
    }
    free(idx);
    return 0;
}

void model_dir_close(ModelDir *md) {
    for (int i = 0; i < md->n; i++) { free(md->comp[i].name); free(md->comp[i].class_name); free(md->comp[i].path); }
    free(md->root); free(md->pipeline_class);
    memset(md, 0, sizeof *md);
}

int model_dir_override(ModelDir *md, const char *name, const char *path, Err *e) {
    if (!dir_exists(path)) return err_set(e, "%s: folder for component '%s' not found", path, name);
    ModelComponent *c = add(md, name, e);
    if (!c) return -1;
    free(c->path);
    c->path = xstrdup(path);
    return 0;
}

const char *model_dir_path(const ModelDir *md, const char *name) {
    for (int i = 0; i < md->n; i++)
        if (!strcmp(md->comp[i].name, name)) return dir_exists(md->comp[i].path) ? md->comp[i].path : NULL;
    return NULL;
}

const char *model_dir_require(const ModelDir *md, const char *name, Err *e) {
    const char *p = model_dir_path(md, name);
    if (!p) err_set(e, "%s: the model folder has no '%s' component (expected a '%s/' subfolder with its config and weights)", md->root, name, name);
    return p;
}

const char *model_dir_class(const ModelDir *md, const char *name) {
    for (int i = 0; i < md->n; i++) if (!strcmp(md->comp[i].name, name)) return md->comp[i].class_name;
    return NULL;
}
