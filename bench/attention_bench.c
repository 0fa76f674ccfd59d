/* attention_bench.c — the tiled attention kernels against a plain sgemm, in one process.
 *   attention_bench S H D [REPS]
 * Times attention_forward and attention_backward on S tokens, H heads of width D (random q, k, v),
 * median of REPS (default 3), and prints their GEMM rates (forward 4·S²·D·H FLOP; backward
 * 10·S²·D·H: the scores recomputed, then dV, dP, dQ, dK) beside a 2-thread-as-configured sgemm of
 * [S, H·D] x [H·D, H·D] measured right after: the ratio is what the tiles cost. */
#include "kernels/attention.h"
#include "base/rng.h"
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

static float *random_buffer(size_t n, Rng *r) {
    float *p = malloc(n * sizeof *p);
    if (!p) { fprintf(stderr, "out of memory\n"); exit(1); }
    for (size_t i = 0; i < n; i++) p[i] = (float)rng_normal(r);
    return p;
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: attention_bench S H D [REPS]\n"); return 2; }
    int S = atoi(argv[1]), H = atoi(argv[2]), D = atoi(argv[3]), reps = argc > 4 ? atoi(argv[4]) : 3;
    if (S < 1 || H < 1 || D < 1 || reps < 1 || reps > 50) { fprintf(stderr, "attention_bench: bad sizes\n"); return 2; }
    const int ld = H * D;
    Rng r; rng_seed(&r, 1);
    size_t n = (size_t)S * ld;
    float *q = random_buffer(n, &r), *k = random_buffer(n, &r), *v = random_buffer(n, &r), *g = random_buffer(n, &r);
    float *o = malloc(n * sizeof *o), *dq = malloc(n * sizeof *dq), *dk = malloc(n * sizeof *dk), *dv = malloc(n * sizeof *dv);
    float *lse = malloc((size_t)H * S * sizeof *lse);
    if (!o || !dq || !dk || !dv || !lse) { fprintf(stderr, "out of memory\n"); return 1; }
    double tf[50], tb[50], ts[50];
    for (int i = 0; i < reps; i++) {
        double t0 = now();
        attention_forward(q, k, v, ld, S, H, D, NULL, o, ld, lse);
        double t1 = now();
        attention_backward(g, ld, q, k, v, ld, o, lse, S, H, D, NULL, dq, dk, dv, ld);
        double t2 = now();
        tf[i] = t1 - t0; tb[i] = t2 - t1;
    }
    float *w = random_buffer((size_t)ld * ld, &r), *y = malloc(n * sizeof *y);
    for (int i = 0; i < reps; i++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, S, ld, ld, 1.0f, q, ld, w, ld, 0.0f, y, ld);
        ts[i] = now() - t0;
    }
    qsort(tf, (size_t)reps, sizeof *tf, cmp); qsort(tb, (size_t)reps, sizeof *tb, cmp); qsort(ts, (size_t)reps, sizeof *ts, cmp);
    double ff = 4.0 * S * S * D * H, fb = 10.0 * S * S * D * H, fs = 2.0 * S * ld * ld;
    double gf = ff / tf[reps / 2] * 1e-9, gb = fb / tb[reps / 2] * 1e-9, gs = fs / ts[reps / 2] * 1e-9;
    printf("attention S=%d H=%d D=%d tiles %dx%d: forward %.1f ms %.1f GFLOP/s, backward %.1f ms %.1f GFLOP/s; "
           "sgemm [%d,%d]x[%d,%d] %.1f GFLOP/s; ratios %.2f %.2f\n",
           S, H, D, ATTN_TQ, ATTN_TK, tf[reps / 2] * 1e3, gf, tb[reps / 2] * 1e3, gb, S, ld, ld, ld, gs, gf / gs, gb / gs);
    free(q); free(k); free(v); free(g); free(o); free(dq); free(dk); free(dv); free(lse); free(w); free(y);
    return 0;
}
