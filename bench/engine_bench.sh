#!/usr/bin/env bash
# Benchmarks of the fox-engine crate (never run by CI):
#   gbdt     — our histogram GBDT vs LightGBM 4.x on the same data, trees, leaves, learning
#              rate and threads: training time and held-out rank IC / AUC.
#   pipeline — the full `fox-engine run` vs a pandas + scikit-learn + LightGBM reference doing
#              the same stages (bench/engine_reference.py): wall time and peak RSS, one run each.
#   scaling  — `fox-engine run` wall time and peak RSS at 100k, 1M (and, with SCALE_5M=1, 5M) rows.
# Python packages live in bench/.venv (created here; the system Python is never touched).
#   early    — the same 1M run with and without early stopping of the ranking fits
#              (EARLY_ROUNDS, default 20): wall time, ranking time, peak RSS, and the
#              same-answer checks of bench/same_answer.py (order, leakage verdicts, top-m
#              Jaccard, held-out skill).
# Usage: bench/engine_bench.sh [gbdt|pipeline|scaling|early|all]   (results in bench/results/)
# Knobs (env): THREADS, GBDT_THREADS, LGB_LAYOUTS (LightGBM histogram layouts timed: col row auto), TREES, LEAVES, LR, SPLITS, TOP_N, TOP_M, DATA_DIR, SCALE_5M,
# FOX_BENCH_TARGETS (GBDT targets).
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
THREADS=${THREADS:-2}
GBDT_THREADS=${GBDT_THREADS:-"1 2"}
LGB_LAYOUTS=${LGB_LAYOUTS:-"col row"}
TREES=${TREES:-50}
LEAVES=${LEAVES:-31}
LR=${LR:-0.1}
SPLITS=${SPLITS:-5}
TOP_N=${TOP_N:-3}
TOP_M=${TOP_M:-30}
DATA=${DATA_DIR:-/tmp/fox-bench}
OUT=bench/results
mkdir -p "$DATA" "$OUT"

VENV=bench/.venv
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check lightgbm==4.7.0 scikit-learn "pandas<3" numpy
fi
PY="$VENV/bin/python"
cargo build -p fox-engine --release -q
SQLX_OFFLINE=true cargo build --release --bin fox -q
cargo bench -p fox-engine --bench gbdt --no-run -q 2>/dev/null
TARGET=${CARGO_TARGET_DIR:-target}
ENGINE=$TARGET/release/fox-engine
GBDT_BENCH=$(ls -t "$TARGET"/release/deps/gbdt-* | grep -v '\.d$' | head -1)
# `fox-engine run` needs a license: this machine gets one as an air-gapped install would.
source bench/engine_license.sh
license_engine "$ENGINE" "$TARGET/release/fox" "$DATA" >&2

# gen NAME ENTITIES TIMESTAMPS NOISE [--no-leaks]
gen() {
  [ -f "$DATA/$1.csv" ] || "$ENGINE" --log-level warn generate --out "$DATA/$1.csv" --entities "$2" --timestamps "$3" --noise "$4" --seed 1 ${5:-}
}

# measure LABEL CMD... : wall seconds and peak RSS (MiB) of one command, appended to $OUT/runs.jsonl
measure() {
  local label=$1; shift
  /usr/bin/time -v "$@" >"$OUT/$label.stdout" 2>"$OUT/$label.time"
  local wall rss
  wall=$(grep "Elapsed (wall clock)" "$OUT/$label.time" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(grep "Maximum resident" "$OUT/$label.time" | awk '{print int($NF/1024)}')
  echo "{\"label\":\"$label\",\"wall_s\":$wall,\"peak_rss_mib\":$rss}" | tee -a "$OUT/runs.jsonl"
}

experiment() { # NAME DATA_CSV
  cat >"$DATA/$1.yaml" <<YAML
name: $1
seed: 1
threads: $THREADS
data:
  path: $2
targets:
  top_n: $TOP_N
features:
  top_m: $TOP_M
cv:
  n_splits: $SPLITS
models:
  gbdt:
    n_trees: $TREES
    num_leaves: $LEAVES
    learning_rate: $LR
    early_stopping_rounds: ${EARLY:-0}
output:
  dir: $DATA/run-$1
  format: json
YAML
}

if [ "$what" = gbdt ] || [ "$what" = all ]; then
  gen gbdt_1m 500 2000 95 --no-leaks
  : >"$OUT/gbdt.jsonl"
  for th in $GBDT_THREADS; do
    "$GBDT_BENCH" "$DATA/gbdt_1m.csv" "$th" 100 "$LEAVES" 0.05 | tee -a "$OUT/gbdt.jsonl"
    for layout in $LGB_LAYOUTS; do
      LGB_LAYOUT=$layout "$PY" bench/engine_gbdt_lgb.py "$DATA/gbdt_1m.csv" "$th" 100 "$LEAVES" 0.05 | tee -a "$OUT/gbdt.jsonl"
    done
  done
fi

if [ "$what" = pipeline ] || [ "$what" = all ]; then
  gen pipe_1m 500 2000 89
  experiment pipe_1m "$DATA/pipe_1m.csv"
  measure fox-engine-1m "$ENGINE" --log-format llm run "$DATA/pipe_1m.yaml"
  measure python-reference-1m "$PY" bench/engine_reference.py "$DATA/pipe_1m.csv" "$DATA/ref-1m" "$THREADS" "$TREES" "$LEAVES" "$LR" "$SPLITS" "$TOP_N" "$TOP_M"
fi

if [ "$what" = scaling ] || [ "$what" = all ]; then
  gen pipe_100k 200 500 89
  experiment pipe_100k "$DATA/pipe_100k.csv"
  measure fox-engine-100k "$ENGINE" --log-format llm run "$DATA/pipe_100k.yaml"
  gen pipe_1m 500 2000 89
  experiment pipe_1m "$DATA/pipe_1m.csv"
  [ -f "$OUT/fox-engine-1m.time" ] || measure fox-engine-1m "$ENGINE" --log-format llm run "$DATA/pipe_1m.yaml"
  if [ "${SCALE_5M:-0}" = 1 ]; then
    gen pipe_5m 1000 5000 89
    experiment pipe_5m "$DATA/pipe_5m.csv"
    measure fox-engine-5m "$ENGINE" --log-format llm run "$DATA/pipe_5m.yaml"
  fi
fi

if [ "$what" = early ]; then
  gen pipe_1m 500 2000 89
  experiment pipe_1m "$DATA/pipe_1m.csv"
  measure fox-engine-1m-thorough "$ENGINE" --log-format llm run "$DATA/pipe_1m.yaml"
  mv "$DATA/run-pipe_1m" "$DATA/run-pipe_1m-thorough"
  EARLY=${EARLY_ROUNDS:-20} experiment pipe_1m "$DATA/pipe_1m.csv"
  measure fox-engine-1m-early "$ENGINE" --log-format llm run "$DATA/pipe_1m.yaml"
  for l in thorough early; do
    echo "$l: rank targets $(grep 'stage finished' "$OUT/fox-engine-1m-$l.stdout" "$OUT/fox-engine-1m-$l.time" 2>/dev/null | grep 'rank targets' | sed 's/.*elapsed_ms=\([0-9]*\).*/\1/' | head -1) ms"
  done
  python3 bench/same_answer.py "$DATA/run-pipe_1m-thorough" "$DATA/run-pipe_1m" "$TOP_M" || true
fi
