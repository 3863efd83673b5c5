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

# Test databases from earlier runs (each test makes its own fox_test_<uuid>).
psql -h 127.0.0.1 -U postgres -Atqc "SELECT datname FROM pg_database WHERE datname LIKE 'fox_test_%'" postgres \
  | while read -r db; do psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS \"$db\"" postgres >/dev/null 2>&1 || true; done

# The committed query metadata must match the migrations and the queries.
./scripts/sqlx-prepare.sh --check

export SQLX_OFFLINE=true
cargo test --workspace --locked "$@"
