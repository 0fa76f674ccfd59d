/* qi_lora.c — the transformer's LoRA adapters to and from LoRA files (src/train/lora.h). */
#include "models/qwen_image/qwen_image.h"
#include "models/adapter/lora_file.h"
#include <stdlib.h>
#include <string.h>

int qi_lora_save(QiModel *m, const char *path, DType dt, Err *e) {
    int n = qi_linear_count(m), k = 0;
    LoraModule *mods = xcalloc((size_t)n, sizeof *mods);
    for (int i = 0; i < n; i++) {
        QiLinear *l = qi_linear_at(m, i);
        if (!l->r) continue;
        mods[k++] = (LoraModule){l->name, l->w.cols, l->w.rows, l->r, l->scale, l->A, l->B};
    }
    int rc = k ? lora_save(mods, k, "transformer", dt, path, e) : err_set(e, "the transformer has no LoRA adapters to save");
    free(mods);
    return rc;
}

int qi_lora_load(QiModel *m, const char *path, float strength, Err *e) {
    int n = qi_linear_count(m);
    const char **names = xmalloc((size_t)n * sizeof *names);
    for (int i = 0; i < n; i++) names[i] = qi_linear_at(m, i)->name;
    LoraEntry *v; int nv;
    int rc = lora_read(path, names, n, &v, &nv, e);
    free(names);
    if (rc) return -1;
    for (int k = 0; k < nv && !rc; k++) {
        QiLinear *l = NULL;
        for (int i = 0; i < n && !l; i++) if (!strcmp(qi_linear_at(m, i)->name, v[k].module)) l = qi_linear_at(m, i);
        if (v[k].in != l->w.cols || v[k].out != l->w.rows) {
            rc = err_set(e, "%s: LoRA for '%s' is %dx%d, the layer is %dx%d (a LoRA for another model size?)", path, v[k].module,
                         v[k].out, v[k].in, l->w.rows, l->w.cols);
            break;
        }
        if (l->r) { free(l->A); free(l->B); free(l->gA); free(l->gB); l->gA = l->gB = NULL; }
        l->r = v[k].r;
        l->scale = v[k].scale * strength;
        l->dropout = 0;
        l->A = v[k].A; l->B = v[k].B;
        v[k].A = v[k].B = NULL;
    }
    lora_entries_free(v, nv);
    return rc;
}

int qi_lora_init_from(QiModel *m, const char *path, Err *e) {
    int n = qi_linear_count(m);
    const char **names = xmalloc((size_t)n * sizeof *names);
    for (int i = 0; i < n; i++) names[i] = qi_linear_at(m, i)->name;
    LoraEntry *v; int nv;
    int rc = lora_read(path, names, n, &v, &nv, e);
    free(names);
    if (rc) return err_prefix(e, "init_lora");
    for (int k = 0; k < nv && !rc; k++) {
        QiLinear *l = NULL;
        for (int i = 0; i < n && !l; i++) if (!strcmp(qi_linear_at(m, i)->name, v[k].module)) l = qi_linear_at(m, i);
        if (!l->r) rc = err_setc(e, EXIT_USAGE, "init_lora %s: it adapts '%s', which the LoRA targets do not include (peft_lora_target_modules)", path, v[k].module);
        else if (v[k].r != l->r || v[k].in != l->w.cols || v[k].out != l->w.rows)
            rc = err_setc(e, EXIT_USAGE, "init_lora %s: '%s' has rank %d (%dx%d), the new adapter rank %d (%dx%d): set lora_rank to match",
                          path, v[k].module, v[k].r, v[k].out, v[k].in, l->r, l->w.rows, l->w.cols);
        if (rc) break;
        /* the same delta under this run's alpha/r: B carries the ratio of the scales */
        float ratio = v[k].scale / l->scale;
        memcpy(l->A, v[k].A, (size_t)l->r * l->w.cols * sizeof(float));
        for (size_t j = 0; j < (size_t)l->w.rows * l->r; j++) l->B[j] = v[k].B[j] * ratio;
    }
    lora_entries_free(v, nv);
    return rc;
}
