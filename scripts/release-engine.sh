#!/usr/bin/env bash
# Builds the release fox-engine for this platform (Linux x86_64 here) with the platform's
# license public key and address built in, and publishes it into the dashboard's downloads
# directory as fox-engine-<version>-linux-x86_64.tar.gz (+ .sha256).
# Usage: scripts/release-engine.sh [PLATFORM_URL]
#   PLATFORM_URL  the platform's public URL (default http://127.0.0.1:8080); the public key is
#                 read from PLATFORM_URL/.well-known/fox-license-key unless
#                 FOX_LICENSE_PUBLIC_KEY is set.
#   DOWNLOADS_DIR where to publish (default var/downloads, the default downloads.dir).
set -euo pipefail
cd "$(dirname "$0")/.."
url=${1:-${FOX_PLATFORM_URL:-http://127.0.0.1:8080}}
url=${url%/}
out=${DOWNLOADS_DIR:-var/downloads}
if [ -z "${FOX_LICENSE_PUBLIC_KEY:-}" ]; then
  FOX_LICENSE_PUBLIC_KEY=$(curl -fsS "$url/.well-known/fox-license-key" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["public_key"])')
fi
export FOX_LICENSE_PUBLIC_KEY FOX_PLATFORM_URL="$url"
target=${CARGO_TARGET_DIR:-target}
cargo build --release --locked -p fox-engine --bin fox-engine
version=$(sed -n 's/^version = "\(.*\)"/\1/p' engine/Cargo.toml | head -1)
name="fox-engine-$version-linux-x86_64"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name" "$out"
cp "$target/release/fox-engine" "$stage/$name/"
cp engine/examples/*.yaml "$stage/$name/"
tar -C "$stage" -czf "$out/$name.tar.gz" "$name"
(cd "$out" && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")
echo "published $out/$name.tar.gz for $url"
cat "$out/$name.tar.gz.sha256"
