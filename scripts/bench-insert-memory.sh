#!/usr/bin/env bash
# Insert mode's memory against the dataset's size: the same shape of 1.x collection (8 segments,
# dim 128) at each of SIZES_MB, each sent into Milvus 2.3.5 with `start` in insert mode (16 MB
# batches, 2 segments in flight), one after the other in one run: seconds, MB/s and peak RSS
# (/usr/bin/time -v) per size. The point is that peak RSS does not follow the size. The page cache
# is warm (each source is read once before its run); no final sync is counted.
# Usage: scripts/bench-insert-memory.sh [WORKDIR]   env SIZES_MB ("256 1024"), BUILD (release|debug), KEEP=1
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${1:-/tmp/mm-bench-insert-memory}"
SIZES_MB="${SIZES_MB:-256 1024}"
BUILD="${BUILD:-release}"
DIM=128
SEGMENTS=8

if [ "${MM_BENCH_INNER:-0}" != 1 ]; then
    . scripts/bench-lib.sh
    bench_prepare "$BUILD"
    for size in $SIZES_MB; do
        bench_generate "$WORK/db$size" 1 $SEGMENTS $(( size * 1024 * 1024 / (SEGMENTS * (DIM * 4 + 8)) )) $DIM
    done
    export SIZES_MB BUILD DIM
    bench_enter "$0"
    exit 0
fi

# ------------------------------------------------------------------ inside the namespace
. scripts/services/common.sh
. scripts/bench-lib.sh
echo "machine: $(nproc) cores; $BUILD build; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for size in $SIZES_MB; do
    name="mem_$size"
    cat > "$WORK/$name.yaml" <<YAML
dumper:
  worker:
    workMode: milvus1x
loader:
  mode: insert
  insert:
    batchMB: 16
  worker:
    limit: 2
$(bench_source_yaml "$WORK/db$size")
$(bench_target_yaml "$WORK/out$size" "$name")
YAML
    cat "$WORK/db$size"/tables/*/*/*.rv "$WORK/db$size"/tables/*/*/*.uid > /dev/null
    bytes=$(du -cb "$WORK/db$size"/tables/*/*/*.rv "$WORK/db$size"/tables/*/*/*.uid | tail -1 | cut -f1)
    read -r seconds rss < <(bench_measure "$name" "$BIN" start -c "$WORK/$name.yaml" --quiet)
    printf 'insert %5s MiB source (%d bytes of ids + vectors): %7.1f s  %6.1f MB/s  peak RSS %6.1f MB\n' "$size" "$bytes" "$seconds" \
        "$(echo "$bytes / $seconds / 1000000" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
    bench_drop "$name"
done
