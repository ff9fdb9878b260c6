#!/usr/bin/env bash
# Benchmark: upload throughput of `dump` (local 1.x files -> S3 bucket, target.mode remote)
# against `aws s3 cp --recursive` of the same tables/ folder to the same moto_server, side by
# side in one run, with peak RSS (/usr/bin/time -v). Targets: dump at least as fast, RSS < 150 MB.
# Generates a 1.x database of about SIZE_GB (default 1) GiB: 3 collections x 8 segments, dim 128.
#
# Usage (moto must run: the script re-runs itself inside the private namespace when needed):
#   scripts/bench-s3.sh [WORKDIR]                       # builds, then netns-run.sh --services moto
#   scripts/netns-run.sh --services moto -- scripts/bench-s3.sh [WORKDIR]   # binary built before
# Env: SIZE_GB, KEEP=1 to keep the data, PART_MB (dump part size, default 8), UPLOAD_CONCURRENCY (default 4),
#      LIMIT (dumper.worker.limit, default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh
WORK="${1:-/tmp/mm-bench-s3}"

if [[ ",${MM_SERVICES:-}," != *,moto,* ]]; then
    command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
    command -v aws >/dev/null || python3 -m pip install -q awscli
    scripts/services/install.sh moto >&2
    swift build -c release --product milvus-migration >&2
    exec scripts/netns-run.sh --services moto -- "$0" "$WORK"
fi

BIN="$(swift build -c release --show-bin-path)/milvus-migration"
[ -x "$BIN" ] || { echo "build first: swift build -c release --product milvus-migration" >&2; exit 1; }
SIZE_GB="${SIZE_GB:-1}"
DIM=128
COLLECTIONS=3
SEGMENTS=8
ROWS=$(( SIZE_GB * 1024 * 1024 * 1024 / (COLLECTIONS * SEGMENTS * (DIM * 4 + 8)) ))
export AWS_ACCESS_KEY_ID="$MM_S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$MM_S3_SECRET_KEY" AWS_DEFAULT_REGION="$MM_S3_REGION"
AWS=(aws --endpoint-url "$MM_S3_ENDPOINT")
BUCKET="$MM_S3_BUCKET"

rm -rf "$WORK" && mkdir -p "$WORK"
echo "generating ${SIZE_GB} GiB: $COLLECTIONS collections x $SEGMENTS segments x $ROWS rows, dim $DIM" >&2
"$BIN" sample -o "$WORK/db" --bench-collections $COLLECTIONS --segments $SEGMENTS --rows $ROWS --dim $DIM >&2
BYTES=$(du -sb "$WORK/db/tables" | cut -f1)
cat > "$WORK/migration.yaml" <<YAML
dumper:
  worker:
    workMode: milvus1x
    limit: ${LIMIT:-2}
$(bench_source_yaml)
target:
  mode: remote
  remote:
    outputDir: bench-dump
    cloud: aws
    endpoint: $MM_S3_ENDPOINT
    region: $MM_S3_REGION
    bucket: $BUCKET
    ak: $MM_S3_ACCESS_KEY
    sk: $MM_S3_SECRET_KEY
    useSSL: false
    partSizeMB: ${PART_MB:-8}
    uploadConcurrency: ${UPLOAD_CONCURRENCY:-4}
YAML
cat "$WORK"/db/tables/*/*/* > /dev/null   # same (warm) page cache for both runs

measure() { # name, command...  -> "name seconds peakRSS_kB cpu_seconds"
  local name=$1; shift
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -v "$@" 2> "$WORK/$name.time" >/dev/null || { cat "$WORK/$name.time" >&2; exit 1; }
  end=$(date +%s.%N)
  local secs rss cpu
  secs=$(echo "$end - $start" | bc -l)
  rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); print $2}' "$WORK/$name.time")
  cpu=$(awk -F: '/User time|System time/ {gsub(/ /,"",$2); s += $2} END {print s}' "$WORK/$name.time")
  echo "$name $secs $rss $cpu"
}
moto_rss() { awk '/VmRSS/ {print $2}' "/proc/$(cut -d' ' -f1 "${MM_RUN_DIR:-/tmp/mm-services}/moto.pid")/status" 2>/dev/null || echo 0; }
mb=$(echo "$BYTES / 1000000" | bc -l)
report() { # label seconds rss cpu
  printf '%-22s: %6.2f s  %7.1f MB/s  peak RSS %6.1f MB  CPU %5.2f s\n' "$1" "$2" "$(echo "$mb / $2" | bc -l)" "$(echo "$3 / 1024" | bc -l)" "$4"
}

printf 'data: %.0f MB in %d segments\n' "$mb" $((COLLECTIONS * SEGMENTS))
# Alternate the two tools (ROUNDS times) so both see the same machine state; moto keeps everything
# in memory, so each upload is removed before the next.
for round in $(seq 1 "${ROUNDS:-2}"); do
  read -r _ aws_s aws_rss aws_cpu < <(measure awscli "${AWS[@]}" s3 cp --recursive --only-show-errors "$WORK/db/tables" "s3://$BUCKET/bench-awscli/")
  aws_objects=$("${AWS[@]}" s3 ls --recursive "s3://$BUCKET/bench-awscli/" | wc -l)
  "${AWS[@]}" s3 rm --recursive --only-show-errors "s3://$BUCKET/bench-awscli/"
  read -r _ dump_s dump_rss dump_cpu < <(measure dump "$BIN" dump -c "$WORK/migration.yaml" --quiet)
  dump_objects=$("${AWS[@]}" s3 ls --recursive "s3://$BUCKET/bench-dump/" | wc -l)
  "${AWS[@]}" s3 rm --recursive --only-show-errors "s3://$BUCKET/bench-dump/"
  echo "round $round ($aws_objects objects by aws s3 cp, $dump_objects by dump incl. meta.json and journal.json):"
  report "  aws s3 cp --recursive" "$aws_s" "$aws_rss" "$aws_cpu"
  report "  dump (target remote)" "$dump_s" "$dump_rss" "$dump_cpu"
  printf '  ratio dump/aws throughput: %.2f (target >= 1.0); dump RSS target < 150 MB\n' "$(echo "$aws_s / $dump_s" | bc -l)"
done
printf 'moto RSS at the end: %.0f MB (moto_server is single-process Python: it bounds both tools)\n' "$(echo "$(moto_rss) / 1024" | bc -l)"
[ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
