/* qi_denoiser.h — QiModel as a Denoiser (src/train/denoiser.h). */
#ifndef ST_QI_DENOISER_H
#define ST_QI_DENOISER_H
#include "models/qwen_image/qwen_image.h"
#include "models/denoiser.h"

typedef struct QiDenoiser {
    QiModel *model;
    float *out, *dout;
    size_t cap, n_tok, n_target;
} QiDenoiser;

/* Collects the model's trainable parameters (attach LoRA / full training first). */
void qi_denoiser_init(QiDenoiser *d, QiModel *m, Denoiser *out);
void qi_denoiser_free(QiDenoiser *d);

#endif
