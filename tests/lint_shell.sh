#!/usr/bin/env bash
# lint_shell.sh FILE... — rejects assertions that cannot fail in the shell tests (bash, set -e):
#   `! cmd` as a statement            set -e ignores a negated command: it never stops the test
#   `cmd || true` / `cmd || :`        the failure is thrown away
#   `a && b` as a statement           set -e ignores a failing `a` (and everything but the last command
#                                     of an && list), so `test -f x && test -f y` checks nothing
# Allowed: conditions of if/elif/while/until, `a && b || fail ...` (the failure goes somewhere),
# `[[ a && b ]]`, and anything inside quotes, $( ), <( ), >( ), comments and here-documents (awk
# programs, JSON).
# A test file (test_*.sh) must also start with a bash shebang, `set -euo pipefail` and source lib.sh.
# Prints FILE:LINE: problem: text for each finding; exit 1 when there is one.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: tests/lint_shell.sh FILE..." >&2; exit 2; }
status=0
for f in "$@"; do
    case "$(basename "$f")" in
    test_*.sh)
        if [ "$(head -n 1 "$f")" != "#!/usr/bin/env bash" ] && [ "$(head -n 1 "$f")" != "#!/bin/bash" ]; then
            echo "$f:1: not a bash script (first line: $(head -n 1 "$f"))"; status=1
        fi
        grep -qx 'set -euo pipefail' "$f" || { echo "$f: no 'set -euo pipefail' line"; status=1; }
        grep -qF '. "$(dirname "$0")/lib.sh"' "$f" || { echo "$f: does not source lib.sh"; status=1; }
        ;;
    esac
    awk -v file="$f" '
    # Replaces quoted text by Q and drops comments, tracking quotes across lines; returns the code.
    function code_of(line,    out, i, c, n) {
        out = ""; n = length(line)
        for (i = 1; i <= n; i++) {
            c = substr(line, i, 1)
            if (in_sq) { if (c == "\047") { in_sq = 0; out = out "Q" } continue }
            if (in_dq) {
                if (c == "\\") { i++; continue }
                if (c == "\"") { in_dq = 0; out = out "Q" }
                continue
            }
            if (in_sub) {   # inside $( ), <( ), >( ): a subshell whose status is not a statement of the test
                if (c == "(") in_sub++
                else if (c == ")" && --in_sub == 0) out = out "S"
                continue
            }
            if (c == "\\") { out = out substr(line, i, 2); i++; continue }
            if ((c == "$" || c == "<" || c == ">") && substr(line, i + 1, 1) == "(") { in_sub = 1; i++; continue }
            if (c == "\047") { in_sq = 1; continue }
            if (c == "\"") { in_dq = 1; continue }
            if (c == "#" && (i == 1 || substr(line, i - 1, 1) ~ /[ \t;(]/)) break
            out = out c
        }
        return out
    }
    function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
    function report(what) { printf "%s:%d: %s: %s\n", file, start, what, trim(text); bad = 1 }
    function check(code,    segs, n, k, s, last_and, kw) {
        gsub(/\[\[[^]]*\]\]/, "[[ ]]", code)          # [[ a && b ]] is one test
        n = split(code, segs, /;|\n/)
        for (k = 1; k <= n; k++) {
            s = trim(segs[k])
            while (s ~ /^(then|do|else|\{|\()([ \t]|$)/) { sub(/^(then|do|else|\{|\()[ \t]*/, "", s) }
            if (s ~ /^(if|elif|while|until)[ \t]/) continue
            if (s ~ /^![ \t]/) report("a negated command as a statement cannot fail the test")
            if (s ~ /\|\|[ \t]*(true|:)[ \t]*(\)|\})?[ \t]*$/) report("`|| true` throws the failure away")
            last_and = 0
            while ((kw = index(substr(s, last_and + 1), "&&")) > 0) last_and += kw + 1
            if (last_and > 0 && index(substr(s, last_and + 1), "||") == 0)
                report("an && list as a statement: a failing first command does not fail the test")
        }
    }
    {
        if (heredoc != "") {
            line = $0
            if (heredoc_dash) sub(/^\t+/, "", line)
            if (line == heredoc) heredoc = ""
            next
        }
        if (acc == "") { start = NR; text = ""; raw = "" }
        text = text (text == "" ? "" : " ") $0
        raw = raw "\n" $0
        c = code_of($0)
        acc = acc (acc == "" ? "" : "\n") c
        if (in_sq || in_dq || in_sub || c ~ /\\$/) { sub(/\\$/, "", acc); next }
        # a here-document starts after this line: remember its end word
        if (acc ~ /<</ && match(raw, /<<-?[ \t]*[\047"]?[A-Za-z_][A-Za-z_0-9]*/)) {
            w = substr(raw, RSTART, RLENGTH)
            heredoc_dash = (w ~ /^<<-/)
            sub(/^<<-?[ \t]*[\047"]?/, "", w)
            heredoc = w
        }
        check(acc)
        acc = ""
    }
    END { exit bad }
    ' "$f" || status=1
done
exit $status
