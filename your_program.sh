#!/bin/sh
#
# Builds the release binary (cargo shows its progress on stderr: about 30 s the first time, a
# moment when it is up to date) and runs it with the arguments given, e.g.
# `./your_program.sh --directory ~/shared`. Works from any directory.
set -e
cd "$(dirname "$0")"
cargo build --release --locked
exec ./target/release/http-server "$@"
