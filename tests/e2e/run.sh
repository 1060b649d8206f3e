#!/usr/bin/env bash
# The end-to-end test of the deployment (tests/e2e/e2e.py): two instances on one folder in
# their own PID namespaces, nginx in front (deploy/nginx.conf) with TLS and HTTP/2, clients
# through it while the instances are killed and restarted; plus `systemd-analyze verify` of
# deploy/*.service where that tool exists.
#
# Needs root (unshare --pid, nginx on its ports as configured). Installs Debian's nginx,
# openssl and curl when missing; builds the release binary; runs the test with the system
# python3 (standard library only). All traffic stays on loopback (127.0.0.1, and 127.0.0.5 /
# 127.0.0.6 as the clients' addresses); the test stops everything it started.
# E2E_DURATION (seconds of load, default 20) and E2E_SEED are passed through.
set -euo pipefail
cd "$(dirname "$0")/../.."

missing=()
command -v nginx >/dev/null 2>&1 || missing+=(nginx)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if ((${#missing[@]})); then
    echo "e2e: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's package starts its own nginx on port 80 where systemd runs it; the test runs its own
# copy on other ports and leaves that one alone.

cargo build --release --locked -q
HTTP_SERVER_BIN="$PWD/target/release/http-server" exec /usr/bin/python3 -B tests/e2e/e2e.py
