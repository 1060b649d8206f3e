#!/bin/sh
#
# Builds the release binary (quietly; fast when it is up to date) and runs it with the
# arguments given, e.g. `./your_program.sh --directory /tmp`. Works from any directory.
set -e
cd "$(dirname "$0")"
cargo build --release --quiet --locked
exec ./target/release/http-server "$@"
