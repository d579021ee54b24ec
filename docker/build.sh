#!/bin/sh
# Builds torq's own image (docker/Dockerfile) from a static torq executable.
#
#   docker/build.sh [TAG] [TORQ_EXECUTABLE]
#
# TAG defaults to torq/torq:latest; the executable to
# target/x86_64-unknown-linux-gnu/release/torq (run `cargo build --release` first).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tag=${1:-torq/torq:latest}
torq=${2:-$here/../target/x86_64-unknown-linux-gnu/release/torq}
if [ ! -x "$torq" ]; then
  echo "no torq executable at $torq: run \`cargo build --release\` first" >&2
  exit 1
fi
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp "$here/Dockerfile" "$context/Dockerfile"
cp "$torq" "$context/torq"
mkdir -m 1777 "$context/tmp"
docker build -t "$tag" "$context"
