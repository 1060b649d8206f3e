#!/bin/sh
# Runs litmus (the WebDAV conformance suite, Debian package `litmus`) against a fresh server
# on a fresh folder, prints each suite's summary line, and fails when any test of the five
# suites fails (litmus itself exits 0 even then).
#
#   tests/dav/run.sh            # builds target/debug/http-server first
#   SERVER=path/to/http-server tests/dav/run.sh
#
# Run by .ci/run.
set -eu

CLAIMED="basic copymove props locks http"
here=$(cd "$(dirname "$0")/../.." && pwd)

if ! command -v litmus >/dev/null 2>&1; then
    echo "litmus is missing: installing it from Debian" >&2
    if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq litmus >/dev/null
fi

if [ -z "${SERVER:-}" ]; then
    (cd "$here" && cargo build --quiet)
    SERVER="$here/target/debug/http-server"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/dav-litmus.XXXXXX")
pid=
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

mkdir -p "$work/files/litmus"
# Made before the server starts: its redirection may not have run when the loop first reads.
: >"$work/server.log"
"$SERVER" --directory "$work/files" --port 0 --quiet 2>"$work/server.log" &
pid=$!

port=
for _ in $(seq 1 100); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/server.log")
    [ -n "$port" ] && break
    sleep 0.05
done
if [ -z "$port" ]; then
    echo "the server did not start:" >&2
    cat "$work/server.log" >&2
    exit 1
fi

# litmus wants a collection URL; it works inside it.
status=0
(cd "$work" && litmus -k "http://127.0.0.1:$port/files/litmus/") >"$work/litmus.out" 2>&1 || status=$?

grep -E '^<- summary|^-> [0-9]+ (warning|test)' "$work/litmus.out" || true

failed=0
for suite in $CLAIMED; do
    line=$(grep "^<- summary for \`$suite'" "$work/litmus.out" || true)
    if [ -z "$line" ]; then
        echo "suite $suite did not run" >&2
        failed=1
        continue
    fi
    case "$line" in
        *" 0 failed"*) ;;
        *) failed=1 ;;
    esac
done
if [ "$failed" != 0 ]; then
    echo "litmus: failures in the claimed suites ($CLAIMED); full output:" >&2
    cat "$work/litmus.out" >&2
    exit 1
fi
echo "litmus: all tests of $CLAIMED passed (litmus exit status $status)"
