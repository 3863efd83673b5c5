#!/usr/bin/env bash
# The whole test suite, on a fresh machine of our kind: starts PostgreSQL if needed,
# installs what the browser tests need (Debian's chromium + chromedriver), runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# PostgreSQL: the machine has a cluster; start it if it is not running.
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  ver=$(ls /etc/postgresql | sort -V | tail -1)
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi

# Browser tests: Debian's chromium and chromedriver.
if ! command -v chromedriver >/dev/null || ! command -v chromium >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium chromium-driver >/dev/null
fi

mkdir -p var
# Test databases from earlier runs (each test makes its own fox_test_<uuid>).
psql -h 127.0.0.1 -U postgres -Atqc "SELECT datname FROM pg_database WHERE datname LIKE 'fox_test_%'" postgres \
  | while read -r db; do psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS \"$db\"" postgres >/dev/null 2>&1 || true; done

# The committed query metadata must match the migrations and the queries.
./scripts/sqlx-prepare.sh --check

# A local S3-compatible server (moto, from PyPI, in a virtualenv of the test script's own) for
# the object-store tests.
VENV=var/test-venv
if [ ! -x "$VENV/bin/moto_server" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check 'moto[server]==5.1.*'
fi
# The Python client, installed from the repository (as a user would) with httpx, for the
# client tests.
"$VENV/bin/pip" install -q --disable-pip-version-check 'httpx>=0.27,<1' 'setuptools>=70.1' 'mcp==2.3.0'
"$VENV/bin/pip" install -q --disable-pip-version-check --no-index --no-build-isolation --no-deps --force-reinstall ./clients/python
export FOX_TEST_PYTHON="$PWD/$VENV/bin/python"
S3_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >var/moto.log 2>&1 &
MOTO_PID=$!
trap 'kill $MOTO_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$S3_PORT/" >/dev/null && break; sleep 0.2; done
export FOX_TEST_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"

export SQLX_OFFLINE=true
cargo test --workspace --locked "$@"
