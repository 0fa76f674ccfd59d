#!/bin/sh
# Runs every libFuzzer target for FUZZ_SECONDS each (or, with FUZZ_RUNS=N in the environment, for N
# executions each, however long that takes) and prints the executions per target.
#   run.sh SECONDS BUILD_DIR TARGET...
# Seeds come from tests/fuzz/corpus/<target>/ (read only); inputs the fuzzer finds go to
# BUILD_DIR/corpus/<target>/ and crashing inputs to BUILD_DIR/artifacts/<target>/. A crash, leak,
# undefined behaviour or a single input slower than 30 s fails the run (exit 1).
secs=$1; build=$2; shift 2
status=0
summary=""
for t in "$@"; do
    bin=$build/fuzz_$t
    work=$build/corpus/$t; art=$build/artifacts/$t
    mkdir -p "$work" "$art"
    log=$build/$t.log
    if [ -n "${FUZZ_RUNS:-}" ]; then limit="-runs=$FUZZ_RUNS"; echo "fuzz $t: $FUZZ_RUNS executions"
    else limit="-max_total_time=$secs"; echo "fuzz $t: ${secs}s"; fi
    "$bin" $limit -timeout=30 -print_final_stats=1 -close_fd_mask=3 \
        -artifact_prefix="$art/" "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    if [ $rc = 0 ]; then res=clean; else res="FAILED (exit $rc, see $log and $art/)"; status=1; tail -n 30 "$log"; fi
    summary="$summary$(printf '  %-12s %12s executions  %8s exec/s  %s' "$t" "${execs:-?}" "${rate:-?}" "$res")
"
done
if [ -n "${FUZZ_RUNS:-}" ]; then per="$FUZZ_RUNS executions"; else per="${secs}s"; fi
echo "fuzz summary ($per per target):"
printf '%s' "$summary"
exit $status
