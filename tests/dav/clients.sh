#!/usr/bin/env bash
# Real WebDAV clients against a fresh server on a fresh folder: rclone, cadaver and davfs2
# (a kernel mount), each checked against what the server's folder holds afterwards; then a
# second server with a user, which each client must reach with the right password and must
# not reach without it. Prints one line per client, exits non-zero on any failure.
#
#   tests/dav/clients.sh            # builds target/debug/http-server first
#   SERVER=path/to/http-server tests/dav/clients.sh
#   DAV_CLIENT_TIMEOUT=300 tests/dav/clients.sh   # seconds allowed to each client command
#   DAV_KEEP=1 tests/dav/clients.sh   # keep the temporary folder (logs, trees) to look at
#
# Installs rclone, cadaver, davfs2 and attr from Debian when missing. davfs2 needs root and
# /dev/fuse; without them its part is skipped with the reason. Traffic goes to 127.0.0.1 only.
# Run by .ci/run.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
step_timeout=${DAV_CLIENT_TIMEOUT:-120}
password='Tr0ub4dor&3'

# --- tools -------------------------------------------------------------------------------
missing=()
command -v rclone >/dev/null 2>&1 || missing+=(rclone)
command -v cadaver >/dev/null 2>&1 || missing+=(cadaver)
command -v mount.davfs >/dev/null 2>&1 || missing+=(davfs2)
command -v getfattr >/dev/null 2>&1 || missing+=(attr)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing from Debian: ${missing[*]}" >&2
    if [ "$(id -u)" = 0 ]; then sudo=(); else sudo=(sudo); fi
    # Another apt may hold the lock (CI images install in the background): wait for it.
    apt_get=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600)
    if ! "${apt_get[@]}" install -y -qq "${missing[@]}" >/dev/null 2>&1; then
        "${apt_get[@]}" update -qq && "${apt_get[@]}" install -y -qq "${missing[@]}" >/dev/null
    fi
fi

if [ -z "${SERVER:-}" ]; then
    (cd "$here" && cargo build --quiet)
    SERVER="$here/target/debug/http-server"
fi

# --- bookkeeping -------------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/dav-clients.XXXXXX")
# davfs2's daemon drops to its own user; it must get through to its cache folder in here.
chmod 711 "$work"
server_pids=()
mounts=()
child=

cleanup() {
    local mp pidfile pid
    # A client command still running (interrupted): timeout passes the signal on to it.
    if [ -n "$child" ]; then
        kill "$child" 2>/dev/null || true
        wait "$child" 2>/dev/null || true
    fi
    for mp in "${mounts[@]}"; do
        if mountpoint -q "$mp" 2>/dev/null; then
            timeout 60 umount "$mp" >/dev/null 2>&1 || umount -l "$mp" 2>/dev/null || true
        fi
        # The daemon this script's mount started, if it outlived its unmount.
        pidfile="/var/run/mount.davfs/$(printf '%s' "${mp#/}" | tr / -).pid"
        if [ -f "$pidfile" ]; then
            pid=$(cat "$pidfile" 2>/dev/null || true)
            [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
        fi
    done
    for pid in "${server_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ -n "${DAV_KEEP:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'echo interrupted >&2; exit 130' INT
trap 'echo terminated >&2; exit 143' TERM

# run CMD...: one client command, bounded in time, its output appended to $log. Waited for
# in the background, so that an interrupt stops the script at once (bash runs a trap only
# when the foreground command has ended), and cleanup can stop the command.
run() {
    local status=0
    timeout -k 10 "$step_timeout" "$@" >>"$log" 2>&1 </dev/null &
    child=$!
    wait "$child" || status=$?
    child=
    return "$status"
}

# step WHAT CMD...: one check of the current client; on failure it says which and shows the
# end of what the client printed.
steps=0
step() {
    local what=$1
    shift
    steps=$((steps + 1))
    echo "--- $what" >>"$log"
    if "$@"; then return 0; fi
    echo "FAIL $client: $what; the end of $client's output:" >&2
    tail -n 25 "$log" | sed 's/^/    /' >&2
    return 1
}

summary=()
failed=0
# client NAME FUNCTION: runs one client's steps and records its line of the summary.
client() {
    client=$1
    log="$work/$1.log"
    : >"$log"
    steps=0
    skip_reason=
    local start=$SECONDS status=0
    "$2" || status=$?
    local took=$((SECONDS - start))
    if [ -n "$skip_reason" ]; then
        summary+=("$(printf '%-15s skipped: %s' "$1" "$skip_reason")")
    elif [ "$status" = 0 ]; then
        summary+=("$(printf '%-15s ok: %d checks in %d s%s' "$1" "$steps" "$took" \
            "${note:+ ($note)}")")
    else
        summary+=("$(printf '%-15s FAILED at check %d (%d s)' "$1" "$steps" "$took")")
        failed=1
    fi
    note=
}
note=

# start_server NAME DIR ARGS...: a server on a free port; sets $port. Not --quiet: the access
# log is checked for 5xx answers at the end and shown on failure.
start_server() {
    local name=$1 dir=$2
    shift 2
    # Made here: the server's redirection may not have run yet when it is first read.
    : >"$work/$name.server.log"
    "$SERVER" --directory "$dir" --port 0 "$@" 2>"$work/$name.server.log" >/dev/null &
    server_pids+=($!)
    port=
    for _ in $(seq 1 200); do
        port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/$name.server.log")
        [ -n "$port" ] && return 0
        sleep 0.05
    done
    echo "the server $name did not start:" >&2
    cat "$work/$name.server.log" >&2
    exit 1
}

# same_tree A B: byte for byte, names, empty files and empty folders included.
same_tree() {
    diff -r "$1" "$2" >>"$log" 2>&1
}

# since LINE: what the current client printed from that line of its log on (see mark).
since() {
    sed -n "$1,\$p" "$log" | grep -v '^--- '
}

# mark: the line the current client's next output will start at.
mark() {
    echo $(($(wc -l <"$log") + 1))
}

# said LINE PATTERN: the client printed PATTERN since LINE.
said() {
    since "$1" | grep -E "$2" >/dev/null
}

# fails CMD...: CMD fails (a client refused, as it should be).
fails() {
    ! "$@"
}

# --- the tree the clients carry ----------------------------------------------------------
# A few hundred files from 0 B to 8 MiB, names with spaces, non-ASCII, and characters URLs
# must escape, in nested folders and one empty folder. Sizes are seeded (the same each run);
# the bytes are random.
make_tree() {
    local root=$1 i dir name size
    local dirs=("" "sub dir" "sub dir/nested ünï" "deep/a/b/c" "日本語 フォルダ" "odd #1 100%")
    local stems=("file" "ü-datei ä" "名前" "it's #" "émoji 🙂" "+plus=" "a&b" "[x] {y} ~z")
    local exts=(".txt" ".bin" ".dat" "" ".tar.gz")
    for dir in "${dirs[@]}"; do mkdir -p "$root/$dir"; done
    mkdir -p "$root/empty folder"
    RANDOM=16
    for i in $(seq 1 300); do
        dir=${dirs[i % ${#dirs[@]}]}
        name="${stems[i % ${#stems[@]}]} $i${exts[i % ${#exts[@]}]}"
        case $i in
            1 | 2 | 3) size=0 ;;
            4) size=$((8 * 1024 * 1024)) ;;
            5) size=$((1024 * 1024 + 1)) ;;
            6) size=65536 ;;
            7) size=4095 ;;
            8) size=1 ;;
            *) size=$(((RANDOM * 32768 + RANDOM) % 20000)) ;;
        esac
        head -c "$size" /dev/urandom >"$root/${dir:+$dir/}$name"
    done
}

gen="$work/gen"
make_tree "$gen"
gen_files=$(find "$gen" -type f | wc -l)
gen_bytes=$(du -sb "$gen" | cut -f1)

files="$work/files"
mkdir -p "$files"
start_server open "$files"
open_port=$port
open_url="http://127.0.0.1:$open_port/files/"

export HOME="$work/home" # cadaver's .netrc; nothing of the real home is read or written
mkdir -p "$HOME"
chmod 700 "$HOME"

# --- rclone ------------------------------------------------------------------------------
# rclone_at URL CMD...: rclone with a remote `srv:` at URL made of environment variables
# only (no config file read or written), with the credentials in $rclone_creds if any.
rclone_creds=()
rclone_at() {
    local url=$1
    shift
    run env RCLONE_CONFIG_SRV_TYPE=webdav RCLONE_CONFIG_SRV_URL="$url" \
        RCLONE_CONFIG_SRV_VENDOR=other "${rclone_creds[@]}" \
        rclone --config /dev/null --retries 1 --low-level-retries 2 "$@"
}

rclone_tests() {
    local from srv="$files/rclone" expect="$work/rclone-expect" down="$work/rclone-down"
    cp -r "$gen" "$expect"
    step "mkdir" rclone_at "$open_url" mkdir srv:rclone || return 1
    step "the folder is on disk" test -d "$srv" || return 1
    step "copy up the tree" \
        rclone_at "$open_url" copy --create-empty-src-dirs "$gen" srv:rclone || return 1
    step "the server's folder holds the tree" same_tree "$gen" "$srv" || return 1
    from=$(mark)
    step "check --download" rclone_at "$open_url" check --download "$gen" srv:rclone || return 1
    step "check says 0 differences" said "$from" ': 0 differences found' || return 1

    step "moveto (the 8 MiB file)" rclone_at "$open_url" moveto \
        "srv:rclone/日本語 フォルダ/émoji 🙂 4.tar.gz" "srv:rclone/deep/moved ü #4.tar.gz" || return 1
    mv "$expect/日本語 フォルダ/émoji 🙂 4.tar.gz" "$expect/deep/moved ü #4.tar.gz"
    step "moved on disk" same_tree "$expect" "$srv" || return 1

    step "delete --include '*.dat'" \
        rclone_at "$open_url" delete --include '*.dat' srv:rclone || return 1
    find "$expect" -name '*.dat' -delete
    step "deleted on disk" same_tree "$expect" "$srv" || return 1

    step "purge a folder" rclone_at "$open_url" purge "srv:rclone/sub dir/nested ünï" || return 1
    rm -r "$expect/sub dir/nested ünï"
    step "purged on disk" same_tree "$expect" "$srv" || return 1

    mkdir "$down"
    step "sync down" rclone_at "$open_url" sync --create-empty-src-dirs srv:rclone "$down" ||
        return 1
    step "the copy down is the server's tree, byte for byte" same_tree "$expect" "$down" ||
        return 1
    # Given the server's root rather than /files/, a client finds the share there.
    from=$(mark)
    step "lsf at the server's root" rclone_at "http://127.0.0.1:$open_port/" lsf srv: || return 1
    step "the root lists files/" said "$from" '^files/$' || return 1
    note="$gen_files files, $((gen_bytes / 1024)) KiB"
}

# --- cadaver -----------------------------------------------------------------------------
# cadaver_at URL SCRIPT: cadaver running the commands in SCRIPT (an rc file), then quitting
# (standard input is empty, so a password prompt is answered by end of file).
cadaver_at() {
    run cadaver -r "$2" "$1"
}

# cadaver_clean LINE: no command failed since LINE (cadaver exits 0 whatever happens).
cadaver_clean() {
    ! since "$1" | grep -E -i \
        'failed|could not|aborted|rejected|can only be used|unknown command|error|enter locktoken' \
        >/dev/null
}

# cadaver_locked_out LINE: exactly one command failed since LINE, a put answered 423.
cadaver_locked_out() {
    [ "$(since "$1" | grep -c -E -i 'failed|could not|aborted|error|enter locktoken')" = 1 ] &&
        since "$1" | grep "^423 Locked" >/dev/null
}

# has_property FILE VALUE: a dead property with VALUE is in FILE's extended attributes.
has_property() {
    getfattr --absolute-names -d -m '^user\.dav\.' "$1" 2>>"$log" | grep "$2" >/dev/null
}

cadaver_tests() {
    local dir="$work/cad" srv="$files/cadaver" from
    mkdir -p "$dir"
    printf 'one\n' >"$dir/one.txt"
    printf 'two, written while locked\n' >"$dir/two.txt"
    head -c $((3 * 1024 * 1024 + 7)) /dev/urandom >"$dir/big.bin"
    local xattrs=yes
    if ! setfattr -n user.probe -v 1 "$dir/one.txt" 2>/dev/null; then xattrs=no; fi
    setfattr -x user.probe "$dir/one.txt" 2>/dev/null || true

    cat >"$dir/session1" <<EOF
lcd $dir
mkcol cadaver
mkcol "cadaver/sub ü"
put one.txt "cadaver/sub ü/one.txt"
put big.bin "cadaver/big file.bin"
get "cadaver/big file.bin" big.back
move "cadaver/sub ü/one.txt" "cadaver/sub ü/renamed one.txt"
copy "cadaver/sub ü/renamed one.txt" "cadaver/copy of one.txt"
copy "cadaver/sub ü" "cadaver/sub copy"
lock "cadaver/copy of one.txt"
put two.txt "cadaver/copy of one.txt"
unlock "cadaver/copy of one.txt"
rm "cadaver/big file.bin"
rmcol "cadaver/sub copy"
lock cadaver/held.txt
EOF
    if [ "$xattrs" = yes ]; then
        cat >>"$dir/session1" <<EOF
propset "cadaver/copy of one.txt" colour blue
propget "cadaver/copy of one.txt" colour
EOF
    fi
    from=$(mark)
    step "session 1: mkcol, put, get, move, copy, lock, put, unlock, rm, rmcol, propset" \
        cadaver_at "$open_url" "$dir/session1" || return 1
    step "no command failed" cadaver_clean "$from" || return 1
    step "mkcol made the folder" test -d "$srv/sub ü" || return 1
    step "get brought the bytes back" cmp "$dir/big.bin" "$dir/big.back" || return 1
    step "move renamed" test ! -e "$srv/sub ü/one.txt" -a -f "$srv/sub ü/renamed one.txt" ||
        return 1
    step "the moved file holds its bytes" cmp "$dir/one.txt" "$srv/sub ü/renamed one.txt" ||
        return 1
    step "the put under the lock replaced the copy" \
        cmp "$dir/two.txt" "$srv/copy of one.txt" || return 1
    step "rm and rmcol removed" test ! -e "$srv/big file.bin" -a ! -e "$srv/sub copy" || return 1
    step "a lock on an unmapped name made an empty file" test -f "$srv/held.txt" -a \
        ! -s "$srv/held.txt" || return 1
    if [ "$xattrs" = yes ]; then
        step "propget read the property back" said "$from" 'Value of colour is: blue' || return 1
        step "the property is in the file's extended attributes" \
            has_property "$srv/copy of one.txt" blue || return 1
    else
        note="no user xattrs in ${TMPDIR:-/tmp}: propset not tried"
    fi

    # A second session finds the lock the first left behind: its put is refused (423) until
    # it takes the lock over (an ASCII name: see docs/files.md on cadaver's steal).
    printf 'locked out\n' >"$dir/three.txt"
    cat >"$dir/session2" <<EOF
lcd $dir
put three.txt cadaver/held.txt
steal cadaver/held.txt
put three.txt cadaver/held.txt
unlock cadaver/held.txt
discover cadaver/held.txt
EOF
    from=$(mark)
    step "session 2: put to a file locked by session 1, steal, put, unlock" \
        cadaver_at "$open_url" "$dir/session2" || return 1
    step "only the first put failed, with 423" cadaver_locked_out "$from" || return 1
    step "the lock is gone" said "$from" 'no locks found' || return 1
    step "the second put landed" cmp "$dir/three.txt" "$srv/held.txt" || return 1

    # Opened at the server's root: it lists files/ and goes in.
    printf 'ls\ncd files\nls cadaver\n' >"$dir/session3"
    from=$(mark)
    step "session 3: at the server's root, ls, cd files, ls" \
        cadaver_at "http://127.0.0.1:$open_port/" "$dir/session3" || return 1
    step "no command failed" cadaver_clean "$from" || return 1
    step "the root lists files" said "$from" 'Coll: +files ' || return 1
    step "files/cadaver lists its files" said "$from" 'copy of one\.txt' || return 1
}

# --- davfs2 ------------------------------------------------------------------------------
# davfs_mount NAME URL [USER PASSWORD]: mounts URL at $work/NAME.mnt (sets $mp) with a
# configuration and secrets of its own; nothing of /etc/davfs2 or ~/.davfs2 is changed.
davfs_mount() {
    local name=$1 url=$2 user=${3:-} pass=${4:-} d="$work/davfs-$1"
    mp="$work/$name.mnt"
    mkdir -p "$d/cache" "$mp"
    chmod 711 "$d"
    # The daemon runs as davfs2's user (dav_user), and wants its cache group-writable.
    chown root:davfs2 "$d/cache"
    chmod 775 "$d/cache"
    : >"$d/secrets"
    chmod 600 "$d/secrets"
    if [ -n "$user" ]; then printf '%s %s "%s"\n' "$mp" "$user" "$pass" >"$d/secrets"; fi
    # buf_size: with davfs2 before 1.7.2 on Linux 6.16 and later, reading a folder through the
    # mount fails with EINVAL unless the buffer is at least 64 KiB.
    cat >"$d/davfs2.conf" <<CONF
use_locks 1
ask_auth 0
secrets $d/secrets
cache_dir $d/cache
buf_size 64
CONF
    mounts+=("$mp")
    run mount -t davfs -o "conf=$d/davfs2.conf" "$url" "$mp"
}

# davfs_unmount: davfs2 uploads what it still holds in its cache, then the daemon ends.
davfs_unmount() {
    run umount "$mp" && ! mountpoint -q "$mp"
}

# davfs_refused NAME URL [USER PASSWORD]: the mount fails for want of the right credentials.
davfs_refused() {
    local from
    from=$(mark)
    ! davfs_mount "$@" && ! mountpoint -q "$mp" && said "$from" 'Could not authenticate'
}

# davfs_skip_reason: why this machine cannot mount a davfs2 file system, if it cannot.
davfs_refusal=
davfs_skip_reason() {
    if [ -n "$davfs_refusal" ]; then
        echo "$davfs_refusal"
    elif [ "$(id -u)" != 0 ]; then
        echo "mount -t davfs needs root here"
    elif [ ! -c /dev/fuse ]; then
        echo "no /dev/fuse"
    elif ! getent group davfs2 >/dev/null; then
        echo "no davfs2 group (davfs2 not installed as Debian does)"
    fi
}

davfs2_tests() {
    skip_reason=$(davfs_skip_reason)
    [ -n "$skip_reason" ] && return 0
    local out="$files/davfs-out" in="$files/davfs-in"
    local expect_out="$work/davfs-out-expect" expect_in="$work/davfs-in-expect"
    # One tree put straight on the server's disk, to be read through the mount; the other
    # written through it.
    cp -r "$gen" "$out"
    cp -r "$gen" "$expect_out"
    cp -r "$gen" "$expect_in"
    if ! step "mount" davfs_mount open "$open_url"; then
        if grep -E -q 'Operation not permitted|Permission denied|fuse device' "$log"; then
            davfs_refusal="mount not permitted here: $(grep -E -m1 'permitted|denied|fuse' "$log")"
            skip_reason=$davfs_refusal
            return 0
        fi
        return 1
    fi
    step "cp -r out of the mount" run cp -r "$mp/davfs-out" "$work/davfs-out-copy" || return 1
    step "the copy out is the server's tree" same_tree "$gen" "$work/davfs-out-copy" || return 1
    step "cp -r into the mount" run cp -r "$gen" "$mp/davfs-in" || return 1

    step "rename a file" run mv "$mp/davfs-in/a&b 6.bin" "$mp/davfs-in/renamed a&b 6.bin" ||
        return 1
    mv "$expect_in/a&b 6.bin" "$expect_in/renamed a&b 6.bin"
    step "move a folder" run mv "$mp/davfs-in/odd #1 100%" "$mp/davfs-in/deep/odd moved" ||
        return 1
    mv "$expect_in/odd #1 100%" "$expect_in/deep/odd moved"
    step "delete a file" run rm "$mp/davfs-in/sub dir/ü-datei ä 1.bin" || return 1
    rm "$expect_in/sub dir/ü-datei ä 1.bin"
    step "delete a folder" run rm -r "$mp/davfs-in/sub dir/nested ünï" || return 1
    rm -r "$expect_in/sub dir/nested ünï"
    step "make a folder" run mkdir "$mp/davfs-in/new empty" || return 1
    mkdir "$expect_in/new empty"
    step "append to a file the server had" \
        run sh -c 'printf "appended\n" >>"$1"' sh "$mp/davfs-out/a&b 6.bin" || return 1
    printf 'appended\n' >>"$expect_out/a&b 6.bin"

    step "umount (uploads the cache)" davfs_unmount || return 1
    step "the server holds the tree written through the mount" same_tree "$expect_in" "$in" ||
        return 1
    step "the server holds the appended file" same_tree "$expect_out" "$out" || return 1
}

# --- with users --------------------------------------------------------------------------
# alice may write (a stored PBKDF2 hash, few rounds to stay quick), bob may only read.
afiles="$work/auth-files"
mkdir -p "$afiles"
hash=$(printf '%s\n' "$password" | "$SERVER" --hash-password --rounds 1000)
printf 'alice:%s\nbob:%s:read\n' "$hash" "bob's password" >"$work/users"
chmod 600 "$work/users"
start_server auth "$afiles" --auth-file "$work/users"
auth_url="http://127.0.0.1:$port/files/"
small="$gen/sub dir"

# Each client with the right password, then without one and with a wrong one. Fewer than 10
# wrong ones in all: 10 within a minute would shut 127.0.0.1 out (429) for the next.
rclone_users() {
    local from
    rclone_creds=(RCLONE_CONFIG_SRV_USER=alice
        "RCLONE_CONFIG_SRV_PASS=$(rclone obscure "$password")")
    step "as alice: copy" rclone_at "$auth_url" copy "$small" srv:rclone || return 1
    step "as alice: the server holds it" same_tree "$small" "$afiles/rclone" || return 1
    step "as alice: check --download" \
        rclone_at "$auth_url" check --download "$small" srv:rclone || return 1
    rclone_creds=(RCLONE_CONFIG_SRV_USER=bob
        "RCLONE_CONFIG_SRV_PASS=$(rclone obscure "bob's password")")
    step "as bob (a reader): lsf" rclone_at "$auth_url" lsf srv:rclone || return 1
    from=$(mark)
    step "as bob: mkdir refused" fails rclone_at "$auth_url" mkdir srv:bob || return 1
    step "as bob: 403" said "$from" '403 Forbidden' || return 1

    rclone_creds=()
    from=$(mark)
    step "without a password: lsf refused" fails rclone_at "$auth_url" lsf srv: || return 1
    step "without a password: 401" said "$from" '401 Unauthorized' || return 1
    rclone_creds=(RCLONE_CONFIG_SRV_USER=alice "RCLONE_CONFIG_SRV_PASS=$(rclone obscure wrong)")
    from=$(mark)
    step "with a wrong password: mkdir refused" \
        fails rclone_at "$auth_url" mkdir srv:wrong || return 1
    rclone_creds=()
    step "with a wrong password: 401" said "$from" '401 Unauthorized' || return 1
    step "nothing made" test ! -e "$afiles/wrong" -a ! -e "$afiles/bob" || return 1
}

cadaver_users() {
    local dir="$work/cad-auth" from
    mkdir -p "$dir"
    printf 'machine 127.0.0.1\nlogin alice\npassword %s\n' "$password" >"$HOME/.netrc"
    chmod 600 "$HOME/.netrc"
    printf 'for alice\n' >"$dir/a.txt"
    printf 'lcd %s\nmkcol cadaver\nput a.txt cadaver/a.txt\nget cadaver/a.txt back.txt\n' \
        "$dir" >"$dir/session"
    from=$(mark)
    step "as alice (.netrc): mkcol, put, get" cadaver_at "$auth_url" "$dir/session" || return 1
    step "as alice: no command failed" cadaver_clean "$from" || return 1
    step "as alice: the server holds the file" cmp "$dir/a.txt" "$afiles/cadaver/a.txt" ||
        return 1
    step "as alice: got it back" cmp "$dir/a.txt" "$dir/back.txt" || return 1

    printf 'lcd %s\nput a.txt wrong.txt\n' "$dir" >"$dir/wrong"
    printf 'machine 127.0.0.1\nlogin alice\npassword wrong\n' >"$HOME/.netrc"
    from=$(mark)
    step "with a wrong password: put" cadaver_at "$auth_url" "$dir/wrong" || return 1
    step "with a wrong password: refused" said "$from" 'Could not authenticate to server' ||
        return 1
    rm "$HOME/.netrc"
    from=$(mark)
    step "without a password: put" cadaver_at "$auth_url" "$dir/wrong" || return 1
    step "without a password: refused" said "$from" 'Could not authenticate to server' ||
        return 1
    step "nothing made" test ! -e "$afiles/wrong.txt" || return 1
}

davfs2_users() {
    skip_reason=$(davfs_skip_reason)
    [ -n "$skip_reason" ] && return 0
    step "as alice (secrets file): mount" davfs_mount alice "$auth_url" alice "$password" ||
        return 1
    step "as alice: cp -r in" run cp -r "$small" "$mp/davfs2" || return 1
    step "as alice: umount" davfs_unmount || return 1
    step "as alice: the server holds it" same_tree "$small" "$afiles/davfs2" || return 1
    step "with a wrong password: mount refused" davfs_refused wrong "$auth_url" alice wrong ||
        return 1
    step "without a password: mount refused" davfs_refused nopassword "$auth_url" || return 1
}

# --- run ---------------------------------------------------------------------------------
start=$SECONDS
client rclone rclone_tests
client cadaver cadaver_tests
client davfs2 davfs2_tests
client "rclone, users" rclone_users
client "cadaver, users" cadaver_users
client "davfs2, users" davfs2_users

# The server's side: it is still up, answered no 5xx, and left no temporary file or lock behind.
server_check() {
    local pid line
    for pid in "${server_pids[@]}"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "FAIL server: process $pid is gone" >&2
            return 1
        fi
    done
    if grep -h '" 5[0-9][0-9] ' "$work"/*.server.log >&2; then
        echo "FAIL server: 5xx answers (above)" >&2
        return 1
    fi
    # The lock table (.http-server-upload-locks, in each root) stays, empty once every lock
    # is released; any other dot file would be a temporary one left behind.
    line=$(find "$files" "$afiles" -name '.*' ! -path "$files/.http-server-upload-locks" \
        ! -path "$afiles/.http-server-upload-locks" | head -n 5)
    if [ -n "$line" ]; then
        echo "FAIL server: hidden files left in the served folders:" >&2
        echo "$line" >&2
        return 1
    fi
    for line in "$files/.http-server-upload-locks" "$afiles/.http-server-upload-locks"; do
        if [ -s "$line" ]; then
            echo "FAIL server: locks left in $line (every client released its own):" >&2
            cat "$line" >&2
            return 1
        fi
    done
    if grep -h '" 429 ' "$work/auth.server.log" >&2; then
        echo "FAIL server: the failed-login limit answered 429: the test made too many" >&2
        return 1
    fi
}
if server_check; then
    summary+=("$(printf '%-15s ok: up, no 5xx answer, no temporary file or lock left' server)")
else
    summary+=("$(printf '%-15s FAILED' server)")
    failed=1
fi

printf '%s\n' "${summary[@]}"
if [ "$failed" != 0 ]; then
    echo "WebDAV clients: FAILED (DAV_KEEP=1 keeps the logs and trees)" >&2
    exit 1
fi
echo "WebDAV clients: all passed in $((SECONDS - start)) s"
