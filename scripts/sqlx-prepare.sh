#!/usr/bin/env bash
# Refreshes .sqlx/ (the offline metadata of compile-time checked queries) from a scratch
# database migrated with migrations/. Run after adding or changing a sqlx::query! call or a
# migration. With --check, writes nothing and fails if .sqlx/ is stale (CI runs this).
# Needs the local PostgreSQL (postgres@127.0.0.1:5432, trust auth); no sqlx-cli required.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-write}
db=fox_sqlx_prepare_$$
psql() { command psql -h 127.0.0.1 -U postgres -q -v ON_ERROR_STOP=1 "$@"; }
psql -c "CREATE DATABASE $db" postgres
trap 'psql -c "DROP DATABASE IF EXISTS $db" postgres' EXIT
for f in migrations/*.sql; do psql -f "$f" "$db" >/dev/null; done
out=$(mktemp -d)
# Touch the sources so every query macro is expanded again and writes its metadata.
find src -name '*.rs' -exec touch {} +
SQLX_OFFLINE=false DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" SQLX_OFFLINE_DIR="$out" \
  cargo check --quiet --all-targets -p fox
if [ "$mode" = "--check" ]; then
  if ! diff -r -q .sqlx "$out" >/dev/null; then
    diff -r .sqlx "$out" | head -40
    echo ".sqlx/ is stale: run scripts/sqlx-prepare.sh and commit the result" >&2
    exit 1
  fi
  echo ".sqlx/ is up to date ($(ls "$out" | wc -l) queries)"
else
  rm -rf .sqlx && mv "$out" .sqlx
  echo "wrote $(ls .sqlx | wc -l) query files to .sqlx/"
fi
