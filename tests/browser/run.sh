#!/usr/bin/env bash
# The browser test of the folder page (tests/browser/test_listing.py), a separate step from
# `cargo test`. Installs what is missing: Debian's chromium (apt-get) and a virtualenv with
# playwright from PyPI under target/browser-venv. Playwright's own browser download is never
# used (`playwright install` cannot download here): the test launches /usr/bin/chromium.
# Screenshots land in target/browser/.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v chromium >/dev/null 2>&1; then
    echo "browser test: installing chromium" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # fonts-noto-cjk: so that the Japanese names of the test render in the screenshots.
    apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
fi

venv=target/browser-venv
if ! "$venv/bin/python" -c 'import playwright' >/dev/null 2>&1; then
    echo "browser test: creating $venv with playwright" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q playwright
fi

cargo build --locked -q
HTTP_SERVER_BIN="$PWD/target/debug/http-server" CHROMIUM="$(command -v chromium)" \
    "$venv/bin/python" tests/browser/test_listing.py
