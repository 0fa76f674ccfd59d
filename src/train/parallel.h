/* parallel.h — data-parallel training over several processes (Open MPI), or none.
 *
 * Every rank runs the same loop on the same sampler order: each optimizer step takes the step's
 * global batch (train_batch_size × ranks samples from one bucket), rank r computes a contiguous share
 * of it, and one all-reduce of a flat buffer sums the gradients (and the step's loss statistics) so
 * that every rank applies the same update. Randomness is drawn per sample from a stream keyed by
 * (step seed, micro-batch, sample index), so a sample gets the same noise whichever rank computes
 * it: N ranks with batch B train exactly as one process with batch B·N (up to summation order).
 * Rank 0 alone writes logs, checkpoints, validation images and the final weights. */
#ifndef ST_TRAIN_PARALLEL_H
#define ST_TRAIN_PARALLEL_H
#include <stddef.h>
#include "base/error.h"
#include "config/config.h"

typedef struct Parallel {
    int rank, size;          /* 0, 1 for a single process */
    int threads;             /* OpenMP threads per rank (for the start-up line) */
    int active;              /* MPI was initialised (launched by mpirun) */
} Parallel;

/* MPI when this process was started by mpirun (OMPI_COMM_WORLD_SIZE / PMIX_RANK in the environment),
 * else a single process; never fails for a single process. */
int parallel_init(Parallel *p, int *argc, char ***argv, Err *e);
/* MPI_Finalize when initialised. */
void parallel_finish(Parallel *p);
/* Stops every rank at once after a failure here (prints nothing; the caller printed the error). */
void parallel_abort(const Parallel *p, int code);

/* In place, the same result on every rank (a single process returns at once). */
int parallel_sum_floats(const Parallel *p, float *x, size_t n, Err *e);
int parallel_sum_doubles(const Parallel *p, double *x, size_t n, Err *e);
int parallel_barrier(const Parallel *p, Err *e);

/* num_processes, when set, must equal the number of ranks (EXIT_USAGE naming the key). */
int parallel_check_config(const Parallel *p, const Config *c, Err *e);

/* The share of n items rank p->rank takes: [*lo, *hi). */
void parallel_share(const Parallel *p, int n, int *lo, int *hi);

#endif
