#!/usr/bin/env bash
# tokenize command: ids per text, --json, --input, --decode (round trip), and its errors.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
T=tests/data/qwen_tokenizer
st_workdir
d=$ST_DIR
out=$("$BIN" tokenize --tokenizer $T "Hello world" "<|im_end|>
<|im_start|>assistant
")
expect_eq "$out" "9707 1879
151645 198 151644 77091 198" "ids"
expect_eq "$("$BIN" tokenize --tokenizer $T --json "你好，世界" "café")" "[[108386,3837,99489],
[924,58858]]" "--json"
printf '["a\\n\\nb", "x"]' > "$d/in.json"
expect_eq "$("$BIN" tokenize --tokenizer $T --json --input "$d/in.json")" "[[64,271,65],
[87]]" "--input"
expect_eq "$("$BIN" tokenize --tokenizer $T --decode "[151644, 872, 198, 9707, 1879, 151645]")" "<|im_start|>user
Hello world<|im_end|>" "--decode"
expect_eq "$("$BIN" tokenize --tokenizer $T --skip-special --decode "151644 9707 1879")" "Hello world" "--skip-special"
expect_eq "$("$BIN" tokenize --tokenizer $T --json --decode "9707,1879")" '["Hello world"]' "--json --decode"
expect_fail -c 2 "$BIN" tokenize --tokenizer $T --decode "12 x"
expect_grep -F 'is not a list of ids'
expect_fail -c 2 "$BIN" tokenize "hi"
expect_grep -F '--tokenizer DIR is required'
expect_fail -c 1 "$BIN" tokenize --tokenizer "$d" "hi"
expect_grep -F 'no tokenizer.json or vocab.json'
echo ok
