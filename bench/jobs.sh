#!/usr/bin/env bash
# Benchmarks of the job platform (release build, this machine, one run):
#   latency    — submit → running (jobs.started_at − jobs.created_at) of trivial jobs with an
#                idle embedded worker woken by NOTIFY: p50 / p99 over $LAT_N jobs;
#   throughput — $TP_N trivial jobs drained by 1, then by 2 `fox worker` processes (1 slot,
#                1 engine thread each): jobs/s and the ratio;
#   overhead   — one real experiment as a job (submit → succeeded seen by the client) vs the
#                same experiment with `fox-engine run` on the same file and threads;
#   upload     — a ~1 GB CSV through POST /api/v1/datasets vs `cp` of the same file on this
#                disk, and the server's RSS growth (VmHWM) during the upload.
# Usage: bench/jobs.sh [latency|throughput|overhead|upload|all]
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
LAT_N=${LAT_N:-60}
TP_N=${TP_N:-200}
UPLOAD_GB=${UPLOAD_GB:-1}
pg_isready -h 127.0.0.1 -p 5432 -q || pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start

target=${CARGO_TARGET_DIR:-target}
if [ -z "${SKIP_BUILD:-}" ]; then # SKIP_BUILD=1: measure the binaries already built
  SQLX_OFFLINE=true cargo build --release --locked --bin fox -q
  SQLX_OFFLINE=true cargo build --release --locked -p fox-engine --bin fox-engine -q
fi
fox="$PWD/$target/release/fox"
[ -x "$fox" ] || fox="$target/release/fox"
engine="$(dirname "$fox")/fox-engine"
work=$(mktemp -d /var/tmp/fox-bench-jobs.XXXX)
port=18082
db=fox_bench_jobs_$$
export FOX__SERVER__PORT=$port FOX__DATABASE__NAME=$db FOX__LOG__FORMAT=json FOX__LOG__LEVEL=warn
export FOX__STORAGE__LOCAL_DIR=$work/storage FOX__STORAGE__SPOOL_DIR=$work/spool FOX__WORKER__WORK_DIR=$work/jobs
export FOX__SECURITY__LOCAL_KEYS_DIR=$work/keys FOX__SERVER__SHUTDOWN_DRAIN_SECS=0 FOX__WORKER__POLL_SECS=5
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db" postgres >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
server_pid=
start_server() { # extra env
  [ -n "$server_pid" ] && { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; }
  env "$@" "$fox" serve >>"$work/server.log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  for _ in $(seq 1 200); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && return; sleep 0.1; done
  echo "server did not start" >&2; exit 1
}
api="http://127.0.0.1:$port/api/v1"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

start_server FOX__WORKER__EMBEDDED_SLOTS=1
key=$("$fox" license issue --email bench@fox.example --tier desk --days 30 2>/dev/null | sed -n 's/^key: //p')
token=$("$fox" token create --email bench@fox.example --name bench 2>/dev/null | sed -n 's/^token: //p')
psql -h 127.0.0.1 -U postgres -qc "UPDATE licenses SET entitlements = entitlements || '{\"jobs_per_month\": 100000, \"concurrent_jobs\": 16, \"max_dataset_gb\": 20}'" "$db" >/dev/null
auth=(-H "Authorization: Bearer $token")
upload() { # FILE NAME -> dataset id (streamed from the file: -T never loads it whole)
  curl -fsS "${auth[@]}" -H 'content-type: text/csv' -X POST -T "$1" "$api/datasets?name=$2" | json 'd["id"]'
}
submit() { # DATASET EXPERIMENT_JSON -> job id
  curl -fsS "${auth[@]}" -H 'content-type: application/json' \
    -d "{\"dataset_id\":\"$1\",\"experiment\":$2}" "$api/jobs" | json 'd["id"]'
}
wait_done() { # JOB — follows the job's events (SSE: one idle connection, no polling that would
  # take CPU from the run being measured); the stream ends after the final state.
  curl -fsSN "${auth[@]}" -H 'Accept: text/event-stream' "$api/jobs/$1/events" >/dev/null
  s=$(curl -fsS "${auth[@]}" "$api/jobs/$1" | json 'd["state"]')
  [ "$s" = succeeded ] || { echo "job $1 $s" >&2; return 1; }
}
q() { psql -h 127.0.0.1 -U postgres -Atqc "$1" "$db"; }

"$engine" --log-level warn generate --out "$work/tiny.csv" --entities 12 --timestamps 120 --seed 1
tiny=$(upload "$work/tiny.csv" tiny.csv)
trivial='{"data":{"timestamp_col":"ts","entity_col":"symbol"},"targets":{"top_n":1},"features":{"top_m":3},"cv":{"n_splits":3},"models":{"gbdt":{"n_trees":2,"num_leaves":3}},"threads":1}'
declare -a out
# Each result is also printed as it is measured (a later failure keeps the earlier ones).
record() { out+=("$1"); echo "RESULT $1" >&2; }

if [[ $what == latency || $what == all ]]; then
  ids=()
  for _ in $(seq 1 "$LAT_N"); do
    id=$(submit "$tiny" "$trivial"); ids+=("$id"); wait_done "$id"
  done
  list=$(printf "'%s'," "${ids[@]}"); list=${list%,}
  read -r p50 p99 <<<"$(q "SELECT round((percentile_cont(0.5) WITHIN GROUP (ORDER BY ms))::numeric, 1), round((percentile_cont(0.99) WITHIN GROUP (ORDER BY ms))::numeric, 1) FROM (SELECT extract(epoch FROM started_at - created_at) * 1000 AS ms FROM jobs WHERE id IN ($list)) t" | tr '|' ' ')"
  record "latency|submit → running, $LAT_N trivial jobs, idle embedded worker (NOTIFY)|p50 ${p50} ms, p99 ${p99} ms|p99 < 1000 ms"
fi

if [[ $what == throughput || $what == all ]]; then
  start_server FOX__WORKER__EMBEDDED_SLOTS=0
  drain() { # WORKERS -> seconds from the first job's start to the last job's end (the
    # database's clock: neither worker start-up nor the harness's polling is counted, and
    # the harness polls only twice a second so as not to take CPU from the workers)
    local ids=() wp=()
    for _ in $(seq 1 "$TP_N"); do ids+=("$(submit "$tiny" "$trivial")"); done
    for _ in $(seq 1 "$1"); do
      FOX__WORKER__THREADS_PER_JOB=1 FOX__WORKER__POLL_SECS=1 "$fox" worker --slots 1 >>"$work/worker.log" 2>&1 &
      wp+=($!); pids+=($!)
    done
    while [ "$(q "SELECT count(*) FROM jobs WHERE state = 'queued' OR state = 'running'")" != 0 ]; do sleep 0.5; done
    for p in "${wp[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
    local list; list=$(printf "'%s'," "${ids[@]}"); list=${list%,}
    q "SELECT extract(epoch FROM max(finished_at) - min(started_at)) FROM jobs WHERE id IN ($list)"
  }
  one=$(drain 1); two=$(drain 2)
  r1=$(awk -v n="$TP_N" -v s="$one" 'BEGIN {printf "%.2f", n / s}')
  r2=$(awk -v n="$TP_N" -v s="$two" 'BEGIN {printf "%.2f", n / s}')
  ratio=$(awk -v a="$r1" -v b="$r2" 'BEGIN {printf "%.2f", b / a}')
  record "throughput|$TP_N trivial jobs, 1 vs 2 worker processes (1 slot, 1 thread each)|1 worker ${r1} jobs/s, 2 workers ${r2} jobs/s: ${ratio}×|2 workers ≥ 1.7×"
  start_server FOX__WORKER__EMBEDDED_SLOTS=1
fi

if [[ $what == overhead || $what == all ]]; then
  "$engine" --log-level warn generate --out "$work/medium.csv" --entities 200 --timestamps 1000 --seed 2
  exp='{"data":{"timestamp_col":"ts","entity_col":"symbol"},"targets":{"top_n":2},"features":{"top_m":10},"cv":{"n_splits":4},"models":{"gbdt":{"n_trees":60,"num_leaves":15}}}'
  medium=$(upload "$work/medium.csv" medium.csv)
  threads=$(nproc)
  # The CLI run: the same experiment, file and thread count.
  python3 - "$work" "$exp" "$threads" <<'PY'
import json, sys
work, exp, threads = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
exp["data"]["path"] = f"{work}/medium.csv"
exp["data"]["format"] = "csv"
exp["output"] = {"dir": f"{work}/cli-run"}
exp["threads"] = threads
open(f"{work}/medium.yaml", "w").write(json.dumps(exp))
PY
  # The CLI is licensed like a customer's: this platform's key, activated once beforehand
  # (the timed run checks the cached activation, as every run does).
  pub=$(curl -fsS "http://127.0.0.1:$port/.well-known/fox-license-key" | json 'd["public_key"]')
  licensed=(env FOX_LICENSE_KEY="$key" FOX_LICENSE_PUBLIC_KEY="$pub" FOX_PLATFORM_URL="http://127.0.0.1:$port" FOX_LICENSE_DIR="$work/cli-license")
  "${licensed[@]}" "$engine" --log-level warn license activate >/dev/null
  t0=$(date +%s.%N); "${licensed[@]}" "$engine" --log-level warn run "$work/medium.yaml" --format json >/dev/null; t1=$(date +%s.%N)
  cli=$(echo "$t1 - $t0" | bc -l)
  t0=$(date +%s.%N); id=$(submit "$medium" "$exp"); wait_done "$id"; t1=$(date +%s.%N)
  job=$(echo "$t1 - $t0" | bc -l)
  over=$(awk -v j="$job" -v c="$cli" 'BEGIN {printf "%.2f s (%.1f %%)", j - c, (j - c) / c * 100}')
  # Where the difference goes: queue wait, the attempt before the engine's first stage
  # (dataset from the store, child start), the engine's stages, after its last event
  # (artifacts to the store, summary), and the client seeing the final state.
  q "SELECT 'queue ' || round(extract(epoch FROM started_at - created_at)::numeric, 3) || ' s, before first stage ' ||
       round(extract(epoch FROM (SELECT min(at) FROM job_events WHERE job_id = j.id AND kind = 'stage') - started_at)::numeric, 3) || ' s, stages ' ||
       round(extract(epoch FROM (SELECT max(at) FROM job_events WHERE job_id = j.id AND kind IN ('stage', 'progress')) - (SELECT min(at) FROM job_events WHERE job_id = j.id AND kind = 'stage'))::numeric, 3) || ' s, after last event ' ||
       round(extract(epoch FROM finished_at - (SELECT max(at) FROM job_events WHERE job_id = j.id AND kind IN ('stage', 'progress')))::numeric, 3) || ' s, log lines ' ||
       (SELECT count(*) FROM job_events WHERE job_id = j.id AND kind = 'log')
     FROM jobs j WHERE id = '$id'" | sed 's/^/overhead breakdown: /' >&2
  record "overhead|200k rows × 31 columns, 4 folds, 60 trees, $threads threads: CLI vs job (submit → succeeded)|CLI $(printf %.2f "$cli") s, job $(printf %.2f "$job") s: +$over|≤ 5 % + 1 s"
fi

if [[ $what == upload || $what == all ]]; then
  "$engine" --log-level warn generate --out "$work/part.csv" --entities 500 --timestamps 2000 --seed 3
  size=$(stat -c %s "$work/part.csv")
  reps=$(( (UPLOAD_GB * 1000000000 + size - 1) / size ))
  { cat "$work/part.csv"; for _ in $(seq 2 "$reps"); do tail -n +2 "$work/part.csv"; done; } >"$work/big.csv"
  rm "$work/part.csv"
  bytes=$(stat -c %s "$work/big.csv")
  sync
  t0=$(date +%s.%N); cp "$work/big.csv" "$work/big-copy.csv"; sync; t1=$(date +%s.%N)
  cp_s=$(echo "$t1 - $t0" | bc -l); rm "$work/big-copy.csv"
  before=$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status")
  t0=$(date +%s.%N); upload "$work/big.csv" big.csv >/dev/null; sync; t1=$(date +%s.%N)
  up_s=$(echo "$t1 - $t0" | bc -l)
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")
  grow=$(( (hwm - before) / 1024 ))
  record "upload|$(awk -v b="$bytes" 'BEGIN {printf "%.2f GB", b / 1e9}') CSV: POST /api/v1/datasets vs cp on this disk|upload $(printf %.2f "$up_s") s ($(awk -v b="$bytes" -v s="$up_s" 'BEGIN {printf "%.0f", b / s / 1e6}') MB/s), cp $(printf %.2f "$cp_s") s ($(awk -v b="$bytes" -v s="$cp_s" 'BEGIN {printf "%.0f", b / s / 1e6}') MB/s); server RSS grew ${grow} MiB (peak $((hwm / 1024)) MiB)|RSS grows < 64 MiB"
fi

printf '\nrelease build, %s cores, %s\n\n' "$(nproc)" "$(date -u +%FT%TZ)"
printf '| %s | %s | %s | %s |\n|---|---|---|---|\n' measure setup result target
for r in "${out[@]}"; do IFS='|' read -r a b c d <<<"$r"; printf '| %s | %s | %s | %s |\n' "$a" "$b" "$c" "$d"; done
