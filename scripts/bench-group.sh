#!/usr/bin/env bash
# Benchmark: coalescing small segments (dumper.worker.groupMB). The same generated 1.x collection
# of many small segments is migrated into Milvus 2.3.5 with `start`, once with grouping off
# (groupMB 0: one import job per segment) and once with the default (256 MB groups), side by side
# in one run: import jobs (from --report) and seconds, each round into fresh collections; the page
# cache is warm (the source is read once before); nothing is synced. Medians of RUNS rounds.
# Usage: scripts/bench-group.sh [WORKDIR]   env SEGMENTS (500), ROWS (500 per segment), RUNS (1),
#        BUILD (release|debug), KEEP=1
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${1:-/tmp/mm-bench-group}"
SEGMENTS="${SEGMENTS:-500}"
ROWS="${ROWS:-500}"
RUNS="${RUNS:-1}"
BUILD="${BUILD:-release}"
DIM=128

if [ "${MM_BENCH_INNER:-0}" != 1 ]; then
    . scripts/bench-lib.sh
    bench_prepare "$BUILD"
    bench_generate "$WORK/db" 1 "$SEGMENTS" "$ROWS" $DIM
    export RUNS DIM
    bench_enter "$0"
    exit 0
fi

# ------------------------------------------------------------------ inside the namespace
. scripts/services/common.sh
. scripts/bench-lib.sh
config() { # groupMB collection outputDir
    cat <<YAML
dumper:
  worker:
    workMode: milvus1x
    limit: 2
    groupMB: $1
loader:
  worker:
    limit: 2
$(bench_source_yaml)
$(bench_target_yaml "$3" "$2")
YAML
}
cat "$WORK"/db/tables/*/*/*.rv "$WORK"/db/tables/*/*/*.uid > /dev/null
: > "$WORK/results"
for round in $(seq 1 "$RUNS"); do
    for group in 0 256; do
        name="g${group}_$round"
        config "$group" "$name" "$WORK/out-$name" > "$WORK/$name.yaml"
        start=$(date +%s.%N)
        "$BIN" start -c "$WORK/$name.yaml" --quiet --report "$WORK/$name.json" >/dev/null
        end=$(date +%s.%N)
        read -r jobs rows < <(bench_report_tasks "$WORK/$name.json")
        echo "groupMB=$group $(echo "$end - $start" | bc -l) $jobs $rows" >> "$WORK/results"
        echo "round $round groupMB=$group: $(tail -1 "$WORK/results")" >&2
        bench_drop "$name"
        rm -rf "$WORK/out-$name"
    done
done
printf '%d segments x %d rows (dim %d), %d round(s), medians\n' "$SEGMENTS" "$ROWS" "$DIM" "$RUNS"
for group in 0 256; do
    read -r s j r < <(bench_median "groupMB=$group" "$WORK/results")
    printf 'groupMB %-4s %7.1f s  %4d import jobs  %9d rows in Milvus\n' "$group" "$s" "$j" "$r"
done
