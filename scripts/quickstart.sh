#!/usr/bin/env bash
# Quickstart on an embedded default: builds the tool, writes a sample Milvus 1.x database,
# then runs export -> plan -> dump and prints the summaries.
# (load into a local Milvus 2.x joins this script when `load` is built; see README "Status".)
# Usage: scripts/quickstart.sh [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${1:-$(mktemp -d /tmp/milvus-migration-quickstart.XXXXXX)}"
dpkg -s libsqlite3-dev >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq libsqlite3-dev >/dev/null; }
swift build --product milvus-migration >&2
BIN="$(swift build --show-bin-path)/milvus-migration"

echo "== sample 1.x database in $WORK/milvus1x"
"$BIN" sample -o "$WORK/milvus1x"
echo "== export"
"$BIN" export -s "$WORK/milvus1x/meta.sqlite" -o "$WORK/export"
cat > "$WORK/migration.yaml" <<YAML
dumper:
  worker:
    workMode: milvus1x
    limit: 2
    reader:
      bufferSize: 1024
meta:
  mode: local
  localFile: $WORK/export/meta.json
source:
  mode: local
  local:
    tablesDir: $WORK/milvus1x/tables
target:
  mode: local
  local:
    outputDir: $WORK/output
  milvus2x:
    endpoint: 127.0.0.1:19530
    username: root
    password: \${MILVUS_PASSWORD:-Milvus}
YAML
echo "== plan"
"$BIN" plan -c "$WORK/migration.yaml"
echo "== dump"
"$BIN" dump -c "$WORK/migration.yaml"
echo "== staged files"
(cd "$WORK/output/migration" && find tables -name '*.npy' | sort)
echo "Done. Work folder: $WORK"
