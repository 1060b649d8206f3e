#!/usr/bin/env bash
# Moves a 1 GiB file through the server over loopback, down and up, and reports the server's
# peak RSS and the times next to `cp` of the same file on the same disk.
#   bench/big_file.sh            (needs curl; builds the release binary)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --locked
dir=$(mktemp -d /var/tmp/http-big-XXXXXX)
port=18095
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
head -c $((1 << 30)) /dev/urandom > "$dir/src.bin"
./target/release/http-server --directory "$dir" --port $port --quiet 2>/dev/null &
pid=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
rss() { awk -v k="$1:" '$1 == k {print $2 / 1024 " MiB"}' "/proc/$pid/status"; }
echo "server RSS at start: $(rss VmRSS)"
t0=$(date +%s.%N); cp "$dir/src.bin" "$dir/copy.bin"; sync "$dir/copy.bin"; t1=$(date +%s.%N)
echo "cp + sync of 1 GiB: $(awk "BEGIN {print $t1 - $t0}") s"
rm "$dir/copy.bin"
curl -s -o /dev/null -w "download 1 GiB: %{time_total} s (%{speed_download} B/s)\n" "http://127.0.0.1:$port/files/src.bin"
echo "server peak RSS after the download: $(rss VmHWM)"
curl -s -o /dev/null -w "upload 1 GiB (POST streamed by curl -T, synced before 201): %{time_total} s, status %{http_code}\n" \
  -X POST -T "$dir/src.bin" "http://127.0.0.1:$port/files/up.bin"
echo "server peak RSS after the upload: $(rss VmHWM)"
cmp "$dir/src.bin" "$dir/up.bin" && echo "uploaded file identical"
curl -s -o /dev/null -w "download 1 GiB with gzip (streamed, chunked): %{time_total} s\n" -H 'Accept-Encoding: gzip' "http://127.0.0.1:$port/files/src.bin"
echo "server peak RSS after the gzip download: $(rss VmHWM)"
