/* parallel.c — see parallel.h. Open MPI, initialised only when mpirun started this process. */
#include "train/parallel.h"
#include <mpi.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static int launched_by_mpirun(void) {
    const char *s = getenv("OMPI_COMM_WORLD_SIZE");
    return (s && *s) || getenv("PMIX_RANK") != NULL;
}

int parallel_init(Parallel *p, int *argc, char ***argv, Err *e) {
    memset(p, 0, sizeof *p);
    p->size = 1;
    p->threads = omp_get_max_threads();
    if (!launched_by_mpirun()) return 0;
    /* a rank waiting in a collective (while rank 0 renders validation sheets, say) must not spin on
     * a core the others need */
    setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
    if (MPI_Init(argc, argv) != MPI_SUCCESS) return err_set(e, "MPI_Init failed (started by mpirun?)");
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &p->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &p->size);
    p->active = 1;
    return 0;
}

void parallel_finish(Parallel *p) {
    if (p->active) MPI_Finalize();
    p->active = 0;
}

void parallel_abort(const Parallel *p, int code) {
    if (p && p->active && p->size > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

static int check(int rc, const char *what, Err *e) {
    if (rc == MPI_SUCCESS) return 0;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return err_set(e, "%s failed: %.*s (a rank stopped?)", what, len, msg);
}

int parallel_sum_floats(const Parallel *p, float *x, size_t n, Err *e) {
    if (!p || !p->active || p->size < 2) return 0;
    for (size_t off = 0; off < n;) {   /* MPI counts are int */
        int c = n - off > (size_t)1 << 30 ? 1 << 30 : (int)(n - off);
        if (check(MPI_Allreduce(MPI_IN_PLACE, x + off, c, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce", e)) return -1;
        off += (size_t)c;
    }
    return 0;
}

int parallel_sum_doubles(const Parallel *p, double *x, size_t n, Err *e) {
    if (!p || !p->active || p->size < 2) return 0;
    return check(MPI_Allreduce(MPI_IN_PLACE, x, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce", e);
}

int parallel_barrier(const Parallel *p, Err *e) {
    if (!p || !p->active || p->size < 2) return 0;
    return check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier", e);
}

void parallel_share(const Parallel *p, int n, int *lo, int *hi) {
    int r = p ? p->rank : 0, s = p && p->size > 0 ? p->size : 1;
    *lo = (int)((long long)r * n / s);
    *hi = (int)((long long)(r + 1) * n / s);
}

int parallel_check_config(const Parallel *p, const Config *c, Err *e) {
    /* SimpleTuner's accelerate settings: with mpirun the ranks are the processes */
    if (config_is_set(c, "num_processes") && config_int(c, "num_processes") != p->size)
        return err_setc(e, EXIT_USAGE, "%s: num_processes=%ld, but mpirun started %d ranks (set -np %ld or drop num_processes)",
                        config_source(c, "num_processes"), config_int(c, "num_processes"), p->size, config_int(c, "num_processes"));
    return 0;
}
