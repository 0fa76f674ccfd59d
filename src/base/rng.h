/* rng.h — the one seeded random number generator (xoshiro256**, seeded by splitmix64).
 * Its whole state is a value: copy it to checkpoint, restore it to resume bit-identically. */
#ifndef ST_RNG_H
#define ST_RNG_H
#include <stdint.h>
#include <stddef.h>

typedef struct Rng { uint64_t s[4]; } Rng;

void rng_seed(Rng *r, uint64_t seed);
/* An independent stream derived from (seed, stream id), e.g. per dataset, per epoch or per thread. */
void rng_seed_stream(Rng *r, uint64_t seed, uint64_t stream);
uint64_t rng_u64(Rng *r);
double rng_uniform(Rng *r);            /* [0, 1) with 53 bits */
float rng_uniformf(Rng *r);            /* [0, 1) */
double rng_normal(Rng *r);             /* N(0, 1), Box–Muller (no cached second value: state stays 4 words) */
uint64_t rng_below(Rng *r, uint64_t n); /* uniform in [0, n), unbiased */
void rng_fill_normal(Rng *r, float *x, size_t n, float mean, float std);
void rng_fill_uniform(Rng *r, float *x, size_t n, float lo, float hi);
/* Stable 64-bit hash of bytes (FNV-1a followed by a splitmix finaliser), for deterministic choices by path. */
uint64_t hash64(const void *data, size_t n, uint64_t seed);

#endif
