#!/bin/sh
# make-dataset: layout, determinism, and usage errors.
set -e
BIN=${BIN:-build/simpletuner}
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
"$BIN" make-dataset --kind edit-pairs --out "$d/one" --count 3 --size 64x48
test -f "$d/one/images/pair_0002.png" && test -f "$d/one/images/pair_0002.txt" && test -f "$d/one/reference/pair_0002.png"
test -s "$d/one/images/pair_0000.txt"
"$BIN" make-dataset --kind edit-pairs --out "$d/three" --count 2 --references 3 --size 64x64
for r in a b c; do test -f "$d/three/reference_$r/pair_0001.png"; done
grep -q "Picture 2" "$d/three/images/pair_0000.txt"
"$BIN" make-dataset --kind edit-pairs --out "$d/again" --count 3 --size 64x48
cmp "$d/one/images/pair_0001.png" "$d/again/images/pair_0001.png"
cmp "$d/one/images/pair_0001.txt" "$d/again/images/pair_0001.txt"
set +e
"$BIN" make-dataset --kind edit-pairs --out "$d/x" --count 2 --references 4 2>"$d/err"; rc=$?
set -e
test $rc = 2 && grep -q "references expects an integer in \[1, 3\]" "$d/err"
set +e
"$BIN" make-dataset --kind edit-pairs --out "$d/x" --count 2 --size 50x50 2>"$d/err"; rc=$?
set -e
test $rc = 2 && grep -q "multiples of 16" "$d/err"
echo ok
