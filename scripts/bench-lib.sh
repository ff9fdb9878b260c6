# Shared by the benchmark scripts (sourced): the 1.x source sections of a migration.yaml, timing
# with peak RSS, medians, and dropping a collection. Expects WORK (the benchmark folder, with the
# generated 1.x database in $WORK/db).

# bench_source_yaml: the meta and source sections for the generated database.
bench_source_yaml() {
    cat <<YAML
meta:
  mode: sqlite
  sqliteFile: $WORK/db/meta.sqlite
source:
  mode: local
  local:
    tablesDir: $WORK/db/tables
YAML
}

# bench_measure LABEL COMMAND...: runs COMMAND under /usr/bin/time -v; prints "seconds peak-rss-kB".
bench_measure() {
    local label=$1; shift
    local start end
    start=$(date +%s.%N)
    /usr/bin/time -v "$@" 2> "$WORK/$label.time" >/dev/null || { tail -20 "$WORK/$label.time" >&2; exit 1; }
    end=$(date +%s.%N)
    echo "$(echo "$end - $start" | bc -l) $(awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); print $2}' "$WORK/$label.time")"
}

# bench_median LABEL FILE: the median (by the first number) of the lines "LABEL n1 n2 ..." of FILE, without the label.
bench_median() {
    awk -v m="$1" '$1 == m { $1 = ""; print substr($0, 2) }' "$2" | sort -n | awk '{ a[NR] = $0 } END { print a[int((NR + 1) / 2)] }'
}

# bench_drop NAME: drops the Milvus collection NAME if it exists (pymilvus of the Milvus venv).
bench_drop() {
    "$MM_MILVUS_VENV/bin/python" - "$1" "$MILVUS_ENDPOINT" <<'PY'
import sys
from pymilvus import connections, utility
h, p = sys.argv[2].split(":")
connections.connect(host=h, port=p)
if utility.has_collection(sys.argv[1]): utility.drop_collection(sys.argv[1])
PY
}

# bench_target_yaml OUTPUT_DIR COLLECTION: local staging in OUTPUT_DIR, the generated bench_0
# collection migrated into COLLECTION of the Milvus at $MILVUS_ENDPOINT.
bench_target_yaml() {
    cat <<YAML
target:
  mode: local
  local:
    outputDir: $1
  milvus2x:
    endpoint: $MILVUS_ENDPOINT
    collections:
      bench_0: $2
YAML
}
