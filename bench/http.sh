#!/usr/bin/env bash
# Load benchmark of the release server on loopback: requests/s and p99 latency of /pricing,
# a docs page and the license validation API (a mix of valid and invalid keys) next to
# /healthz, measured in the same run with wrk.
# Usage: bench/http.sh [duration_secs=10] [connections=32]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
conns=${2:-32}
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
pg_isready -h 127.0.0.1 -p 5432 -q || pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start

SQLX_OFFLINE=true cargo build --release --locked --bin fox -q
port=18080
export FOX__SERVER__PORT=$port FOX__DATABASE__NAME=fox_bench FOX__LOG__FORMAT=json FOX__LOG__LEVEL=info
export FOX__RATE_LIMIT__LEADS__MAX_REQUESTS=1000000
export FOX__RATE_LIMIT__LICENSE_API_PER_IP__MAX_REQUESTS=1000000 FOX__RATE_LIMIT__LICENSE_API_PER_KEY__MAX_REQUESTS=1000000
# A fixed signing key so that keys issued by the CLI verify in the server.
export FOX__LICENSE__SIGNING_KEY=$(./target/release/fox license keygen | sed -n 's/^signing_key: //p')
./target/release/fox serve >/tmp/fox-bench.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done

# A valid key with one activated machine, for the license API mix.
key=$(./target/release/fox license issue --email bench@fox.example --tier desk --days 30 2>/dev/null | grep -oE 'FOX1-[A-Za-z0-9_.-]+' | head -1)
[ -n "$key" ] || { echo "could not issue a bench license" >&2; exit 1; }
curl -fs -H 'content-type: application/json' -d "{\"key\":\"$key\",\"fingerprint\":\"bench-machine-0001\"}" "http://127.0.0.1:$port/api/v1/licenses/activate" >/dev/null
lua=$(mktemp --suffix=.lua)
cat >"$lua" <<LUA
-- Mix of answers: VALID, INVALID_SIGNATURE, FINGERPRINT_REQUIRED, FINGERPRINT_MISMATCH.
local bodies = {
  '{"key":"$key","fingerprint":"bench-machine-0001","nonce":"n1"}',
  '{"key":"FOX1-eyJ2IjoxfQ.c2lnbmF0dXJl","fingerprint":"bench-machine-0001"}',
  '{"key":"$key"}',
  '{"key":"$key","fingerprint":"bench-machine-9999"}',
}
local i = 0
request = function()
  i = i + 1
  return wrk.format("POST", "/api/v1/licenses/validate", {["Content-Type"] = "application/json"}, bodies[(i % #bodies) + 1])
end
LUA

declare -a rows
run() {
  local name=$1 path=$2 script=${3:-}
  local out rps p99
  local extra=()
  [ -n "$script" ] && extra=(-s "$script")
  # One warm-up second, then the measured run.
  wrk -t2 -c"$conns" -d1s "${extra[@]}" "http://127.0.0.1:$port$path" >/dev/null
  out=$(wrk -t2 -c"$conns" -d"${duration}s" --latency "${extra[@]}" "http://127.0.0.1:$port$path")
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  rows+=("$name|$path|$rps|$p99|${errors:-0}")
}
run healthz /healthz
run pricing /pricing
run docs /docs/getting-started
run validate /api/v1/licenses/validate "$lua"
run healthz-again /healthz

base=$(cut -d'|' -f3 <<<"${rows[0]}")
printf '\n%d connections, %ss per endpoint, 2 wrk threads, release build, %s cores\n\n' "$conns" "$duration" "$(nproc)"
printf '| %-14s | %-22s | %12s | %9s | %9s | %6s |\n' endpoint path "requests/s" "vs healthz" "p99" non2xx
printf '|%s|%s|%s|%s|%s|%s|\n' ---------------- ------------------------ -------------- ----------- ----------- --------
for r in "${rows[@]}"; do
  IFS='|' read -r name path rps p99 errs <<<"$r"
  ratio=$(awk -v a="$rps" -v b="$base" 'BEGIN {printf "%.2f", a/b}')
  printf '| %-14s | %-22s | %12s | %9s | %9s | %6s |\n' "$name" "$path" "$rps" "$ratio" "$p99" "$errs"
done
