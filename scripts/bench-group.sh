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
    command -v bc >/dev/null || { apt-get update -qq && apt-get install -y -qq bc >/dev/null; }
    scripts/services/install.sh milvus pymilvus >&2
    swift build -c "$BUILD" --product milvus-migration >&2
    BIN="$(swift build -c "$BUILD" --show-bin-path)/milvus-migration"
    rm -rf "$WORK" && mkdir -p "$WORK"
    echo "generating 1 collection x $SEGMENTS segments x $ROWS rows, dim $DIM ($BUILD build)" >&2
    "$BIN" sample -o "$WORK/db" --bench-collections 1 --segments "$SEGMENTS" --rows "$ROWS" --dim $DIM >&2
    export MM_BENCH_INNER=1 BIN WORK RUNS DIM
    MM_RUN_DIR="$WORK/services" MILVUS_AUTH=0 scripts/netns-run.sh --services milvus -- "$0" "$WORK"
    [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
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
        jobs=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sum(len(c["importTasks"]) for c in r["collections"]))' "$WORK/$name.json")
        rows=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sum(c["targetRows"] for c in r["collections"]))' "$WORK/$name.json")
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
