#!/usr/bin/env bash
# The shell tests cannot hold assertions that never fail: tests/lint_shell.sh finds none in
# tests/sh/*.sh, and it does find each weak form (a negated statement, `|| true`, an && list as a
# statement, a test file that is not bash with set -euo pipefail and lib.sh) while it leaves the
# legitimate ones alone (if/while conditions, `a && b || fail`, [[ && ]], quoted awk, $( && )).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
st_workdir
d=$ST_DIR
run_log "$d/lint.log" bash tests/lint_shell.sh tests/sh/*.sh
head='#!/usr/bin/env bash
set -euo pipefail
. "$(dirname "$0")/lib.sh"'
bad() { # name line expected-problem
    printf '%s\n%s\n' "$head" "$2" > "$d/test_$1.sh"
    expect_fail -c 1 bash tests/lint_shell.sh "$d/test_$1.sh"
    expect_grep -F "test_$1.sh:4: $3"
}
bad negation '! cmp -s a b' "a negated command as a statement"
bad negation_indented '    ! grep -q x y' "a negated command as a statement"
bad or_true 'grep -q x y || true' '`|| true` throws'
bad or_colon 'grep -q x y || :' '`|| true` throws'
bad and_list 'test -f a && test -f b' "an && list as a statement"
bad and_then_block 'grep -q x y && { echo found; exit 1; }' "an && list as a statement"
bad and_after_then 'if true; then test -f a && test -f b; fi' "an && list as a statement"
bad and_continued 'test -f a && \
    test -f b' "an && list as a statement"
printf '#!/bin/sh\nset -e\ntrue\n' > "$d/test_old.sh"
expect_fail -c 1 bash tests/lint_shell.sh "$d/test_old.sh"
expect_grep -F "not a bash script"
expect_grep -F "no 'set -euo pipefail' line"
expect_grep -F "does not source lib.sh"
cat > "$d/test_good.sh" <<'GOOD'
#!/usr/bin/env bash
set -euo pipefail
. "$(dirname "$0")/lib.sh"
if [ -f a ] && [ -f b ]; then echo both; fi
while [ -n "${x:-}" ] && false; do :; done
test -f a && test -f b || fail "a and b"
[ "$(cd / && pwd)" = / ] || fail "cd"
while read -r l; do echo "$l"; done < <(grep -v x /dev/null || true)
[[ -f a && -f b ]] || true_is_text_here=1
awk '$1 > 0 && $2 < 1 { n++ } END { exit !n }' /dev/null || fail "awk"
echo "! not a statement && not a list || true"
# ! a comment && with OR_TRUE
cat > x.json <<JSON
BANG not code && here OR_TRUE
JSON
grep -q x x.json || { cat x.json; fail "x"; }
GOOD
# (the comment and heredoc lines get their `!` and `|| true` here: no line of this file is such a statement)
sed -i -e 's/OR_TRUE/|| true/' -e 's/^BANG/!/' "$d/test_good.sh"
expect_grep -F "! not code && here || true" "$d/test_good.sh"
run_log "$d/good.log" bash tests/lint_shell.sh "$d/test_good.sh"
echo ok
