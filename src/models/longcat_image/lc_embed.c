/* embed.c — LongCat position ids, RoPE tables and the sinusoidal timestep features (spec §1.3–1.4). */
#include "models/longcat_image/lc_embed.h"
#include <math.h>

void lc_txt_ids(int L, float *ids) {
    for (int i = 0; i < L; i++) { ids[3 * i] = 0; ids[3 * i + 1] = (float)i; ids[3 * i + 2] = (float)i; }
}

void lc_img_ids(int modality, int start, int gh, int gw, float *ids) {
    for (int r = 0; r < gh; r++)
        for (int c = 0; c < gw; c++) {
            float *p = ids + 3 * ((size_t)r * gw + c);
            p[0] = (float)modality; p[1] = (float)(start + r); p[2] = (float)(start + c);
        }
}

/* Per axis a (dim d): angle_j = pos·10000^(−2j/d), j < d/2, in float64 as upstream
 * (LongCatImagePosEmbed uses float64 freqs and an fp64 outer product), then cos/sin rounded to f32.
 * The three axes' pairs are concatenated: pairs 0..d0/2−1 use axis 0, and so on. */
void lc_rope_tables(const int axes[3], const float *ids, int S, float *cos_t, float *sin_t) {
    int P = (axes[0] + axes[1] + axes[2]) / 2;
    for (int s = 0; s < S; s++) {
        int p = 0;
        for (int a = 0; a < 3; a++) {
            double pos = ids[3 * s + a];
            for (int j = 0; j < axes[a] / 2; j++, p++) {
                double freq = 1.0 / pow(10000.0, (double)(2 * j) / axes[a]);
                double ang = pos * freq;
                cos_t[(size_t)s * P + p] = (float)cos(ang);
                sin_t[(size_t)s * P + p] = (float)sin(ang);
            }
        }
    }
}

/* Timesteps(256, flip_sin_to_cos=True, downscale_freq_shift=0) on T = σ·1000, in f32 like torch:
 * f_k = exp(−ln(10000)·k / 128), e = [cos(T·f), sin(T·f)]. */
void lc_timestep_features(float sigma, float *e) {
    const int half = LC_TIME_CH / 2;
    float T = sigma * 1000.0f;
    const float neg_log = (float)(-log(10000.0));
    for (int k = 0; k < half; k++) {
        float ex = neg_log * (float)k / (float)half;
        float f = expf(ex);
        float arg = T * f;
        e[k] = (float)cos((double)arg);
        e[half + k] = (float)sin((double)arg);
    }
}
