#!/usr/bin/env bash
# Quickstart on an embedded default: a real migration end to end on one machine.
#   1. installs what it needs (Debian packages, a Python venv with milvus==2.3.5), builds the tool;
#   2. writes a sample Milvus 1.x database (float + binary collections, a partition, deletions,
#      an indexed segment, a dropped collection);
#   3. starts a local Milvus 2.x in a private network namespace (loopback only);
#   4. runs export -> plan -> dump -> load -> verify with the config shown in the README;
#   5. prints the summaries and stops what it started.
# Usage: scripts/quickstart.sh [WORKDIR]      (env QUICKSTART_SKIP_BUILD=1 to reuse a build)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"

if [ "${QUICKSTART_INSIDE:-0}" != 1 ]; then
    WORK="${1:-$(mktemp -d /tmp/milvus-migration-quickstart.XXXXXX)}"
    mkdir -p "$WORK"
    need_apt=()
    for pkg in libsqlite3-dev libmariadb-dev pkg-config iproute2 util-linux; do
        dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
    done
    if ((${#need_apt[@]})); then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
    fi
    scripts/services/install.sh milvus >&2
    if [ "${QUICKSTART_SKIP_BUILD:-0}" != 1 ]; then
        echo "== building milvus-migration" >&2
        swift build --product milvus-migration >&2
    fi
    BIN="$(swift build --show-bin-path)/milvus-migration"
    # Milvus and the tool run together in a private network namespace with loopback only.
    export QUICKSTART_INSIDE=1 QUICKSTART_WORK="$WORK" QUICKSTART_BIN="$BIN"
    MM_RUN_DIR="${MM_RUN_DIR:-/tmp/mm-quickstart}" exec scripts/netns-run.sh --services milvus -- "$REPO/scripts/quickstart.sh"
fi

WORK="$QUICKSTART_WORK"
BIN="$QUICKSTART_BIN"
step() { printf '\n== %s\n' "$*"; }

step "1. a sample Milvus 1.x database in $WORK/milvus1x"
"$BIN" sample -o "$WORK/milvus1x"

step "2. export the 1.x meta"
"$BIN" export -s "$WORK/milvus1x/meta.sqlite" -o "$WORK/export"

# The configuration of the README's example, pointing at this work folder.
cat > "$WORK/migration.yaml" <<YAML
dumper:
  worker:
    workMode: milvus1x
    limit: 2
    reader:
      bufferSize: 1024
loader:
  worker:
    limit: 2
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
    endpoint: ${MILVUS_ENDPOINT:-127.0.0.1:19530}
    username: \${MILVUS_USER:-root}
    password: \${MILVUS_PASSWORD:-Milvus}
    createIndex: true
    loadCollection: true
YAML
echo "config: $WORK/migration.yaml"

step "3. plan"
"$BIN" plan -c "$WORK/migration.yaml"

step "4. dump"
"$BIN" dump -c "$WORK/migration.yaml" --quiet

step "5. load into Milvus 2.x"
"$BIN" load -c "$WORK/migration.yaml" --quiet --report "$WORK/load-report.json"

step "6. verify every row"
"$BIN" verify -c "$WORK/migration.yaml" --full

step "done"
echo "The sample was migrated and verified. Work folder: $WORK (report: $WORK/load-report.json)"
