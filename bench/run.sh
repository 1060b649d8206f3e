#!/usr/bin/env bash
# Benchmarks this server against nginx on loopback (see bench/bench.py for what is measured).
# From a clean clone: builds the release binary, installs wrk and nginx from Debian's packages
# if they are missing, raises the open-file limit, and runs the scenarios.
#   ROUNDS=3 DURATION=5 SCENARIOS="echo keep-alive,file 1 KiB" OUT=table.md bench/run.sh
#   SCENARIOS=slow N=100,1000 bench/run.sh     slow downloads/uploads and slowhttptest (bench/slow.py)
#   OLD_BIN=/tmp/old/target/release/http-server bench/run.sh   adds that build as a third server
#   SCENARIOS=archive bench/run.sh   folder as zip / tar.gz vs dufs and miniserve (bench/archive.py)
#   SCENARIOS=dav bench/run.sh       PROPFIND and rclone vs Apache mod_dav and dufs (bench/dav.py)
# dufs and miniserve, when missing, are built with cargo install into PEERS_ROOT (default
# /work/peers, outside the repository); the scripts find them in PEERS_ROOT/bin.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v taskset >/dev/null || need+=(util-linux)
command -v python3 >/dev/null || need+=(python3)
if [ "${SCENARIOS:-}" = slow ]; then command -v slowhttptest >/dev/null || need+=(slowhttptest); fi
if [ "${SCENARIOS:-}" = archive ]; then
  command -v curl >/dev/null || need+=(curl)
  command -v unzip >/dev/null || need+=(unzip)
fi
if [ "${SCENARIOS:-}" = dav ]; then
  [ -x /usr/sbin/apache2 ] || need+=(apache2)
  command -v rclone >/dev/null || need+=(rclone)
fi
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  # Do not start the packaged nginx service; we run our own instance. (A policy-rc.d that is
  # already there is left alone.)
  made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  if [ -n "$made_policy" ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
fi

case "${SCENARIOS:-}" in
  archive|dav) ;;  # no oha needed
  *) command -v oha >/dev/null || [ -x "$HOME/.cargo/bin/oha" ] || cargo install oha --locked ;;
esac
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --quiet --locked
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "${SCENARIOS:-}" = slow ]; then exec python3 bench/slow.py; fi
if [ "${SCENARIOS:-}" = archive ] || [ "${SCENARIOS:-}" = dav ]; then
  export PEERS_BIN="${PEERS_ROOT:-/work/peers}/bin"
  peers=(dufs); [ "$SCENARIOS" = archive ] && peers+=(miniserve)
  for p in "${peers[@]}"; do
    [ -x "$PEERS_BIN/$p" ] || cargo install "$p" --locked --root "${PEERS_ROOT:-/work/peers}"
  done
  exec python3 "bench/$SCENARIOS.py"
fi
exec python3 bench/bench.py
