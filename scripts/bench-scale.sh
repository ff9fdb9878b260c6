#!/usr/bin/env bash
# Scale run: a generated 1.x database of SIZE_GB (default 20) GiB, and one of SMALL_GB (default 2)
# GiB of the same shape, each dumped (local -> local) under /usr/bin/time -v: seconds, MB/s and
# peak RSS side by side (the same RSS on both is the point). Then the large dump is loaded into
# Milvus 2.3.5 (`load`: one Import job per segment, counts checked against the journal): seconds,
# import jobs (--report), peak RSS. The source is removed before the load: source, staged copy and
# Milvus's own copy together need 3 x SIZE_GB of disk, which this machine does not have (and
# `start` needs all three at once, since target.cleanup removes staged files only after the
# counts, at the end). No final sync is counted; the large dump reads a source larger than what
# the page cache keeps of it (see scripts/bench-dump.sh for warm-cache medians against cp).
# Segments are about 1 GiB (1.x's default index_file_size), 2 collections, dim 128.
# MODE=start instead runs `start` (target.cleanup: true) of the large source alone, with a disk
# guard: it needs about 3 x SIZE_GB free (source, staged copy, Milvus's copy) and stops Milvus
# when less than 2 GB is left.
# Usage: scripts/bench-scale.sh [WORKDIR]   env SIZE_GB (20), SMALL_GB (2), MODE (dump-load|start),
#        BIN (a built binary), KEEP=1
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${1:-/tmp/mm-bench-scale}"
SIZE_GB="${SIZE_GB:-20}"
SMALL_GB="${SMALL_GB:-2}"
DIM=128
COLLECTIONS=2
MODE="${MODE:-dump-load}"

if [ "${MM_BENCH_INNER:-0}" != 1 ]; then
    . scripts/bench-lib.sh
    bench_prepare release   # BIN: a release binary built before (e.g. a copy), else built here
    sizes="$SMALL_GB $SIZE_GB"; [ "$MODE" = start ] && sizes="$SIZE_GB"
    for size in $sizes; do
        segments=$(( size / COLLECTIONS )); [ "$segments" -ge 1 ] || segments=1
        rows=$(( size * 1024 * 1024 * 1024 / (COLLECTIONS * segments * (DIM * 4 + 8)) ))
        start=$(date +%s.%N)
        bench_generate "$WORK/db$size" $COLLECTIONS "$segments" "$rows" $DIM
        echo "generated ${size} GiB in $(echo "$(date +%s.%N) - $start" | bc -l | cut -c1-6) s" >&2
    done
    export SIZE_GB SMALL_GB MODE
    bench_enter "$0"
    exit 0
fi

# ------------------------------------------------------------------ inside the namespace
. scripts/services/common.sh
. scripts/bench-lib.sh
yaml() { # size outputDir cleanup
    cat <<YAML
dumper:
  worker:
    workMode: milvus1x
    limit: 2
loader:
  worker:
    limit: 2
$(bench_source_yaml "$WORK/db$1")
target:
  mode: local
  cleanup: $3
  local:
    outputDir: $2
  milvus2x:
    endpoint: $MILVUS_ENDPOINT
YAML
}
if [ "$MODE" = start ]; then
    yaml "$SIZE_GB" "$WORK/start" true > "$WORK/start.yaml"
    echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB RAM; load before: $(cut -d' ' -f1-3 /proc/loadavg); free: $(df -h "$WORK" | awk 'NR==2 {print $4}')"
    # Disk guard: stop Milvus (and so the run) before the disk is full.
    ( while sleep 5; do
        free_kb=$(df -k "$WORK" | awk 'NR==2 {print $4}')
        if [ "$free_kb" -lt 2000000 ]; then echo "disk almost full: stopping the run" >&2; pkill -f -- "start -c $WORK/start.yaml"; exit; fi
      done ) & guard=$!
    sync
    read -r seconds rss < <(bench_measure start "$BIN" start -c "$WORK/start.yaml" --report "$WORK/start.json")
    kill "$guard" 2>/dev/null || true
    read -r jobs rows < <(bench_report_tasks "$WORK/start.json")
    bytes=$(du -sb "$WORK/db$SIZE_GB/tables" | cut -f1)
    printf 'start %s GiB (%d bytes): %7.1f s  %6.1f MB/s  %d import jobs  %d rows in Milvus (counts checked)  peak RSS %5.1f MB  staging left %s\n' \
        "$SIZE_GB" "$bytes" "$seconds" "$(echo "$bytes / $seconds / 1000000" | bc -l)" "$jobs" "$rows" "$(echo "$rss / 1024" | bc -l)" "$(du -sh "$WORK/start" | cut -f1)"
    echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); free: $(df -h "$WORK" | awk 'NR==2 {print $4}')"
    exit 0
fi
machine="$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB RAM, $(df -h "$WORK" | awk 'NR==2 {print $1}'), $(uname -r)"
echo "machine: $machine; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for size in "$SMALL_GB" "$SIZE_GB"; do
    bytes=$(du -sb "$WORK/db$size/tables" | cut -f1)
    yaml "$size" "$WORK/out$size" false > "$WORK/dump$size.yaml"
    sync
    read -r seconds rss < <(bench_measure "dump$size" "$BIN" dump -c "$WORK/dump$size.yaml" --quiet)
    printf 'dump %3s GiB (%d bytes): %7.1f s  %6.1f MB/s  peak RSS %5.1f MB  (load %s)\n' "$size" "$bytes" "$seconds" \
        "$(echo "$bytes / $seconds / 1000000" | bc -l)" "$(echo "$rss / 1024" | bc -l)" "$(cut -d' ' -f1-3 /proc/loadavg)"
    [ "$size" = "$SIZE_GB" ] || rm -rf "$WORK/out$size"
done
yaml "$SIZE_GB" "$WORK/out$SIZE_GB" false > "$WORK/load.yaml"

# The staged dump of the large source is loaded; the source itself goes first (disk).
dump_staged=$(du -sb "$WORK/out$SIZE_GB" | cut -f1)
rm -rf "$WORK/db$SMALL_GB" "$WORK/db$SIZE_GB/tables"
sync
read -r seconds rss < <(bench_measure load "$BIN" load -c "$WORK/load.yaml" --report "$WORK/load.json")
read -r jobs rows < <(bench_report_tasks "$WORK/load.json")
printf 'load %s GiB (%d staged bytes): %7.1f s  %6.1f MB/s  %d import jobs  %d rows in Milvus (counts checked)  peak RSS %5.1f MB\n' "$SIZE_GB" \
    "$dump_staged" "$seconds" "$(echo "$dump_staged / $seconds / 1000000" | bc -l)" "$jobs" "$rows" "$(echo "$rss / 1024" | bc -l)"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
