/* embed.h — LongCat position-dependent tables (internal to the model folder). */
#ifndef ST_MODELS_LONGCAT_EMBED_H
#define ST_MODELS_LONGCAT_EMBED_H
#include "models/longcat_image/longcat.h"

/* cos/sin [S, head_dim/2] (one angle per interleaved pair, the layout kernels/rope.h takes) from
 * ids [S, 3]. */
void lc_rope_tables(const int axes[3], const float *ids, int S, float *cos_t, float *sin_t);
/* e [LC_TIME_CH] sinusoidal features of σ (×1000 inside, as the model does). */
void lc_timestep_features(float sigma, float *e);

#endif
