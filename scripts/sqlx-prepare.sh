#!/usr/bin/env bash
# Refreshes .sqlx/ (the offline metadata of compile-time checked queries) from a scratch
# database migrated with migrations/. Run after adding or changing a sqlx::query! call.
# Needs the local PostgreSQL (postgres@127.0.0.1:5432, trust auth); no sqlx-cli required.
set -euo pipefail
cd "$(dirname "$0")/.."
db=fox_sqlx_prepare
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db" postgres
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $db" postgres
for f in migrations/*.sql; do psql -h 127.0.0.1 -U postgres -q -v ON_ERROR_STOP=1 -f "$f" "$db"; done
rm -rf .sqlx && mkdir -p .sqlx
# Touch the sources so every query macro is expanded again and writes its metadata.
find src -name '*.rs' -exec touch {} +
SQLX_OFFLINE=false DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" SQLX_OFFLINE_DIR="$PWD/.sqlx" \
  cargo check --all-targets -p fox
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE $db" postgres
echo "wrote $(ls .sqlx | wc -l) query files to .sqlx/"
