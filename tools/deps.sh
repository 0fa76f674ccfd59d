#!/bin/sh
# Installs the Debian packages given as arguments when they are missing (dpkg-query), running
# apt-get update first. An argument PACKAGE=COMMAND is satisfied by the package or by COMMAND on the
# PATH (node and npm may come from another build of Node.js, awk from gawk). Without root it prints
# the exact command and fails.
missing=""
for arg in "$@"; do
    p=${arg%%=*}
    case "$arg" in *=*) command -v "${arg#*=}" >/dev/null 2>&1 && continue ;; esac
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
    case "$status" in *"install ok installed"*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0
echo "deps: missing Debian packages:$missing"
cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo sh -c "$cmd" || exit 1
        exit 0
    fi
    echo "deps: not root; run this and retry:" >&2
    echo "  sudo sh -c '$cmd'" >&2
    exit 1
fi
sh -c "$cmd" || { echo "deps: apt-get failed" >&2; exit 1; }
