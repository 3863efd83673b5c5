#!/usr/bin/env bash
# Flood benchmark of the license API's rate limiters (issue: "the limiter burns CPU").
# The release server sits behind a "trusted proxy" (loopback) so wrk can claim 4 client
# addresses with X-Forwarded-For. Floods of POST /api/v1/licenses/validate, same run:
#   constant — one key, from 4 addresses;
#   random   — a new random key on every request, from 4 addresses.
# Two server set-ups, each started fresh:
#   default limits — the per-address limit refuses most of a flood before the per-key one;
#   limits lifted  — both limits lifted, so every request is answered: every random key is
#                    recorded by the per-key limiter and looked up (the worst case for the
#                    maps: they fill to their bound of 100k keys and past it), every
#                    constant-key request is a cache hit.
# Per flood: requests/s, share refused (429), the server's CPU time per request (from
# /proc/PID/stat), its RSS afterwards, and /healthz latency measured beside the flood.
# Target: random-key CPU per request within 1.5x of constant-key.
# Usage: bench/license_flood.sh [duration_secs=10] [connections=32]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
conns=${2:-32}
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
pg_isready -h 127.0.0.1 -p 5432 -q || pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start

target=${CARGO_TARGET_DIR:-target}
SQLX_OFFLINE=true cargo build --release --locked --bin fox -q
fox="$target/release/fox"
port=18081
export FOX__SERVER__PORT=$port FOX__DATABASE__NAME=fox_bench_flood FOX__LOG__FORMAT=json FOX__LOG__LEVEL=info
export FOX__SERVER__TRUSTED_PROXIES='["127.0.0.1"]' FOX__SERVER__SHUTDOWN_DRAIN_SECS=0
export FOX__SECURITY__LOCAL_KEYS_DIR=$(mktemp -d)
pid=
trap 'kill $pid 2>/dev/null || true' EXIT
start() { # extra env assignments
  [ -n "$pid" ] && { kill "$pid"; wait "$pid" 2>/dev/null || true; }
  env "$@" "$fox" serve >>/tmp/fox-flood.log 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
}
: >/tmp/fox-flood.log
start FOX__LOG__LEVEL=info
key=$("$fox" license issue --email flood@fox.example --tier desk --days 30 2>/dev/null | sed -n 's/^key: //p')
[ -n "$key" ] || { echo "could not issue a bench license" >&2; exit 1; }
curl -fs -H 'content-type: application/json' -d "{\"key\":\"$key\",\"fingerprint\":\"bench-machine-0001\"}" "http://127.0.0.1:$port/api/v1/licenses/activate" >/dev/null

lua() { # MODE: constant | random
  local f
  f=$(mktemp --suffix=.lua)
  cat >"$f" <<LUA
local ips = {"198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"}
local i = 0
math.randomseed(os.time())
request = function()
  i = i + 1
  local key = "$key"
  if "$1" == "random" then
    key = string.format("FOX1-%08x%08x.%08x", math.random(0, 0x7fffffff), math.random(0, 0x7fffffff), i)
  end
  return wrk.format("POST", "/api/v1/licenses/validate",
    {["Content-Type"] = "application/json", ["X-Forwarded-For"] = ips[(i % 4) + 1]},
    '{"key":"' .. key .. '","fingerprint":"bench-machine-0001"}')
end
LUA
  echo "$f"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)

declare -a rows
flood() { # NAME MODE
  local script out reqs rps non2xx t0 t1 cpu_ms per_req health rss
  script=$(lua "$2")
  t0=$(cpu_ticks)
  wrk -t1 -c2 -d"${duration}s" --latency "http://127.0.0.1:$port/healthz" >/tmp/fox-flood-health.txt &
  local hpid=$!
  out=$(wrk -t2 -c"$conns" -d"${duration}s" -s "$script" "http://127.0.0.1:$port/api/v1/licenses/validate")
  wait $hpid
  t1=$(cpu_ticks)
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  health=$(awk '$1 == "50%" {print $2}' /tmp/fox-flood-health.txt)
  hreqs=$(awk '/requests in/ {print $1}' /tmp/fox-flood-health.txt)
  cpu_ms=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" 'BEGIN {printf "%.0f", (b - a) * 1000 / hz}')
  per_req=$(awk -v c="$cpu_ms" -v r="$reqs" -v h="$hreqs" 'BEGIN {printf "%.4f", c / (r + h)}')
  rss=$(awk '/VmRSS/ {printf "%d", $2/1024}' "/proc/$pid/status")
  rows+=("$1|$rps|${non2xx:-0}/$reqs|$per_req|$health|$rss")
  echo "$1" "$per_req" >>/tmp/fox-flood-cpu.txt
}
: >/tmp/fox-flood-cpu.txt
rows+=("default limits (600/min per address, 120/min per key)|||||")
flood constant constant
flood random random
flood constant-again constant
start FOX__RATE_LIMIT__LICENSE_API_PER_IP__MAX_REQUESTS=1000000 FOX__RATE_LIMIT__LICENSE_API_PER_KEY__MAX_REQUESTS=1000000
rows+=("both limits lifted (every request answered)|||||")
flood open-constant constant
flood open-random random
flood open-constant-again constant

printf '\n%d connections (+2 on /healthz), %ss per flood, 4 client addresses, release build, %s cores\n\n' "$conns" "$duration" "$(nproc)"
printf '| %-20s | %10s | %18s | %16s | %14s | %8s |\n' flood "requests/s" "refused/total" "CPU ms/request" "/healthz p50" "RSS MiB"
printf '|%s|%s|%s|%s|%s|%s|\n' ---------------------- ------------ -------------------- ------------------ ---------------- ----------
for r in "${rows[@]}"; do
  IFS='|' read -r name rps refused per health rss <<<"$r"
  printf '| %-20s | %10s | %18s | %16s | %14s | %8s |\n' "$name" "$rps" "$refused" "$per" "$health" "$rss"
done
ratio() { awk -v r="$(awk -v n="$2" '$1 == n {print $2}' /tmp/fox-flood-cpu.txt)" -v c="$(awk -v n="$1" '$1 == n {print $2}' /tmp/fox-flood-cpu.txt)" 'BEGIN {printf "%.2f", r / c}'; }
printf '\nrandom / constant CPU per request (target <= 1.5): default limits %s, limits lifted %s\n' "$(ratio constant random)" "$(ratio open-constant open-random)"
echo "warn lines in the server log: $(grep -c '"level":"warn"' /tmp/fox-flood.log || true); request lines at info for 429s: $(grep '"status":429' /tmp/fox-flood.log | grep -c '"level":"info"' || true)"
