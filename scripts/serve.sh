#!/usr/bin/env bash
# Runs the product: the server on the local PostgreSQL (database "fox", created and migrated
# on start) at http://127.0.0.1:8080 with config/base.yaml + config/local.yaml.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  ver=$(ls /etc/postgresql | sort -V | tail -1)
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
export SQLX_OFFLINE=true
exec cargo run --release --locked --bin fox -- serve "$@"
