/* denoiser.h — LcModel as a Denoiser (src/train/denoiser.h). */
#ifndef ST_MODELS_LONGCAT_DENOISER_H
#define ST_MODELS_LONGCAT_DENOISER_H
#include "models/longcat_image/longcat.h"
#include "models/denoiser.h"

typedef struct LcDenoiser {
    LcModel *model;
    int per_token_refs;        /* SimpleTuner edit conditioning: references at t = 0 (see denoiser.c) */
    float *out, *dout, *t, *img_ids, *txt_ids;
    size_t cap, txt_cap, n_tok, n_target;
} LcDenoiser;

/* Collects the model's trainable parameters (add LoRA / enable full gradients first). */
void lc_denoiser_init(LcDenoiser *d, LcModel *m, Denoiser *out);
void lc_denoiser_free(LcDenoiser *d);

#endif
