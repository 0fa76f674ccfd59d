#!/bin/sh
# examples list / copy: presets listed, copy rewrites the preset's own paths and loads, errors named.
set -e
BIN=$(cd "$(dirname "${BIN:-build/simpletuner}")" && pwd)/$(basename "${BIN:-build/simpletuner}")
export SIMPLETUNER_EXAMPLES_DIR=$(pwd)/examples
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
"$BIN" examples list > "$d/list"
for p in qwen_image.edit-v1-lora qwen_image.edit-v2-lora longcat_image.edit-lora; do grep -q "^  $p " "$d/list"; done
cd "$d"
"$BIN" examples copy longcat_image.edit-lora > /dev/null
grep -q '"data_backend_config": "config/longcat_image.edit-lora/multidatabackend.json"' config/longcat_image.edit-lora/config.json
"$BIN" config show --config config/longcat_image.edit-lora/config.json > show.txt 2>&1
grep -q "ref-images" show.txt
set +e
"$BIN" examples copy longcat_image.edit-lora > /dev/null 2> err; rc=$?
test $rc = 1 && grep -q "already exists; not overwriting" err || exit 1
"$BIN" examples copy no.such.preset 2> err; rc=$?
set -e
test $rc = 2 && grep -q "no preset named 'no.such.preset'" err
echo ok
