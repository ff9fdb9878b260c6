#!/usr/bin/env bash
# Benchmark: `verify --full` against the import of the same rows into Milvus 2.3.5, side by side in
# one run. Each round imports the generated source into a fresh collection with `start` (timed),
# then times, on that collection:
#   first   - `verify --full --load`: builds the mapped index, loads, compares every row
#   before  - `verify --full` as it read rows before: one Strong Query of <= 1000 rows at a time
#             (MILVUS_MIGRATION_VERIFY_QUERY=parallel=1,rows=1000,bytes=2097152,strong)
#   now     - `verify --full` with the defaults: 4 Queries in flight while the source is read,
#             <= 4000 rows (4 MiB) each, read as of the collection's flush timestamp
# The page cache is warm (the source is read once before); nothing is synced. Reports medians of
# RUNS rounds: seconds, rows/s, peak RSS (/usr/bin/time -v).
# Usage: scripts/bench-verify.sh [WORKDIR]   env SIZE_MB (default 512), RUNS (3), BUILD (release|debug), KEEP=1
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${1:-/tmp/mm-bench-verify}"
SIZE_MB="${SIZE_MB:-512}"
RUNS="${RUNS:-3}"
BUILD="${BUILD:-release}"
DIM=128
SEGMENTS=8
ROWS=$(( SIZE_MB * 1024 * 1024 / (SEGMENTS * (DIM * 4 + 8)) ))

if [ "${MM_BENCH_INNER:-0}" != 1 ]; then
    . scripts/bench-lib.sh
    bench_prepare "$BUILD"
    echo "${SIZE_MB} MiB ($BUILD build)" >&2
    bench_generate "$WORK/db" 1 $SEGMENTS $ROWS $DIM
    export RUNS DIM
    bench_enter "$0"
    exit 0
fi

# ------------------------------------------------------------------ inside the namespace
. scripts/services/common.sh
. scripts/bench-lib.sh
config() { # collection outputDir
    cat <<YAML
dumper:
  worker:
    workMode: milvus1x
loader:
  worker:
    limit: 2
$(bench_source_yaml)
$(bench_target_yaml "$2" "$1")
YAML
}
cat "$WORK"/db/tables/*/*/*.rv "$WORK"/db/tables/*/*/*.uid > /dev/null
config x "$WORK/x" > "$WORK/plan.yaml"
LIVE=$("$BIN" plan -c "$WORK/plan.yaml" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["liveRows"])')
: > "$WORK/results"
for round in $(seq 1 "$RUNS"); do
    config "v_$round" "$WORK/out-$round" > "$WORK/r$round.yaml"
    read -r s r < <(bench_measure "import-$round" "$BIN" start -c "$WORK/r$round.yaml" --quiet); echo "import $s $r" >> "$WORK/results"
    read -r s r < <(bench_measure "first-$round" "$BIN" verify -c "$WORK/r$round.yaml" --full --load --quiet); echo "first $s $r" >> "$WORK/results"
    read -r s r < <(MILVUS_MIGRATION_VERIFY_QUERY=parallel=1,rows=1000,bytes=2097152,strong \
        bench_measure "before-$round" "$BIN" verify -c "$WORK/r$round.yaml" --full --quiet); echo "before $s $r" >> "$WORK/results"
    read -r s r < <(bench_measure "now-$round" "$BIN" verify -c "$WORK/r$round.yaml" --full --quiet); echo "now $s $r" >> "$WORK/results"
    bench_drop "v_$round"
    rm -rf "$WORK/out-$round"
    echo "round $round: $(tail -4 "$WORK/results" | tr '\n' ' ')" >&2
done
MB=$(echo "$LIVE * (8 + 4 * $DIM) / 1000000" | bc -l)
printf 'rows: %d live (%.0f MB of ids + vectors), %d rounds, medians\n' "$LIVE" "$MB" "$RUNS"
for step in import first before now; do
    read -r s r < <(bench_median "$step" "$WORK/results")
    printf '%-7s %7.1f s  %9.0f rows/s  peak RSS %6.1f MB\n' "$step" "$s" "$(echo "$LIVE / $s" | bc -l)" "$(echo "$r / 1024" | bc -l)"
done
