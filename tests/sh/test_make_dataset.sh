#!/usr/bin/env bash
# make-dataset: layout, determinism, the edit vocabulary (--edits) and usage errors.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
st_workdir
d=$ST_DIR

expect_ok "$BIN" make-dataset --kind edit-pairs --out "$d/one" --count 3 --size 64x48
check test -f "$d/one/images/pair_0002.png" -- "edit image written"
check test -f "$d/one/images/pair_0002.txt" -- "instruction written"
check test -f "$d/one/reference/pair_0002.png" -- "reference written"
check test -s "$d/one/images/pair_0000.txt" -- "instruction not empty"
expect_ok "$BIN" make-dataset --kind edit-pairs --out "$d/three" --count 2 --references 3 --size 64x64
for r in a b c; do check test -f "$d/three/reference_$r/pair_0001.png" -- "reference_$r written"; done
expect_grep -F "Picture 2" "$d/three/images/pair_0000.txt"

# the same seed writes the same bytes; another seed other pairs
expect_ok "$BIN" make-dataset --kind edit-pairs --out "$d/again" --count 3 --size 64x48
expect_same_file "$d/one/images/pair_0001.png" "$d/again/images/pair_0001.png"
expect_same_file "$d/one/images/pair_0001.txt" "$d/again/images/pair_0001.txt"
expect_ok "$BIN" make-dataset --kind edit-pairs --out "$d/other" --count 3 --size 64x48 --seed 7
expect_diff_file "$d/one/reference/pair_0001.png" "$d/other/reference/pair_0001.png"

# the default vocabulary: six kinds in varied words, never the two held-out edits
expect_ok "$BIN" make-dataset --kind edit-pairs --out "$d/vocab" --count 60 --size 32x32
cat "$d/vocab/images/"*.txt >"$d/vocab.txt"
expect_grep "background" "$d/vocab.txt"
expect_grep "(bigger|larger|enlarge|smaller|shrink|scale|size)" "$d/vocab.txt"
expect_grep "(remove|delete|erase|take away|get rid)" "$d/vocab.txt"
expect_no_grep "(mirror|flip|stripe)" "$d/vocab.txt"
distinct=$(cut -d' ' -f1 "$d/vocab.txt" | sort -u | wc -l)
check test "$distinct" -ge 10 -- "instructions start with at least 10 different verbs (got $distinct)"

# the held-out edits on request: mirror pairs are the source flipped
expect_ok "$BIN" make-dataset --kind edit-pairs --out "$d/mirror" --count 4 --size 32x32 --edits mirror
cat "$d/mirror/images/"*.txt >"$d/mirror.txt"
expect_grep "(mirror|flip)" "$d/mirror.txt"
expect_ok "$BIN" make-dataset --kind edit-pairs --out "$d/stripes" --count 4 --size 32x32 --edits stripes
cat "$d/stripes/images/"*.txt >"$d/stripes.txt"
expect_grep "stripe" "$d/stripes.txt"

expect_fail -c 2 "$BIN" make-dataset --kind edit-pairs --out "$d/x" --count 2 --references 4
expect_grep -F "references expects an integer in [1, 3]"
expect_fail -c 2 "$BIN" make-dataset --kind edit-pairs --out "$d/x" --count 2 --size 50x50
expect_grep "multiples of 16"
expect_fail -c 2 "$BIN" make-dataset --kind edit-pairs --out "$d/x" --count 2 --edits recolor,flip
expect_grep "unknown edit 'flip'"
expect_fail -c 2 "$BIN" make-dataset --kind edit-pairs --out "$d/x" --count 2 --references 3 --edits recolor
expect_grep "goes with --edits compose"
expect_fail -c 2 "$BIN" make-dataset --kind edit-pairs --out "$d/x" --count 2 --edits compose
expect_grep "needs --references 2 or 3"
echo ok
