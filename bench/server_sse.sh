#!/bin/sh
# WebUI under watch: a tiny training run started through `simpletuner server`, once with nobody
# watching and once with 50 clients streaming its events (GET /api/runs/NAME/events, curl), in
# alternating rounds. Prints the training speed of each (optimizer steps per second between the
# first and last step event, so model loading and caching are not counted), the ratio (the target:
# within 10%), and the server's resident memory (VmRSS, VmHWM) with the clients connected.
#   BIN=build/simpletuner sh bench/server_sse.sh [ROUNDS (default 2)] [STEPS (default 60)] [CLIENTS (default 50)]
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
set -euo pipefail
BIN=$(cd "$(dirname "${BIN:-build/simpletuner}")" && pwd)/$(basename "${BIN:-build/simpletuner}")
ROUNDS=${1:-2}; STEPS=${2:-60}; CLIENTS=${3:-50}
command -v curl >/dev/null || { echo "server_sse: curl is needed"; exit 1; }
D=$(mktemp -d)
SPID=""
cleanup() { if [ -n "$SPID" ]; then kill -INT "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; fi; rm -rf "$D"; }
trap cleanup EXIT
export SIMPLETUNER_TINY_DIR=$D/tiny
mkdir -p "$D/root"
"$BIN" server --root "$D/root" --port 0 >"$D/server.log" 2>&1 &
SPID=$!
for _ in $(seq 1 100); do grep -q '^simpletuner WebUI' "$D/server.log" && break; sleep 0.1; done
U=http://127.0.0.1:$(sed -n 's|^simpletuner WebUI: http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$D/server.log")
post() { curl -sf -X POST -H 'X-ST-Token: x' "$@" >/dev/null; }
post "$U/api/configs" -d '{"name":"base","preset":"tiny.qwen_image.edit-v2-lora"}'
# steps/s of one run of config NAME (a fresh output_dir each time), with $2 clients streaming it
run() {
    local name=$1 clients=$2 i pids=()
    mkdir -p "$D/root/config/$name"
    sed "s|\"output_dir\": \"[^\"]*\"|\"output_dir\": \"output/$name\"|; s|\"max_train_steps\": [0-9]*|\"max_train_steps\": $STEPS|;
         s|\"checkpoint_step_interval\": [0-9]*|\"checkpoint_step_interval\": 100000|; s|\"validation_step_interval\": [0-9]*|\"validation_step_interval\": 100000|;
         s|\"num_eval_images\": [0-9]*|\"num_eval_images\": 0|" \
        "$D/root/config/base/config.json" >"$D/root/config/$name/config.json"
    local cpu0
    cpu0=$(awk '{print $14+$15}' /proc/$SPID/stat)
    post "$U/api/runs/$name/start"
    for i in $(seq 1 "$clients"); do curl -sN "$U/api/runs/$name/events" >"$D/c$i.sse" & pids+=($!); done
    # the watcher of record (also for the runs without clients)
    curl -sN "$U/api/runs/$name/events" >"$D/$name.sse"
    if [ "$clients" -gt 0 ]; then
        echo "$(( $(awk '{print $14+$15}' /proc/$SPID/stat) - cpu0 ))" >"$D/cpu"
        grep VmRSS /proc/$SPID/status | tr -s ' \t' ' ' >"$D/rss"
        grep VmHWM /proc/$SPID/status | tr -s ' \t' ' ' >>"$D/rss"
        wait "${pids[@]}"
        local got
        got=$(grep -l '"event":"end"' "$D"/c*.sse | wc -l)
        [ "$got" = "$clients" ] || echo "server_sse: only $got of $clients clients saw the end of the run"
    fi
    grep '"event":"step"' "$D/$name.sse" | sed 's/.*"step":\([0-9]*\).*"seconds":\([0-9.e+-]*\).*/\1 \2/' |
        awk 'NR==1{s0=$1;t0=$2} {s=$1;t=$2} END{if (t>t0) printf "%.3f\n", (s-s0)/(t-t0); else print "nan"}'
}
base=(); watched=()
for r in $(seq 1 "$ROUNDS"); do
    base+=("$(run "b$r" 0)")
    watched+=("$(run "w$r" "$CLIENTS")")
    echo "round $r: $STEPS steps, no clients ${base[-1]} it/s, $CLIENTS clients ${watched[-1]} it/s"
done
med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mb=$(med "${base[@]}"); mw=$(med "${watched[@]}")
echo "median: no clients $mb it/s, $CLIENTS clients $mw it/s, ratio $(awk -v a="$mw" -v b="$mb" 'BEGIN{printf "%.3f", a/b}') (target >= 0.90)"
echo "server memory with $CLIENTS clients streaming: $(tr '\n' ' ' <"$D/rss")"
echo "server CPU time during the last watched run: $(awk -v t="$(cat "$D/cpu")" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f s", t/hz}')"
