#!/usr/bin/env bash
# make-dataset: layout, determinism, and usage errors.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
st_workdir
d=$ST_DIR
expect_ok "$BIN" make-dataset --kind edit-pairs --out "$d/one" --count 3 --size 64x48
expect_file "$d/one/images/pair_0002.png" "$d/one/images/pair_0002.txt" "$d/one/reference/pair_0002.png"
check test -s "$d/one/images/pair_0000.txt" -- "the caption file is empty"
expect_ok "$BIN" make-dataset --kind edit-pairs --out "$d/three" --count 2 --references 3 --size 64x64
for r in a b c; do expect_file "$d/three/reference_$r/pair_0001.png"; done
expect_grep -F "Picture 2" "$d/three/images/pair_0000.txt"
expect_ok "$BIN" make-dataset --kind edit-pairs --out "$d/again" --count 3 --size 64x48
expect_same_file "$d/one/images/pair_0001.png" "$d/again/images/pair_0001.png" "same arguments, same image"
expect_same_file "$d/one/images/pair_0001.txt" "$d/again/images/pair_0001.txt" "same arguments, same caption"
expect_fail -c 2 "$BIN" make-dataset --kind edit-pairs --out "$d/x" --count 2 --references 4
expect_grep -F "references expects an integer in [1, 3]"
expect_fail -c 2 "$BIN" make-dataset --kind edit-pairs --out "$d/x" --count 2 --size 50x50
expect_grep -F "multiples of 16"
echo ok
