/* crash_point.h — named places where the crash test (tools/crash_test.sh) kills the program.
 *
 * A run started with SIMPLETUNER_CRASH_AT=TEXT sends itself SIGKILL at the first crash point whose
 * label contains TEXT, as `kill -9` at that instant would: no cleanup, no flush, temp files left
 * behind. Without the variable (or with it empty) a crash point does nothing but one getenv(), so
 * the points may sit anywhere outside inner loops. Labels (the program's own words, see
 * docs/bad-inputs.md "Crash points"):
 *   write <path>                 an atomic write whose temp file is complete, before its rename
 *   remove <path>                removing one file of a directory tree (rotation, leftovers)
 *   step N backward              step N: forward of a sample done, its backward not yet
 *   step N optimizer             step N: gradients complete, the optimizer not yet applied
 *   step N log-csv               step N: the JSONL line written, the CSV line not yet
 *   step N checkpoint            step N: both log lines written, nothing checkpointed yet
 *   checkpoint-N commit          every file of checkpoint N written, the directory not yet renamed
 *   checkpoint-N rotate          checkpoint N in place, older ones not yet rotated out
 *   rotate checkpoint-N          checkpoint N moved to its trash name, not yet deleted
 *   validate N                   validation of step N about to render
 *   sampling I/N                 a validation render between two sampler steps
 *   final-save                   training done, the final weights not yet written
 * Nothing else reads the variable; it changes no result of a run that is not killed. */
#ifndef ST_BASE_CRASH_POINT_H
#define ST_BASE_CRASH_POINT_H

#define CRASH_POINT_ENV "SIMPLETUNER_CRASH_AT"

/* Kills the process with SIGKILL when $SIMPLETUNER_CRASH_AT is a non-empty substring of the label. */
void crash_point(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
