#!/usr/bin/env bash
# Folder downloads (`GET /files/{dir}/?download=zip|tar|tar.gz`) read back by independent
# readers: `unzip -t`, Python's zipfile and tarfile (tests/archive/check.py), `bsdtar -tvf`
# (libarchive), and GNU `tar -xf`/`-xzf` with a `diff -r` against the source folder.
#
# The folder holds names in several scripts (accented Latin, Greek, Cyrillic, CJK, emoji),
# empty files, an empty folder, a nested tree, a compressible and an incompressible file, and
# paths past 100 bytes (pax headers); dot files and a temporary upload file that must be left
# out.
#
# The slow part (ARCHIVE_SLOW=0 skips it; about 90 s on 2 cores): a 5 GiB sparse file (Zip64
# sizes; its tar is piped into bsdtar, never saved) and a folder of 70 000 empty files (Zip64
# entry count). Peak disk use stays small (the 5 GiB zip is ~50 MB): each archive is removed
# once checked.
#
# Installs Debian's unzip, libarchive-tools, python3 and curl when missing; builds the release
# binary; the server listens on 127.0.0.1 only and is killed (by its pid) at the end, and its
# temporary folder removed. Prints one line per check; exits non-zero if any check failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
export LC_ALL=C.UTF-8 # bsdtar and GNU tar print and write the UTF-8 names as they are

missing=()
command -v unzip >/dev/null 2>&1 || missing+=(unzip)
command -v bsdtar >/dev/null 2>&1 || missing+=(libarchive-tools)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v diff >/dev/null 2>&1 || missing+=(diffutils)
if ((${#missing[@]})); then
    echo "archive: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cargo build --release --locked -q
bin="$PWD/target/release/http-server"
check_py="$PWD/tests/archive/check.py"

work=$(mktemp -d "${TMPDIR:-/tmp}/archive-test.XXXXXX")
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

root="$work/root"
mkdir -p "$root"

failures=0
# check NAME COMMAND...: runs COMMAND, prints one line, and its output when it fails.
check() {
    local name=$1
    shift
    local out
    if out=$("$@" 2>&1); then
        printf 'ok    %s%s\n' "$name" "${out:+: $(printf '%s' "$out" | tail -n 1)}"
    else
        printf 'FAIL  %s\n' "$name"
        printf '%s\n' "$out" | head -n 20 | sed 's/^/      | /'
        failures=$((failures + 1))
    fi
}

now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

# --- The folder -----------------------------------------------------------------------------
tree="$root/tree"
mkdir -p "$tree"
cd "$tree"
printf 'Grüße\n' >"Café crème – naïve façade.txt"
printf 'Ελληνικά\n' >"Ελληνικά αρχεία.txt"
printf 'Кириллица\n' >"Кириллица файл.txt"
printf '漢字\n' >"漢字かなカナ 한국어.txt"
printf 'emoji\n' >"emoji 😀🎉👩‍💻.txt"
: >empty.txt
mkdir -p "empty folder" "Ünïcødé dir/Подпапка/子目录" "a/b/c/d/e"
: >"Ünïcødé dir/Подпапка/子目录/empty in nested.bin"
printf 'deep\n' >a/b/c/d/e/deep.txt
printf 'mid\n' >a/b/mid.txt
# Compressible: 2 MiB of text; incompressible: 1 MiB of random bytes.
awk 'BEGIN { for (i = 0; i < 37450; i++) printf "%06d The quick brown fox jumps over the lazy dog.\n", i }' >compressible.txt
head -c $((1024 * 1024)) /dev/urandom >random.bin
# Paths past 100 bytes: a long name in a deep folder, and one name past 100 bytes alone.
long_dir="long/$(printf 'd%.0s' $(seq 60))/$(printf 'é%.0s' $(seq 20))"
mkdir -p "$long_dir"
printf 'long path\n' >"$long_dir/$(printf 'ü%.0s' $(seq 40)).txt"
printf 'long name\n' >"long/$(printf 'n%.0s' $(seq 150)).txt"
# Left out of every archive: dot files and folders (no --show-hidden).
printf 'secret\n' >.hidden
mkdir -p .dotdir
printf 'x\n' >.dotdir/inside.txt
cd - >/dev/null

# --- The server -----------------------------------------------------------------------------
"$bin" --directory "$root" --port 0 --bind 127.0.0.1 --quiet 2>"$work/server.log" &
server_pid=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$work/server.log")
    [ -n "$port" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$port" ]; then
    echo "archive: the server did not start:" >&2
    cat "$work/server.log" >&2
    exit 1
fi
base="http://127.0.0.1:$port"
echo "archive: server pid $server_pid on $base"

# A temporary upload file, made once the server runs (start-up may sweep stale ones).
printf 'partial upload\n' >"$tree/.http-server-upload-0123456789abcdef"

get() { curl -sS --fail --noproxy '*' -o "$2" "$base$1"; }

# The checks below run inside `check` (errexit is off there): each step ends in `|| return 1`.

# unzip_t ZIP: `unzip -t` exits 0 and says "No errors detected".
unzip_t() {
    unzip -t "$1" >"$1.ut" 2>&1 || { tail -n 5 "$1.ut"; return 1; }
    tail -n 1 "$1.ut"
    grep -q '^No errors detected' "$1.ut" || return 1
}

# bsdtar_listed ARCHIVE: `bsdtar -tvf` exits 0 and lists every expected name of $tree.
bsdtar_listed() {
    bsdtar -tvf "$1" >"$1.list" || return 1
    python3 -B "$check_py" listed "$1.list" "$tree" tree || return 1
}

# tar_diff ARCHIVE FLAG DIR: GNU tar extracts into DIR a tree equal to $tree (no dot files).
tar_diff() {
    mkdir -p "$3" || return 1
    tar "$2" "$1" -C "$3" || return 1
    [ -d "$3/tree/empty folder" ] || { echo "no empty folder"; return 1; }
    diff -r -x '.*' "$tree" "$3/tree" || return 1
    if find "$3" -name '.*' | grep .; then echo "dot files extracted"; return 1; fi
    echo "tree equal ($(find "$3/tree" | wc -l) paths)"
}

# stream_list URL LIST: the archive at URL, piped (never saved) into `bsdtar -tvf -` (pipefail
# makes a failed or cut download fail it too).
stream_list() {
    curl -sS --fail --noproxy '*' "$base$1" | bsdtar -tvf - >"$2" || return 1
}

# listed_size LIST NAME SIZE: a line of `bsdtar -tvf`'s LIST names NAME with SIZE.
listed_size() { python3 -B "$check_py" listsize "$@" || return 1; }

# count_lines LIST N: LIST has N lines.
count_lines() {
    local n
    n=$(wc -l <"$1") || return 1
    echo "$n entries"
    [ "$n" -eq "$2" ] || return 1
}

# top_named_files: /files/ as a tar holds everything under "files/".
top_named_files() {
    curl -sS --fail --noproxy '*' "$base/files/?download=tar" | bsdtar -tf - >"$work/top.list" || return 1
    grep -qx 'files/tree/compressible.txt' "$work/top.list" || { echo "files/tree/compressible.txt not listed"; return 1; }
    if grep -v '^files/' "$work/top.list"; then return 1; fi
    echo "$(wc -l <"$work/top.list") entries, all under files/"
}

# --- zip ------------------------------------------------------------------------------------
a="$work/tree.zip"
check "zip: download" get "/files/tree/?download=zip" "$a"
check "zip: unzip -t" unzip_t "$a"
check "zip: python zipfile (testzip, names, bytes)" python3 -B "$check_py" zip "$a" "$tree" tree
check "zip: bsdtar -tvf" bsdtar_listed "$a"
rm -f "$a" "$a.list" "$a.ut"

# --- tar ------------------------------------------------------------------------------------
for fmt in tar tar.gz; do
    a="$work/tree.$fmt"
    x="$work/x-$fmt"
    flag=-xf
    [ "$fmt" = tar.gz ] && flag=-xzf
    check "$fmt: download" get "/files/tree/?download=$fmt" "$a"
    check "$fmt: bsdtar -tvf" bsdtar_listed "$a"
    check "$fmt: python tarfile (names, bytes)" python3 -B "$check_py" tar "$a" "$tree" tree
    check "$fmt: tar $flag + diff -r" tar_diff "$a" "$flag" "$x"
    rm -rf "$a" "$a.list" "$x"
done

# The top folder: /files/ is named "files".
check "tar: /files/ is named files/" top_named_files
rm -f "$work/top.list"

# --- Slow: Zip64 ----------------------------------------------------------------------------
if [ "${ARCHIVE_SLOW:-1}" != 0 ]; then
    big="$root/big"
    mkdir -p "$big"
    truncate -s 5G "$big/huge.bin"
    size=5368709120

    t=$(now)
    a="$work/big.zip"
    check "slow zip 5 GiB: download" get "/files/big/?download=zip" "$a"
    echo "      time: download $(took "$t"), $(stat -c %s "$a" 2>/dev/null || echo '?') bytes"
    t=$(now)
    check "slow zip 5 GiB: unzip -t" unzip_t "$a"
    echo "      time: unzip -t $(took "$t")"
    check "slow zip 5 GiB: python zipfile file_size" python3 -B "$check_py" zipsize "$a" big/huge.bin "$size"
    check "slow zip 5 GiB: bsdtar -tvf size" sh -c 'bsdtar -tvf "$1" >"$1.list"' _ "$a"
    check "slow zip 5 GiB: bsdtar lists size $size" listed_size "$a.list" big/huge.bin "$size"
    rm -f "$a" "$a.list" "$a.ut"

    t=$(now)
    check "slow tar 5 GiB: curl | bsdtar -tvf -" stream_list "/files/big/?download=tar" "$work/big.tar.list"
    check "slow tar 5 GiB: bsdtar lists size $size" listed_size "$work/big.tar.list" big/huge.bin "$size"
    echo "      time: tar stream through bsdtar $(took "$t")"
    rm -f "$work/big.tar.list" "$big/huge.bin"

    many="$root/many"
    t=$(now)
    python3 -B "$check_py" mkmany "$many" 70000 >/dev/null
    echo "      time: made 70 000 files $(took "$t")"
    a="$work/many.zip"
    t=$(now)
    check "slow zip 70 000 entries: download" get "/files/many/?download=zip" "$a"
    echo "      time: download $(took "$t"), $(stat -c %s "$a" 2>/dev/null || echo '?') bytes"
    t=$(now)
    check "slow zip 70 000 entries: unzip -t" unzip_t "$a"
    echo "      time: unzip -t $(took "$t")"
    check "slow zip 70 000 entries: python len(namelist()) == 70001" python3 -B "$check_py" zipcount "$a" 70001
    check "slow zip 70 000 entries: bsdtar -tvf" sh -c 'bsdtar -tvf "$1" >"$1.list"' _ "$a"
    check "slow zip 70 000 entries: bsdtar lists 70001" count_lines "$a.list" 70001
    rm -f "$a" "$a.ut" "$a.list"
    t=$(now)
    check "slow tar 70 000 entries: curl | bsdtar -tvf -" stream_list "/files/many/?download=tar" "$work/many.tar.list"
    check "slow tar 70 000 entries: bsdtar lists 70001" count_lines "$work/many.tar.list" 70001
    echo "      time: tar stream through bsdtar $(took "$t")"
    rm -rf "$many" "$work/many.tar.list"
else
    echo "skip  slow part (ARCHIVE_SLOW=0)"
fi

if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "FAIL  the server is gone:"
    tail -n 20 "$work/server.log"
    failures=$((failures + 1))
fi

if [ "$failures" -ne 0 ]; then
    echo "archive: $failures check(s) failed"
    exit 1
fi
echo "archive: all checks passed"
