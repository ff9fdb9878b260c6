#!/usr/bin/env bash
# Benchmark: loading the same 1.x rows into Milvus 2.3.5 three ways, side by side in one run:
#   import   - `start` with loader.mode import (dump to NumPy + bulk Import), the default
#   insert   - `start` with loader.mode insert (live rows streamed in Insert requests, nothing staged)
#   pymilvus - a plain pymilvus 2.3.8 insert loop over the same rows (the import run's staged
#              .npy files, 16 MB batches, one thread): the baseline the issue measured
# Each round runs the three in that order into fresh collections; the page cache is warm (the
# source is read once before); no final sync is counted (Milvus persists asynchronously in all
# three). Reports per mode the median of RUNS rounds: seconds, rows/s, MB/s (rows x (8 + 4 x dim)),
# and peak RSS of our process (/usr/bin/time -v; the pymilvus figure is the Python client's).
# Usage: scripts/bench-load.sh [WORKDIR]   env SIZE_GB (default 1), RUNS (3), BATCH_MB (16), KEEP=1
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${1:-/tmp/mm-bench-load}"
SIZE_GB="${SIZE_GB:-1}"
RUNS="${RUNS:-3}"
BATCH_MB="${BATCH_MB:-16}"
DIM=128
SEGMENTS=8
ROWS=$(( SIZE_GB * 1024 * 1024 * 1024 / (SEGMENTS * (DIM * 4 + 8)) ))

if [ "${MM_BENCH_INNER:-0}" != 1 ]; then
    . scripts/bench-lib.sh
    bench_prepare release
    echo "${SIZE_GB} GiB" >&2
    bench_generate "$WORK/db" 1 $SEGMENTS $ROWS $DIM
    # Milvus reads the staged files from this machine's disk (target.mode local, local storage).
    export RUNS BATCH_MB DIM
    bench_enter "$0"
    exit 0
fi

# ------------------------------------------------------------------ inside the namespace
. scripts/services/common.sh
. scripts/bench-lib.sh
PY="$MM_MILVUS_VENV/bin/python"
config() { # mode name outputDir
    cat <<YAML
dumper:
  worker:
    workMode: milvus1x
    limit: 2
loader:
  mode: $1
  insert:
    batchMB: $BATCH_MB
  worker:
    limit: 2
$(bench_source_yaml)
$(bench_target_yaml "$3" "$2")
YAML
}
cat > "$WORK/loop.py" <<'PY'
import glob, os, sys, numpy as np
from pymilvus import connections, Collection, CollectionSchema, FieldSchema, DataType, utility
staged, name, batch_mb, endpoint = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
host, port = endpoint.split(":")
connections.connect(host=host, port=port)
dim = None
files = sorted(glob.glob(os.path.join(staged, "tables", "bench_0", "*", "id.npy")))
for f in files:
    dim = np.load(f.replace("id.npy", "data.npy"), mmap_mode="r").shape[1]
    break
schema = CollectionSchema([FieldSchema("id", DataType.INT64, is_primary=True, auto_id=False),
                           FieldSchema("data", DataType.FLOAT_VECTOR, dim=dim)])
c = Collection(name, schema)
per = max(1, batch_mb * (1 << 20) // (8 + 4 * dim))
rows = 0
for f in files:
    ids = np.load(f, mmap_mode="r")
    vec = np.load(f.replace("id.npy", "data.npy"), mmap_mode="r")
    for i in range(0, len(ids), per):
        c.insert([ids[i:i + per].tolist(), vec[i:i + per]])
        rows += min(per, len(ids) - i)
c.flush()
print(rows)
PY
cat "$WORK"/db/tables/*/*/*.rv "$WORK"/db/tables/*/*/*.uid > /dev/null
config import x "$WORK/x" > "$WORK/plan.yaml"
LIVE=$("$BIN" plan -c "$WORK/plan.yaml" --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["liveRows"])')
: > "$WORK/results"
for round in $(seq 1 "$RUNS"); do
    config import "imp_$round" "$WORK/out-import" > "$WORK/import.yaml"
    config insert "ins_$round" "$WORK/out-insert" > "$WORK/insert.yaml"
    read -r s r < <(bench_measure "import-$round" "$BIN" start -c "$WORK/import.yaml" --quiet); echo "import $s $r" >> "$WORK/results"
    read -r s r < <(bench_measure "insert-$round" "$BIN" start -c "$WORK/insert.yaml" --quiet); echo "insert $s $r" >> "$WORK/results"
    read -r s r < <(bench_measure "pymilvus-$round" "$PY" "$WORK/loop.py" "$WORK/out-import/migration" "py_$round" "$BATCH_MB" "$MILVUS_ENDPOINT"); echo "pymilvus $s $r" >> "$WORK/results"
    for n in "imp_$round" "ins_$round" "py_$round"; do bench_drop "$n"; done
    rm -rf "$WORK/out-import" "$WORK/out-insert"
    echo "round $round: $(tail -3 "$WORK/results" | tr '\n' ' ')" >&2
done
MB=$(echo "$LIVE * (8 + 4 * $DIM) / 1000000" | bc -l)
printf 'rows: %d live (%.0f MB of ids + vectors), %d rounds, medians; batches %d MB\n' "$LIVE" "$MB" "$RUNS" "$BATCH_MB"
for mode in import insert pymilvus; do
    read -r s r < <(bench_median "$mode" "$WORK/results")
    printf '%-8s %7.1f s  %9.0f rows/s  %6.1f MB/s  peak RSS %6.1f MB\n' "$mode" "$s" "$(echo "$LIVE / $s" | bc -l)" "$(echo "$MB / $s" | bc -l)" "$(echo "$r / 1024" | bc -l)"
done
