# Shared by the benchmark scripts (sourced): the launcher outside the namespace (tools, Milvus,
# build, a fresh WORK, the generated source, the re-run inside a namespace with Milvus), the 1.x
# source sections of a migration.yaml, timing with peak RSS, medians, and dropping a collection.
# Expects WORK (the benchmark folder, with the generated 1.x database in $WORK/db).

# bench_prepare BUILD: installs time, bc, Milvus and pymilvus, builds the CLI in BUILD mode (release
# or debug) unless BIN names a binary built before, exports BIN, and makes WORK anew.
bench_prepare() {
    command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
    command -v bc >/dev/null || { apt-get update -qq && apt-get install -y -qq bc >/dev/null; }
    scripts/services/install.sh milvus pymilvus >&2
    if [ -z "${BIN:-}" ]; then
        swift build -c "$1" --product milvus-migration >&2
        BIN="$(swift build -c "$1" --show-bin-path)/milvus-migration"
    fi
    export BIN
    rm -rf "$WORK" && mkdir -p "$WORK"
}

# bench_generate DIR COLLECTIONS SEGMENTS ROWS DIM: a generated 1.x database in DIR.
bench_generate() {
    echo "generating $2 collection(s) x $3 segments x $4 rows, dim $5 in $1" >&2
    "$BIN" sample -o "$1" --bench-collections "$2" --segments "$3" --rows "$4" --dim "$5" >&2
}

# bench_enter SCRIPT: runs SCRIPT again inside a private network namespace with Milvus (no auth;
# MM_BENCH_INNER=1 tells it so; variables it needs must be exported before), then removes WORK
# unless KEEP=1.
bench_enter() {
    export MM_BENCH_INNER=1 WORK
    MM_RUN_DIR="$WORK/services" MILVUS_AUTH=0 scripts/netns-run.sh --services milvus -- "$1" "$WORK"
    [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
}

# bench_source_yaml [DB]: the meta and source sections for the generated database DB ($WORK/db).
bench_source_yaml() {
    local db="${1:-$WORK/db}"
    cat <<YAML
meta:
  mode: sqlite
  sqliteFile: $db/meta.sqlite
source:
  mode: local
  local:
    tablesDir: $db/tables
YAML
}

# bench_report_tasks REPORT: "IMPORT_JOBS ROWS_IN_MILVUS" from a --report JSON of load or start.
bench_report_tasks() {
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); c=r["collections"]; print(sum(len(x["importTasks"]) for x in c), sum(x["targetRows"] for x in c))' "$1"
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
