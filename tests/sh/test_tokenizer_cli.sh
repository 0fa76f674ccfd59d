#!/bin/sh
# tokenize command: ids per text, --json, --input, --decode (round trip), and its errors.
BIN=$(cd "$(dirname "${BIN:-build/simpletuner}")" && pwd)/$(basename "${BIN:-build/simpletuner}")
T=tests/data/qwen_tokenizer
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL: $1"; exit 1; }
out=$("$BIN" tokenize --tokenizer $T "Hello world" "<|im_end|>
<|im_start|>assistant
") || fail "encode"
[ "$out" = "9707 1879
151645 198 151644 77091 198" ] || fail "ids: $out"
[ "$("$BIN" tokenize --tokenizer $T --json "你好，世界" "café")" = "[[108386,3837,99489],
[924,58858]]" ] || fail "--json"
printf '["a\\n\\nb", "x"]' > "$d/in.json"
[ "$("$BIN" tokenize --tokenizer $T --json --input "$d/in.json")" = "[[64,271,65],
[87]]" ] || fail "--input"
[ "$("$BIN" tokenize --tokenizer $T --decode "[151644, 872, 198, 9707, 1879, 151645]")" = "<|im_start|>user
Hello world<|im_end|>" ] || fail "--decode"
[ "$("$BIN" tokenize --tokenizer $T --skip-special --decode "151644 9707 1879")" = "Hello world" ] || fail "--skip-special"
[ "$("$BIN" tokenize --tokenizer $T --json --decode "9707,1879")" = '["Hello world"]' ] || fail "--json --decode"
"$BIN" tokenize --tokenizer $T --decode "12 x" 2>"$d/err"; rc=$?
[ $rc = 2 ] && grep -q 'is not a list of ids' "$d/err" || fail "bad ids (rc $rc)"
"$BIN" tokenize "hi" 2>"$d/err"; rc=$?
[ $rc = 2 ] && grep -q -- '--tokenizer DIR is required' "$d/err" || fail "missing --tokenizer (rc $rc)"
"$BIN" tokenize --tokenizer "$d" "hi" 2>"$d/err"; rc=$?
[ $rc = 1 ] && grep -q 'no tokenizer.json or vocab.json' "$d/err" || fail "empty dir (rc $rc)"
echo ok
