#!/usr/bin/env bash
# The WebUI's HTTP API (simpletuner server) against the tiny models, with curl on 127.0.0.1 and a
# port the server picks (--port 0): configurations (create from a preset, the CLI's validation
# messages per key, atomic save, comments), dataset inspection (against `dataset inspect`), a
# training run (events in order, stop with a checkpoint, resume, files), edits (the same PNG as
# `simpletuner validate`), path traversal, size limits, malformed requests, two jobs at once,
# the token, and a restarted server listing the earlier runs.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null 2>&1 || skip "curl is not installed (make deps installs it)"
B=$(st_bin)
# the presets of this checkout, wherever the binary was built (build/san has no ../examples)
export SIMPLETUNER_EXAMPLES_DIR=${SIMPLETUNER_EXAMPLES_DIR:-$(pwd)/examples}
ST_DIR=$(mktemp -d)
SPID=""
cleanup() {
    local rc=0
    if [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; then kill -INT "$SPID"; wait "$SPID" 2>/dev/null || rc=$?; fi
    rm -rf "$ST_DIR" "$ST_OUT"
}
trap cleanup EXIT
export SIMPLETUNER_TINY_DIR=$ST_DIR/tiny
HERE=$PWD
ROOT=$ST_DIR/root
mkdir -p "$ROOT"
OUT=$ST_DIR/out
mkdir -p "$OUT"

# start_server [FLAGS...]: runs the server on a free port; sets SPID, PORT, U.
start_server() {
    "$B" server --root "$ROOT" --port 0 "$@" >"$ST_DIR/server.log" 2>&1 &
    SPID=$!
    for _ in $(seq 1 100); do
        if grep -q '^simpletuner WebUI: ' "$ST_DIR/server.log"; then break; fi
        kill -0 "$SPID" 2>/dev/null || { cat "$ST_DIR/server.log" >&2; fail "the server exited at start"; }
        sleep 0.1
    done
    PORT=$(sed -n 's|^simpletuner WebUI: http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$ST_DIR/server.log")
    check test -n "$PORT" -- "the server printed its URL"
    U=http://127.0.0.1:$PORT
}
stop_server() {
    kill -INT "$SPID"
    local rc=0
    wait "$SPID" || rc=$?
    SPID=""
    expect_eq "$rc" 0 "the server exits 0 on Ctrl-C"
}

# req METHOD PATH [curl args...]: the status code; the body goes to $OUT/body. POST/PUT/DELETE send
# the X-ST-Token header ($TOKEN, default "x"; TOKEN=- sends none).
req() {
    local m=$1 p=$2
    shift 2
    local h=()
    if [ "$m" != GET ] && [ "${TOKEN:-x}" != - ]; then h=(-H "X-ST-Token: ${TOKEN:-x}"); fi
    curl -s --path-as-is -o "$OUT/body" -w '%{http_code}' -X "$m" "${h[@]}" "$@" "$U$p"
}
# expect_status CODE METHOD PATH [curl args...]
expect_status() {
    local want=$1 got
    shift
    got=$(req "$@")
    if [ "$got" != "$want" ]; then cat "$OUT/body" >&2; echo >&2; fail "$1 $2: status $got, expected $want"; fi
}
json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);const v=(new Function("j","return ("+process.argv[1]+")"))(j);console.log(typeof v==="string"?v:JSON.stringify(v));})' "$@" <"$OUT/body"; }

# ---- command line ----
expect_ok "$B" server --help
expect_grep -F 'host ADDR'; expect_grep -F 'token T'; expect_grep -F 'max-upload-mb N'; expect_grep -F 'root DIR'
expect_fail -c 2 "$B" server --port 70000
expect_fail -c 2 "$B" server --bogus
expect_fail -c 2 "$B" server --token short --root "$ROOT"
expect_fail -c 2 "$B" server --root "$ST_DIR/nope"
# reachable from other machines: never without a token (one is generated and printed once)
"$B" server --host 0.0.0.0 --port 0 --root "$ROOT" >"$ST_DIR/open.log" 2>&1 &
OPID=$!
for _ in $(seq 1 50); do if grep -q 'log in with' "$ST_DIR/open.log"; then break; fi; sleep 0.1; done
kill -INT "$OPID"; wait "$OPID"
expect_grep 'token \(generated; give it with --token to keep it\): [0-9a-f]{48}' "$ST_DIR/open.log"
OPORT=$(sed -n 's|^simpletuner WebUI: http://0.0.0.0:\([0-9]*\)/.*|\1|p' "$ST_DIR/open.log")
check test -n "$OPORT" -- "the open server printed its URL"

start_server

# ---- pages, presets, options ----
expect_status 200 GET /
expect_grep -F 'src="/app.js"' "$OUT/body"
expect_status 200 GET /app.js
expect_grep -F 'EventSource' "$OUT/body"
expect_status 404 GET /nothing.js
expect_status 200 GET /api/presets
expect_grep -F '"tiny.qwen_image.edit-v2-lora"' "$OUT/body"
expect_status 200 GET /api/options
expect_eq "$(json 'j.find(o=>o.name==="lora_rank").type')" NUMBER "lora_rank's type"
expect_eq "$(json 'j.find(o=>o.name==="lr_scheduler").choices.includes("cosine")')" true "lr_scheduler's choices"
expect_eq "$(json 'j.find(o=>o.name==="push_to_hub").support')" unsupported "push_to_hub's support"
expect_eq "$(json 'j.find(o=>o.name==="mixed_precision").supported_values')" "bf16,no" "mixed_precision's values"
expect_eq "$(json 'j.find(o=>o.name==="lora_format").unsupported_reason.includes("ComfyUI")')" true "lora_format's reason"
expect_eq "$(json 'typeof j.find(o=>o.name==="learning_rate").help')" string "learning_rate has help"
check test "$(json 'j.length')" -gt 400 -- "every option of the table"
# this program's own options come after SimpleTuner's, marked, with their scope and help
expect_eq "$(json 'j.find(o=>o.name==="longcat_reference_timestep").own')" true "longcat_reference_timestep is ours"
expect_eq "$(json 'j.find(o=>o.name==="longcat_reference_timestep").scope')" "longcat_image:edit" "its scope"
expect_eq "$(json 'j.find(o=>o.name==="longcat_reference_timestep").choices.join()')" "shared,zero" "its choices"
expect_eq "$(json 'j.find(o=>o.name==="lora_rank").own')" undefined "SimpleTuner's options are not marked"

# ---- configurations ----
TOKEN=- expect_status 403 POST /api/configs -d '{"name":"t1","preset":"tiny.qwen_image.edit-v2-lora"}'
expect_grep -F 'X-ST-Token' "$OUT/body"
expect_status 421 GET /api/info -H "Host: evil.example:$PORT"
expect_status 201 POST /api/configs -d '{"name":"t1","preset":"tiny.qwen_image.edit-v2-lora"}'
expect_file "$ROOT/config/t1/config.json" "$ROOT/config/t1/multidatabackend.json"
expect_grep -F '"data_backend_config": "config/t1/multidatabackend.json"' "$ROOT/config/t1/config.json"
expect_status 409 POST /api/configs -d '{"name":"t1","preset":"tiny.qwen_image.edit-v2-lora"}'
expect_status 400 POST /api/configs -d '{"name":"../x","preset":"tiny.qwen_image.edit-v2-lora"}'
# (the name is quoted from the request: it was once read after the request's JSON was freed)
expect_grep -F "'../x' is not a configuration name" "$OUT/body"
expect_status 400 POST /api/configs -d '{"name":"t9","preset":"../../etc"}'
expect_status 400 POST /api/configs -d '{"name":"t9"'
expect_status 400 POST /api/configs -d '[1,2]'
expect_status 405 PATCH /api/configs
expect_status 404 GET /api/nothing
expect_status 200 GET /api/configs
expect_eq "$(json 'j.map(c=>c.name).join(",")')" t1 "the configuration list"
expect_status 200 GET /api/configs/t1
expect_eq "$(json 'j.config.model_flavour')" edit-v2 "the parsed configuration"
expect_eq "$(json 'j.datasets.length')" 4 "the datasets"
expect_eq "$(json 'j.load_error === undefined')" true "the copy loads"

# validation: the CLI's messages, one per key, while the file stays as it was
node -e 'const fs=require("fs");const c=JSON.parse(fs.readFileSync(process.argv[1]));c.lora_rnk=4;c.learning_rate="abc";c.lr_scheduler="nope";c.push_to_hub=true;
  fs.writeFileSync(process.argv[2],JSON.stringify({config:c}));fs.writeFileSync(process.argv[3],JSON.stringify(c))' \
  "$ROOT/config/t1/config.json" "$OUT/bad.json" "$ROOT/config/t1/bad_config.json"
cp "$ROOT/config/t1/config.json" "$OUT/t1.orig"
expect_status 200 POST /api/configs/t1/validate --data-binary @"$OUT/bad.json"
expect_eq "$(json 'j.ok')" false "invalid configuration"
expect_eq "$(json 'j.errors.map(e=>e.key).sort().join(",")')" "learning_rate,lora_rnk,lr_scheduler,push_to_hub" "one error per key"
expect_grep -F "unknown option 'lora_rnk' (did you mean 'lora_rank'?)" "$OUT/body"
expect_grep -F "not supported yet: push_to_hub=true" "$OUT/body"
# the same message as the command line, file name included
cd "$ROOT"
expect_fail -c 2 "$B" config show --config config/t1/bad_config.json
cd "$HERE"
cli_msg=$(sed -n 's/^error: config\/t1\/bad_config.json: //p' "$ST_OUT")
expect_eq "$(json 'j.errors.map(e=>e.message).includes("config/t1/config.json: " + process.argv[2])' "$cli_msg")" true "the CLI's message"
expect_status 422 PUT /api/configs/t1 --data-binary @"$OUT/bad.json"
expect_grep -F 'not saved' "$OUT/body"
expect_same_file "$OUT/t1.orig" "$ROOT/config/t1/config.json" "an invalid configuration is not saved"
# a dataset error names its dataset
node -e 'const fs=require("fs");const c=JSON.parse(fs.readFileSync(process.argv[1]));const d=JSON.parse(fs.readFileSync(process.argv[2]));
  d[0].conditioning_data=["reference-a","nope"];fs.writeFileSync(process.argv[3],JSON.stringify({config:c,datasets:d}))' \
  "$ROOT/config/t1/config.json" "$ROOT/config/t1/multidatabackend.json" "$OUT/badds.json"
expect_status 200 POST /api/configs/t1/validate --data-binary @"$OUT/badds.json"
expect_eq "$(json 'j.errors[0].dataset')" edit-images "the dataset named"
expect_grep -F "conditioning_data names 'nope'" "$OUT/body"
# a valid edit round-trips: saved atomically, read back by the CLI
node -e 'const fs=require("fs");const c=JSON.parse(fs.readFileSync(process.argv[1]));const d=JSON.parse(fs.readFileSync(process.argv[2]));
  Object.assign(c,{max_train_steps:6,checkpoint_step_interval:3,validation_step_interval:3,output_dir:"output/t1",validation_num_inference_steps:2});
  fs.writeFileSync(process.argv[3],JSON.stringify({config:c,datasets:d}))' \
  "$ROOT/config/t1/config.json" "$ROOT/config/t1/multidatabackend.json" "$OUT/good.json"
expect_status 200 PUT /api/configs/t1 --data-binary @"$OUT/good.json"
expect_eq "$(json 'j.saved')" true "saved"
cd "$ROOT"
expect_ok "$B" config show --config config/t1/config.json
cd "$HERE"
expect_grep '^max_train_steps = 6 ' "$ST_OUT"
expect_grep '^output_dir = "output/t1" ' "$ST_OUT"
expect_status 200 GET /api/configs/t1
expect_eq "$(json 'j.config.checkpoint_step_interval')" 3 "read back"
expect_no_path "$ROOT/config/t1/config.json.tmp."*
# comments: saving from the form would drop them, so the server asks first
mkdir -p "$ROOT/config/c2"
{ echo '// my notes'; cat "$ROOT/config/t1/config.json"; } >"$ROOT/config/c2/config.json"
cp "$ROOT/config/c2/config.json" "$OUT/c2.orig"
expect_status 200 GET /api/configs/c2
expect_eq "$(json 'j.has_comments')" true "comments seen"
node -e 'const fs=require("fs");const b=JSON.parse(fs.readFileSync(process.argv[1]));delete b.datasets;fs.writeFileSync(process.argv[2],JSON.stringify(b))' "$OUT/good.json" "$OUT/good_nods.json"
expect_status 409 PUT /api/configs/c2 --data-binary @"$OUT/good_nods.json"
expect_eq "$(json 'j.comments')" true "asked about the comments"
expect_same_file "$OUT/c2.orig" "$ROOT/config/c2/config.json" "kept until confirmed"
node -e 'const fs=require("fs");const b=JSON.parse(fs.readFileSync(process.argv[1]));b.drop_comments=true;fs.writeFileSync(process.argv[2],JSON.stringify(b))' "$OUT/good_nods.json" "$OUT/good_drop.json"
expect_status 200 PUT /api/configs/c2 --data-binary @"$OUT/good_drop.json"
expect_no_grep -F '// my notes' "$ROOT/config/c2/config.json"

# ---- datasets ----
expect_status 200 GET '/api/configs/t1/inspect?pairs=3'
expect_eq "$(json 'j.datasets[0].found+"/"+j.datasets[0].used')" 8/8 "images found and used"
expect_eq "$(json 'j.datasets[0].buckets.map(b=>b.width+"x"+b.height+":"+b.images).join()')" 128x128:8 "the bucket table"
expect_eq "$(json 'j.samples[0].pairs.length+":"+j.samples[0].pairs[0].references.length')" 3:3 "pairs with their references"
thumb=$(json 'j.samples[0].pairs[0].image')
expect_status 200 GET "$thumb?size=64"
expect_eq "$(head -c 8 "$OUT/body" | od -An -tx1 | tr -d ' \n')" 89504e470d0a1a0a "a PNG thumbnail"
expect_status 400 GET "$thumb?size=99999"
expect_status 404 GET /api/thumbs/99999
# a dataset with a missing reference: the same counts as `simpletuner dataset inspect`
mkdir -p "$ROOT/data"
cp -r "$SIMPLETUNER_TINY_DIR/data/tiny.qwen_image.edit-v2-lora" "$ROOT/data/d3"
rm "$ROOT/data/d3/reference_b/pair_0003.png"
mkdir -p "$ROOT/config/d3"
sed 's|"output_dir": "output/t1"|"output_dir": "output/d3"|; s|config/t1/multidatabackend.json|config/d3/multidatabackend.json|' "$ROOT/config/t1/config.json" >"$ROOT/config/d3/config.json"
sed "s|{env:SIMPLETUNER_TINY_DIR}/data/tiny.qwen_image.edit-v2-lora|$ROOT/data/d3|" "$ROOT/config/t1/multidatabackend.json" >"$ROOT/config/d3/multidatabackend.json"
expect_status 200 GET /api/configs/d3/inspect
expect_eq "$(json 'j.datasets[0].pairs[1].missing+":"+j.datasets[0].pairs[1].missing_files.join()')" "1:pair_0003.png" "the missing pair listed"
expect_eq "$(json 'j.datasets[0].skipped[0].reason')" 'no reference in dataset "reference-b"' "why it is skipped"
cd "$ROOT"
expect_fail -c 2 "$B" dataset inspect --config config/d3/config.json
cd "$HERE"
expect_grep -F 'pairs with "reference-b": 7 same path, 0 other extension, 1 missing' "$ST_OUT"
expect_grep -F 'pair_0003.png' "$ST_OUT"

# ---- a training run: events in order, files ----
expect_status 202 POST /api/runs/t1/start
expect_status 409 POST /api/runs/t1/start
expect_grep -F 'a training run is in progress (t1)' "$OUT/body"
expect_status 409 POST /api/runs/d3/start
timeout 300 curl -sN "$U/api/runs/t1/events" >"$OUT/t1.sse"
steps=$(grep -A1 '^event: step$' "$OUT/t1.sse" | sed -n 's/^data: .*"step":\([0-9]*\).*/\1/p' | tr '\n' ' ')
expect_eq "$steps" "1 2 3 4 5 6 " "every step once, in order"
expect_grep -F '"event":"end","state":"finished","exit_code":0' "$OUT/t1.sse"
expect_grep '^event: reset$' "$OUT/t1.sse"
expect_grep '^event: cache_progress$' "$OUT/t1.sse"
expect_grep '^event: validation_image$' "$OUT/t1.sse"
expect_grep '^event: checkpoint$' "$OUT/t1.sse"
expect_status 200 GET /api/runs/t1
expect_eq "$(json 'j.state+":"+j.checkpoints.map(c=>c.step).join()+":"+j.steps_logged')" finished:3,6:6 "the run's checkpoints and log"
expect_eq "$(json 'j.validation.map(v=>v.step).join()')" 0,3,6 "validation sheets as written"
sheet=$(json 'j.validation[2].images[0]')
expect_status 200 GET "$sheet"
expect_same_file "$OUT/body" "$ROOT/output/t1/validation/step-6/00.png" "the sheet served"
expect_status 200 GET /api/runs/t1
lora=$(json 'j.checkpoints[0].lora')
curl -s -D "$OUT/headers" -o "$OUT/lora.safetensors" "$U$lora"
expect_same_file "$OUT/lora.safetensors" "$ROOT/output/t1/checkpoint-3/pytorch_lora_weights.safetensors" "the LoRA download"
expect_grep -i -F 'content-disposition: attachment; filename="t1-checkpoint-3-pytorch_lora_weights.safetensors"' "$OUT/headers"
expect_status 200 GET /api/runs
expect_eq "$(json 'j.find(r=>r.name==="t1").last_step')" 6 "the runs list"
# a model_type=full run's output_dir: its exported transformers are listed, not LoRA files
mkdir -p "$ROOT/config/f1" "$ROOT/output/f1/checkpoint-2/transformer" "$ROOT/output/f1/transformer"
node -e 'const fs=require("fs");const c=JSON.parse(fs.readFileSync(process.argv[1]));Object.assign(c,{output_dir:"output/f1",model_type:"full"});fs.writeFileSync(process.argv[2],JSON.stringify(c))' \
  "$ROOT/config/t1/config.json" "$ROOT/config/f1/config.json"
echo ckpt >"$ROOT/output/f1/checkpoint-2/transformer/diffusion_pytorch_model.safetensors"
echo final >"$ROOT/output/f1/transformer/diffusion_pytorch_model.safetensors"
expect_status 200 GET /api/runs/f1
expect_eq "$(json 'j.checkpoints.map(c=>c.step+":"+c.transformer_path+":"+(c.lora===undefined)).join()')" \
    "2:output/f1/checkpoint-2/transformer/diffusion_pytorch_model.safetensors:true" "a full checkpoint's transformer"
expect_eq "$(json 'j.final_transformer_path+":"+(j.final_lora===undefined)')" "output/f1/transformer/diffusion_pytorch_model.safetensors:true" "the final transformer"
expect_status 200 GET "$(json 'j.final_transformer')"
expect_eq "$(cat "$OUT/body")" final "the transformer download"
# --events wrote JSON lines the stream was made of
expect_grep -F '"event":"step"' "$ROOT/.webui/runs/t1/events.jsonl"
expect_eq "$(grep -c '"event":"step"' "$ROOT/.webui/runs/t1/events.jsonl")" 6 "six step events in the events file"

# ---- stop with a checkpoint, then resume ----
mkdir -p "$ROOT/config/s1"
node -e 'const fs=require("fs");const c=JSON.parse(fs.readFileSync(process.argv[1]));Object.assign(c,{max_train_steps:400,checkpoint_step_interval:1000,validation_step_interval:1000,num_eval_images:0,output_dir:"output/s1"});
  fs.writeFileSync(process.argv[2],JSON.stringify(c,null,1))' "$ROOT/config/t1/config.json" "$ROOT/config/s1/config.json"
expect_status 202 POST /api/runs/s1/start
timeout 300 curl -sN "$U/api/runs/s1/events" >"$OUT/s1.sse" &
CPID=$!
for _ in $(seq 1 600); do if grep -q '"step":2,' "$OUT/s1.sse"; then break; fi; sleep 0.1; done
# a second tab joins mid-run: history from the log, then the live steps, each once
timeout 300 curl -sN "$U/api/runs/s1/events" >"$OUT/s1tab.sse" &
TPID=$!
sleep 0.5
expect_status 202 POST /api/runs/s1/stop
wait "$CPID"
wait "$TPID"
steps=$(grep -A1 '^event: step$' "$OUT/s1.sse" | sed -n 's/^data: .*"step":\([0-9]*\).*/\1/p' | tr '\n' ' ')
steps_tab=$(grep -A1 '^event: step$' "$OUT/s1tab.sse" | sed -n 's/^data: .*"step":\([0-9]*\).*/\1/p' | tr '\n' ' ')
expect_eq "$steps_tab" "$steps" "a tab that joined later sees the same steps"
expect_grep -F '"event":"end","state":"stopped"' "$OUT/s1tab.sse"
expect_grep -F '"event":"end","state":"stopped","exit_code":0' "$OUT/s1.sse"
expect_grep '^event: interrupted$' "$OUT/s1.sse"
expect_status 200 GET /api/runs/s1
K=$(json 'j.checkpoints.map(c=>c.step).join()')
expect_eq "$steps" "$(seq -s ' ' 1 "$K") " "the first tab saw every step up to the stop"
expect_eq "$(json 'j.state')" stopped "stopped"
check test "$K" -ge 2 -- "a checkpoint at the step it stopped ($K)"
expect_eq "$(json 'j.last_step')" "$K" "the log ends at the checkpoint"
expect_status 409 POST /api/runs/s1/stop
node -e 'const fs=require("fs");const c=JSON.parse(fs.readFileSync(process.argv[1]));c.max_train_steps=Number(process.argv[2])+3;fs.writeFileSync(process.argv[1],JSON.stringify(c,null,1))' "$ROOT/config/s1/config.json" "$K"
expect_status 202 POST /api/runs/s1/resume
timeout 300 curl -sN "$U/api/runs/s1/events" >"$OUT/s1b.sse"
steps=$(grep -A1 '^event: step$' "$OUT/s1b.sse" | sed -n 's/^data: .*"step":\([0-9]*\).*/\1/p' | tr '\n' ' ')
expect_eq "$steps" "$(seq -s ' ' 1 $((K + 3))) " "history then the resumed steps, each once"
expect_grep -F "\"event\":\"train_start\",\"time\"" "$OUT/s1b.sse"
expect_grep -F "resumed from" "$OUT/s1b.sse"
expect_grep -F '"event":"end","state":"finished"' "$OUT/s1b.sse"
expect_eq "$(wc -l <"$ROOT/output/s1/training_log.jsonl")" $((K + 3)) "the log has every step once"

# ---- output_dir outside the root is refused ----
mkdir -p "$ROOT/config/o1"
node -e 'const fs=require("fs");const c=JSON.parse(fs.readFileSync(process.argv[1]));c.output_dir=process.argv[3];fs.writeFileSync(process.argv[2],JSON.stringify(c))' "$ROOT/config/t1/config.json" "$ROOT/config/o1/config.json" "$ST_DIR/outside"
expect_status 422 POST /api/runs/o1/start
expect_grep -F 'not inside the served folder' "$OUT/body"
expect_no_path "$ST_DIR/outside"

# ---- edits: the same PNG as validate ----
ref=$SIMPLETUNER_TINY_DIR/data/tiny.qwen_image.edit-v2-lora/reference_a/pair_0001.png
expect_status 201 POST /api/uploads --data-binary @"$ref"
up=$(json 'j.id')
expect_eq "$(json 'j.width+"x"+j.height')" 128x128 "the upload decoded"
expect_status 200 GET "/api/uploads/$up"
expect_same_file "$OUT/body" "$ref" "the upload stored as sent"
lp=output/t1/checkpoint-3/pytorch_lora_weights.safetensors
cat >"$OUT/edit.json" <<EOF
{"config": "t1", "references": ["$up"], "prompt": "paint the square red", "lora": "$lp", "lora_scale": 0.75,
 "seed": 11, "steps": 3, "guidance": 3.5, "resolution": "64x48", "negative_prompt": "blurry", "preview": true}
EOF
expect_status 202 POST /api/edits --data-binary @"$OUT/edit.json"
eid=$(json 'j.id')
timeout 300 curl -sN "$U/api/edits/$eid/events" >"$OUT/edit.sse"
expect_eq "$(grep -c '^event: sampling_step$' "$OUT/edit.sse")" 3 "a progress event per sampling step"
expect_eq "$(grep -c '^event: preview$' "$OUT/edit.sse")" 3 "a preview per step (validation_preview)"
expect_grep -F '"state":"finished"' "$OUT/edit.sse"
expect_status 200 GET "/api/edits/$eid"
expect_eq "$(json 'j.result')" "/api/edits/$eid/files/result.png" "the result link"
curl -s -D "$OUT/headers" -o "$OUT/edit.png" "$U/api/edits/$eid/files/result.png?download=1"
expect_grep -i -F "content-disposition: attachment; filename=\"edit-$eid.png\"" "$OUT/headers"
expect_status 200 GET "/api/edits/$eid/files/result.preview.step-01.png"
cd "$ROOT"
expect_ok "$B" validate --config config/t1/config.json --image "$ref" --prompt "paint the square red" \
    --lora "$lp" --lora_scale 0.75 --seed 11 --negative_prompt blurry validation_num_inference_steps=3 \
    validation_guidance=3.5 validation_guidance_real=3.5 validation_resolution=64x48 --output "$OUT/validate.png" \
    --events "$OUT/validate.events"
cd "$HERE"
expect_same_file "$OUT/edit.png" "$OUT/validate.png" "the edit equals validate's PNG byte for byte"
expect_eq "$(grep -c '"event":"sampling_step"' "$OUT/validate.events")" 3 "validate --events"
# a different scale gives a different image (the comparison can fail)
sed 's/"lora_scale": 0.75/"lora_scale": 0/' "$OUT/edit.json" >"$OUT/edit0.json"
expect_status 202 POST /api/edits --data-binary @"$OUT/edit0.json"
eid0=$(json 'j.id')
timeout 300 curl -sN "$U/api/edits/$eid0/events" >/dev/null
expect_status 200 GET "/api/edits/$eid0/files/result.png"
expect_diff_file "$OUT/body" "$OUT/edit.png" "LoRA scale 0 renders the base model"
# another model folder inside the root (here a copy of the same tiny model: the same image)
mkdir -p "$ROOT/models"
cp -r "$SIMPLETUNER_TINY_DIR/models/qwenimage_edit" "$ROOT/models/q"
sed 's|"config": "t1",|"config": "t1", "model": "models/q",|' "$OUT/edit.json" >"$OUT/edit_model.json"
expect_status 202 POST /api/edits --data-binary @"$OUT/edit_model.json"
emodel=$(json 'j.id')
timeout 300 curl -sN "$U/api/edits/$emodel/events" >/dev/null
expect_status 200 GET "/api/edits/$emodel/files/result.png"
expect_same_file "$OUT/body" "$OUT/edit.png" "the model folder given by the edit"
expect_grep -F "pretrained_model_name_or_path=$ROOT/models/q" "$ROOT/.webui/edits/$emodel-"*/command.txt
# one edit at a time: a second request while one renders is refused
sed 's/"steps": 3/"steps": 40/; s/"preview": true/"preview": false/' "$OUT/edit.json" >"$OUT/edit_long.json"
expect_status 202 POST /api/edits --data-binary @"$OUT/edit_long.json"
cp "$OUT/body" "$OUT/first.json"
expect_status 409 POST /api/edits --data-binary @"$OUT/edit.json"
expect_grep -F "an edit is being rendered (" "$OUT/body"
cp "$OUT/first.json" "$OUT/body"
elong=$(json 'j.id')
timeout 300 curl -sN "$U/api/edits/$elong/events" >/dev/null
# bad edit requests
expect_status 400 POST /api/edits -d '{"config":"t1","references":["'"$up"'"]}'
expect_status 400 POST /api/edits -d '{"config":"t1","prompt":"x","references":["../../config/t1/config.json"]}'
expect_status 400 POST /api/edits -d '{"config":"t1","prompt":"x","references":["'"$up"'"],"lora":"../../etc/passwd"}'
expect_status 400 POST /api/edits -d '{"config":"t1","prompt":"x","references":["'"$up"'"],"lora":"/etc/passwd"}'
expect_status 400 POST /api/edits -d '{"config":"t1","prompt":"x","references":["'"$up"'"],"model":"/etc"}'
expect_status 400 POST /api/edits -d '{"config":"t1","prompt":"x","references":["'"$up"'"],"steps":0}'
expect_status 400 POST /api/edits -d '{"config":"t1","prompt":"x","references":["'"$up"'"],"resolution":"65x64"}'
expect_status 404 GET /api/edits/999
expect_status 404 GET "/api/edits/$eid/files/events.jsonl"

# ---- uploads: type by content, decoded, size-limited ----
printf 'not an image at all' >"$OUT/x.png"
expect_status 415 POST /api/uploads --data-binary @"$OUT/x.png"
head -c 300 "$ref" >"$OUT/trunc.png"
expect_status 422 POST /api/uploads --data-binary @"$OUT/trunc.png"
expect_grep -F 'upload' "$OUT/body"
expect_status 400 POST /api/uploads
head -c $((2 * 1024 * 1024)) /dev/zero >"$OUT/big.json"
expect_status 413 POST /api/configs --data-binary @"$OUT/big.json"

# ---- nothing outside the root ----
mkdir -p "$ST_DIR/secret"
echo 'top secret' >"$ST_DIR/secret/s.txt"
ln -s "$ST_DIR/secret/s.txt" "$ROOT/output/t1/link.txt"
ln -s "$ST_DIR/secret" "$ROOT/output/t1/linkdir"
for p in "/api/runs/t1/files/../../config/t1/config.json" "/api/runs/t1/files/..%2f..%2f..%2fsecret/s.txt" \
         "/api/runs/t1/files/%2e%2e/%2e%2e/%2e%2e/secret/s.txt" "/api/runs/t1/files/%252e%252e/%252e%252e/secret/s.txt" \
         "/api/runs/t1/files//etc/passwd" "/api/runs/t1/files/link.txt" "/api/runs/t1/files/linkdir/s.txt" \
         "/api/runs/..%2f..%2fsecret/files/s.txt" "/api/configs/..%2f..%2fsecret" "/api/uploads/..%2f..%2fconfig%2ft1%2fconfig.json" \
         "/api/runs/t1/files/validation%00.png" "/api/runs/t1/files/%zz" "/api/thumbs/-1" "/../../../../etc/passwd" "/%2e%2e/%2e%2e/etc/passwd"; do
    code=$(req GET "$p")
    case "$code" in 4??) ;; *) cat "$OUT/body" >&2; fail "$p: status $code, expected 4xx" ;; esac
    expect_no_grep -F 'top secret' "$OUT/body"
    expect_no_grep -F 'root:' "$OUT/body"
done
expect_status 400 GET "/api/runs/t1/files/validation%00.png"
expect_status 400 GET "/api/runs/t1/files/%zz"

# the server survived all of it
expect_status 200 GET /api/info
stop_server

# ---- a restarted server lists the earlier runs ----
# (without SIMPLETUNER_TINY_DIR in its environment: the tiny configurations still load)
SAVED_TINY=$SIMPLETUNER_TINY_DIR
unset SIMPLETUNER_TINY_DIR
XDG_CACHE_HOME=$ST_DIR/xdg start_server --max-upload-mb 1
export SIMPLETUNER_TINY_DIR=$SAVED_TINY
expect_status 200 GET /api/configs/t1
expect_eq "$(json 'j.load_error === undefined')" true "a tiny configuration loads after a restart"
expect_status 200 GET /api/runs
expect_eq "$(json 'j.find(r=>r.name==="t1").steps_logged+":"+j.find(r=>r.name==="t1").state')" 6:idle "t1 from its output_dir"
expect_eq "$(json 'j.find(r=>r.name==="s1").last_step')" $((K + 3)) "s1 from its output_dir"
timeout 60 curl -sN "$U/api/runs/t1/events" >"$OUT/t1b.sse"
steps=$(grep -A1 '^event: step$' "$OUT/t1b.sse" | sed -n 's/^data: .*"step":\([0-9]*\).*/\1/p' | tr '\n' ' ')
expect_eq "$steps" "1 2 3 4 5 6 " "the history replayed once"
expect_grep -F '"state":"idle"' "$OUT/t1b.sse"
head -c $((1024 * 1024 + 10)) /dev/zero >"$OUT/big.bin"
expect_status 413 POST /api/uploads --data-binary @"$OUT/big.bin"
stop_server

# ---- the token ----
TOKEN=s3cret-token start_server --token s3cret-token
expect_status 401 GET /api/info
expect_status 303 GET /
expect_status 200 GET /login
expect_grep -F 'name="token"' "$OUT/body"
expect_status 200 GET /api/info -H 'X-ST-Token: s3cret-token'
expect_status 401 GET /api/info -H 'X-ST-Token: wrong-token!'
expect_status 401 GET '/login?token=wrong'
curl -s -D "$OUT/headers" -o /dev/null "$U/login?token=s3cret-token"
expect_grep -i 'set-cookie: st_token=s3cret-token; Path=/; SameSite=Strict' "$OUT/headers"
expect_status 200 GET /api/info -b 'st_token=s3cret-token'
expect_status 200 GET / -b 'st_token=s3cret-token'
# a cookie alone cannot change anything (a foreign page could make the browser send it)
TOKEN=- expect_status 403 POST /api/configs -d '{"name":"t5","preset":"tiny.qwen_image.edit-v2-lora"}' -b 'st_token=s3cret-token'
TOKEN=wrong-token expect_status 401 POST /api/configs -d '{"name":"t5","preset":"tiny.qwen_image.edit-v2-lora"}'
TOKEN=s3cret-token expect_status 201 POST /api/configs -d '{"name":"t5","preset":"tiny.qwen_image.edit-v2-lora"}'
expect_status 303 POST /login -d 'token=s3cret-token'
expect_status 401 POST /login -d 'token=nope'
expect_status 401 POST /login   # no body at all (the fuzzer's first find)
stop_server
echo "server API ok"
