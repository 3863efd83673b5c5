#!/usr/bin/env bash
# Load benchmark of the release server on loopback: requests/s and p99 latency of /pricing
# and a docs page next to /healthz, measured in the same run with wrk.
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
./target/release/fox serve >/tmp/fox-bench.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done

declare -a rows
run() {
  local name=$1 path=$2
  local out rps p99
  # One warm-up second, then the measured run.
  wrk -t2 -c"$conns" -d1s "http://127.0.0.1:$port$path" >/dev/null
  out=$(wrk -t2 -c"$conns" -d"${duration}s" --latency "http://127.0.0.1:$port$path")
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  rows+=("$name|$path|$rps|$p99|${errors:-0}")
}
run healthz /healthz
run pricing /pricing
run docs /docs/getting-started
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
