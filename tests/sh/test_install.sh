#!/usr/bin/env bash
# make install into a DESTDIR: the binary, the presets where the installed binary finds them, the docs;
# the installed binary lists and loads the presets from any folder; make uninstall removes them.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
REPO=$(pwd)
st_workdir
ROOT=$ST_DIR/root
run_log "$ST_DIR/install.log" make --no-print-directory -s -C "$REPO" install DESTDIR="$ROOT" PREFIX=/usr INSTALL_BIN="$BIN"
expect_file "$ROOT/usr/bin/simpletuner" "$ROOT/usr/share/doc/simpletuner/README.md" "$ROOT/usr/share/doc/simpletuner/ARCHITECTURE.md"
expect_file "$ROOT/usr/share/simpletuner/examples/tiny.qwen_image.edit-v2-lora/config.json"
expect_file "$ROOT/usr/share/simpletuner/examples/qwen_image.edit-v2-lora/multidatabackend.json"
check test -x "$ROOT/usr/bin/simpletuner" -- "the installed binary is executable"
# from another folder, with nothing pointing at the source tree
mkdir "$ST_DIR/elsewhere"
cd "$ST_DIR/elsewhere"
unset SIMPLETUNER_EXAMPLES_DIR
export SIMPLETUNER_TINY_DIR=$ST_DIR/tiny
run_log list.log "$ROOT/usr/bin/simpletuner" examples list
expect_grep -F "presets in $ROOT/usr/share/simpletuner/examples" list.log
expect_grep "tiny\.qwen_image\.edit-v2-lora +qwen_image / edit-v2" list.log
expect_grep "^  qwen_image\.edit-v2-lora" list.log
# a preset loads through the installed binary (its dataset file resolved in the installed folder)
run_log show.log "$ROOT/usr/bin/simpletuner" config show example=tiny.qwen_image.edit-v2-lora
expect_grep -F "# datasets from $ROOT/usr/share/simpletuner/examples/tiny.qwen_image.edit-v2-lora/multidatabackend.json" show.log
run_log copy.log "$ROOT/usr/bin/simpletuner" examples copy qwen_image.edit-v2-lora
expect_file config/qwen_image.edit-v2-lora/config.json
run_log "$ST_DIR/uninstall.log" make --no-print-directory -s -C "$REPO" uninstall DESTDIR="$ROOT" PREFIX=/usr
expect_no_path "$ROOT/usr/bin/simpletuner" "$ROOT/usr/share/simpletuner" "$ROOT/usr/share/doc/simpletuner"
echo "install ok"
