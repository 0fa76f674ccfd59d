#!/usr/bin/env bash
# examples list / copy: presets listed, copy rewrites the preset's own paths and loads, errors named.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
export SIMPLETUNER_EXAMPLES_DIR=$(pwd)/examples
st_workdir
d=$ST_DIR
run_log "$d/list" "$BIN" examples list
for p in qwen_image.edit-v1-lora qwen_image.edit-v2-lora longcat_image.edit-lora; do expect_grep "^  $p " "$d/list"; done
cd "$d"
expect_ok "$BIN" examples copy longcat_image.edit-lora
expect_grep -F '"data_backend_config": "config/longcat_image.edit-lora/multidatabackend.json"' config/longcat_image.edit-lora/config.json
run_log show.txt "$BIN" config show --config config/longcat_image.edit-lora/config.json
expect_grep -F "ref-images" show.txt
expect_fail -c 1 "$BIN" examples copy longcat_image.edit-lora
expect_grep -F "already exists; not overwriting"
expect_fail -c 2 "$BIN" examples copy no.such.preset
expect_grep -F "no preset named 'no.such.preset'"
echo ok
