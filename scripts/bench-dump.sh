#!/usr/bin/env bash
# Benchmark: `dump` (local -> local) against `cp -r` of the same tables/ folder, side by side.
# Generates a 1.x database of about SIZE_GB (default 2) GiB: 3 collections, 8 segments each
# (24 segments), dim 128, scattered deletions in every third segment. Then RUNS (default 3)
# rounds, each running cp -r and dump once (alternating which goes first), from a warm page
# cache (the source is read once before the first round), each after a `sync` that is not
# counted. Every run gives two times: until the process exits ("no sync"), and until a `sync`
# right after it returns ("sync counted": the data is on disk). Reports the medians, the
# throughput ratios dump/cp and dump's peak RSS (/usr/bin/time -v).
# Targets: ratio >= 0.9 without sync, >= 1.0 with the sync counted for both, RSS <= 100 MB.
# Usage: scripts/bench-dump.sh [WORKDIR]
#   env SIZE_GB (2), RUNS (3), FSYNC=1 (dumper.worker.fsync: true), KEEP=1 (keep the data)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh
WORK="${1:-/tmp/mm-bench}"
SIZE_GB="${SIZE_GB:-2}"
RUNS="${RUNS:-3}"
DIM=128
COLLECTIONS=3
SEGMENTS=8
ROWS=$(( SIZE_GB * 1024 * 1024 * 1024 / (COLLECTIONS * SEGMENTS * (DIM * 4 + 8)) ))

command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
swift build -c release --product milvus-migration >&2
BIN="$(swift build -c release --show-bin-path)/milvus-migration"

rm -rf "$WORK" && mkdir -p "$WORK"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
echo "generating ${SIZE_GB} GiB: $COLLECTIONS collections x $SEGMENTS segments x $ROWS rows, dim $DIM" >&2
"$BIN" sample -o "$WORK/db" --bench-collections $COLLECTIONS --segments $SEGMENTS --rows $ROWS --dim $DIM >&2
BYTES=$(du -sb "$WORK/db/tables" | cut -f1)
cat > "$WORK/migration.yaml" <<YAML
dumper:
  worker:
    workMode: milvus1x
    limit: 2
    fsync: $([ "${FSYNC:-0}" = 1 ] && echo true || echo false)
    reader:
      bufferSize: 1024
$(bench_source_yaml)
target:
  mode: local
  local:
    outputDir: $WORK/out
YAML
sync
cat "$WORK"/db/tables/*/*/*.rv "$WORK"/db/tables/*/*/*.uid > /dev/null   # warm page cache for every run

# measure NAME COMMAND...: prints "seconds-until-exit seconds-including-sync peak-rss-kB".
measure() {
  local name=$1; shift
  sync
  local start exited synced
  start=$(date +%s.%N)
  /usr/bin/time -v "$@" 2> "$WORK/$name.time" >/dev/null
  exited=$(date +%s.%N)
  sync
  synced=$(date +%s.%N)
  local rss
  rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); print $2}' "$WORK/$name.time")
  echo "$(echo "$exited - $start" | bc -l) $(echo "$synced - $start" | bc -l) $rss"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

: > "$WORK/cp.runs"; : > "$WORK/dump.runs"
run_cp() { measure cp cp -r "$WORK/db/tables" "$WORK/cp-copy" >> "$WORK/cp.runs"; rm -rf "$WORK/cp-copy"; }
run_dump() { measure dump "$BIN" dump -c "$WORK/migration.yaml" --quiet >> "$WORK/dump.runs"; rm -rf "$WORK/out"; }
for i in $(seq 1 "$RUNS"); do
  if [ $((i % 2)) = 1 ]; then run_cp; run_dump; else run_dump; run_cp; fi
  echo "round $i: cp $(tail -1 "$WORK/cp.runs" | cut -d' ' -f1,2) | dump $(tail -1 "$WORK/dump.runs" | cut -d' ' -f1,2) (s: no sync, sync counted)" >&2
done

cp_s=$(cut -d' ' -f1 "$WORK/cp.runs" | median);    cp_sync=$(cut -d' ' -f2 "$WORK/cp.runs" | median)
dump_s=$(cut -d' ' -f1 "$WORK/dump.runs" | median); dump_sync=$(cut -d' ' -f2 "$WORK/dump.runs" | median)
cp_rss=$(cut -d' ' -f3 "$WORK/cp.runs" | sort -g | tail -1); dump_rss=$(cut -d' ' -f3 "$WORK/dump.runs" | sort -g | tail -1)
mb=$(echo "$BYTES / 1000000" | bc -l)
printf 'machine: %s cores, %s; data: %.0f MB in %d segments; medians of %d runs, warm page cache; dumper.worker.fsync: %s\n' \
  "$(nproc)" "$(uname -r)" "$mb" $((COLLECTIONS * SEGMENTS)) "$RUNS" "$([ "${FSYNC:-0}" = 1 ] && echo true || echo false)"
printf '%-6s %10s %12s %16s %12s %14s\n' "" "no sync" "MB/s" "sync counted" "MB/s" "peak RSS"
printf '%-6s %8.2f s %12.1f %14.2f s %12.1f %11.1f MB\n' "cp -r" "$cp_s" "$(echo "$mb / $cp_s" | bc -l)" "$cp_sync" "$(echo "$mb / $cp_sync" | bc -l)" "$(echo "$cp_rss / 1024" | bc -l)"
printf '%-6s %8.2f s %12.1f %14.2f s %12.1f %11.1f MB\n' "dump" "$dump_s" "$(echo "$mb / $dump_s" | bc -l)" "$dump_sync" "$(echo "$mb / $dump_sync" | bc -l)" "$(echo "$dump_rss / 1024" | bc -l)"
printf 'throughput dump/cp: %.2f without sync (target >= 0.9), %.2f with the sync counted (target >= 1.0); dump peak RSS target <= 100 MB\n' \
  "$(echo "$cp_s / $dump_s" | bc -l)" "$(echo "$cp_sync / $dump_sync" | bc -l)"
