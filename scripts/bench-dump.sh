#!/usr/bin/env bash
# Benchmark: `dump` (local -> local) against `cp -r` of the same tables/ folder, side by side.
# Generates a 1.x database of about SIZE_GB (default 3) GiB: 3 collections, 8 segments each
# (24 segments), dim 128, scattered deletions in every third segment. Reports throughput,
# the ratio dump/cp and peak RSS (/usr/bin/time -v). Targets: ratio >= 0.8, RSS < 100 MB.
# Usage: scripts/bench-dump.sh [WORKDIR]   (env SIZE_GB, KEEP=1 to keep the data)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${1:-/tmp/mm-bench}"
SIZE_GB="${SIZE_GB:-3}"
DIM=128
COLLECTIONS=3
SEGMENTS=8
ROWS=$(( SIZE_GB * 1024 * 1024 * 1024 / (COLLECTIONS * SEGMENTS * (DIM * 4 + 8)) ))

command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
swift build -c release --product milvus-migration >&2
BIN="$(swift build -c release --show-bin-path)/milvus-migration"

rm -rf "$WORK" && mkdir -p "$WORK"
echo "generating ${SIZE_GB} GiB: $COLLECTIONS collections x $SEGMENTS segments x $ROWS rows, dim $DIM" >&2
"$BIN" sample -o "$WORK/db" --bench-collections $COLLECTIONS --segments $SEGMENTS --rows $ROWS --dim $DIM >&2
BYTES=$(du -sb "$WORK/db/tables" | cut -f1)
cat > "$WORK/migration.yaml" <<YAML
dumper:
  worker:
    workMode: milvus1x
    limit: 2
    reader:
      bufferSize: 1024
meta:
  mode: sqlite
  sqliteFile: $WORK/db/meta.sqlite
source:
  mode: local
  local:
    tablesDir: $WORK/db/tables
target:
  mode: local
  local:
    outputDir: $WORK/out
YAML
sync
cat "$WORK"/db/tables/*/*/*.rv > /dev/null   # same (warm) page cache for both runs

measure() { # name, command...
  local name=$1; shift
  sync
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -v "$@" 2> "$WORK/$name.time" >/dev/null
  sync
  end=$(date +%s.%N)
  local secs rss
  secs=$(echo "$end - $start" | bc -l)
  rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); print $2}' "$WORK/$name.time")
  echo "$name $secs $rss"
}
read -r _ cp_s cp_rss < <(measure cp cp -r "$WORK/db/tables" "$WORK/cp-copy")
rm -rf "$WORK/cp-copy"
read -r _ dump_s dump_rss < <(measure dump "$BIN" dump -c "$WORK/migration.yaml" --quiet)
mb=$(echo "$BYTES / 1000000" | bc -l)
printf 'data: %.0f MB in %d segments\n' "$mb" $((COLLECTIONS * SEGMENTS))
printf 'cp -r : %6.2f s  %7.1f MB/s  peak RSS %6.1f MB\n' "$cp_s" "$(echo "$mb / $cp_s" | bc -l)" "$(echo "$cp_rss / 1024" | bc -l)"
printf 'dump  : %6.2f s  %7.1f MB/s  peak RSS %6.1f MB\n' "$dump_s" "$(echo "$mb / $dump_s" | bc -l)" "$(echo "$dump_rss / 1024" | bc -l)"
printf 'ratio dump/cp throughput: %.2f (target >= 0.8); dump RSS target < 100 MB\n' "$(echo "$cp_s / $dump_s" | bc -l)"
[ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
