#!/usr/bin/env bash
# The layering of src/ (docs/ARCHITECTURE.md): a file includes only headers of its own layer or of
# layers below it, and no two modules (a .c/.h pair) include each other, directly or in a cycle
# (a folder's *_internal.h, shared by the files of one concern, is not a module of its own).
#   base < config < tensor < kernels < image < models < data < train < pipeline < server, cli < main.c
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.."

rank() {
    case $1 in
        base/*) echo 0 ;; config/*) echo 1 ;; tensor/*) echo 2 ;; kernels/*) echo 3 ;; image/*) echo 4 ;;
        models/*) echo 5 ;; data/*) echo 6 ;; train/*) echo 7 ;; pipeline/*) echo 8 ;;
        server/*|cli/*) echo 9 ;; main.c) echo 10 ;; *) echo -1 ;;
    esac
}

bad=0
edges=$(mktemp); trap 'rm -f "$edges"' EXIT
while IFS= read -r f; do
    rel=${f#src/}
    r=$(rank "$rel")
    if [ "$r" = -1 ]; then echo "src/$rel: not in a known layer folder"; bad=1; continue; fi
    while IFS= read -r inc; do
        ri=$(rank "$inc")
        if [ "$ri" = -1 ]; then echo "src/$rel includes \"$inc\": not in a known layer folder"; bad=1; continue; fi
        if [ "$ri" -gt "$r" ]; then echo "src/$rel includes \"$inc\": upward (layer $ri above $r)"; bad=1; fi
        # the server and the CLI are peers: neither includes the other, except that the `server`
        # command (cli/server_cmd.c) starts the server through its one public header
        if [ "$r" = 9 ] && [ "${rel%%/*}" != "${inc%%/*}" ] && [ "$ri" = 9 ]; then
            case "$rel>$inc" in
                "cli/server_cmd.c>server/server.h") ;;
                *) echo "src/$rel includes \"$inc\": cli and server are peers"; bad=1 ;;
            esac
        fi
        # a folder's private header (*_internal.h) is part of the modules that share it
        a=${rel%.*}; b=${inc%.*}
        case "$b" in *_internal) continue ;; esac
        if [ "$a" != "$b" ]; then echo "$a $b" >> "$edges"; fi
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f" | sed '/\.inc$/d')
done < <(find src -name '*.[ch]' | sort)

if ! tsort "$edges" > /dev/null 2> "$edges.err"; then
    echo "include cycle between modules:"; grep -v 'input contains a loop' "$edges.err" | sed 's/^tsort: /  /'
    bad=1
fi
rm -f "$edges.err"
check test "$bad" = 0 -- "layering violations above"
echo "layers ok: $(find src -name '*.[ch]' | wc -l) files"
