#!/usr/bin/env bash
# Real Milvus 2.3.5 standalone (PyPI wheel binaries) for tests.
#   scripts/services/milvus.sh start|stop|status
# Env:
#   MILVUS_STORAGE=local|minio   (default local; minio = moto/MinIO on 127.0.0.1:9000,
#                                 bucket ${MM_S3_BUCKET:-milvus-bucket}, rootPath files)
#   MILVUS_AUTH=1                common.security.authorizationEnabled=true (user root / Milvus)
#   MILVUS_START_TIMEOUT=120     seconds to wait for /healthz
#   MILVUS_TLS_MODE=0|1|2        common.security.tlsMode: 1 = TLS with a server certificate,
#                                2 = mutual TLS (client certificates signed by ca.pem required)
#   MILVUS_TLS_DIR=$MM_RUN_DIR/tls  server.pem, server.key, ca.pem for tlsMode 1/2 (made by
#                                tls-certs.sh when server.pem is missing). Only the gRPC port
#                                19530 speaks TLS; /healthz on 9091 stays plain HTTP.
#   MILVUS_KEEP_DATA=1           restart on the existing data folder instead of wiping it (fault
#                                tests: a restart after kill -9). Such a restart takes 7.5-9 s, and
#                                HasCollection/CreateCollection hang for a few seconds after /healthz.
# Milvus binds ALL interfaces, so `start` refuses to run outside a private network
# namespace (one with loopback only); use scripts/netns-run.sh.
# Layout: $MM_RUN_DIR/milvus/ (wiped at each start unless MILVUS_KEEP_DATA=1) = server cwd with configs/, data/, logs/;
#         $MM_RUN_DIR/milvus.pid.
set -euo pipefail
# shellcheck source=scripts/services/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
MM_LOG_TAG=milvus

BASE="$MM_RUN_DIR/milvus"
BIN="$MM_MILVUS_HOME/bin"
STORAGE="${MILVUS_STORAGE:-local}"
AUTH="${MILVUS_AUTH:-0}"
TIMEOUT="${MILVUS_START_TIMEOUT:-120}"
TLS_MODE="${MILVUS_TLS_MODE:-0}"
TLS_DIR="${MILVUS_TLS_DIR:-$MM_RUN_DIR/tls}"
HEALTH_URL="http://127.0.0.1:9091/healthz"

render_config() {
    # Renders $BASE/configs/milvus.yaml (+ glog.conf) from the wheel's template with the
    # wheel's own MilvusServerConfig; its bind() port probing is patched out so the
    # template's default ports are always used.
    MM_BASE="$BASE" MM_STORAGE="$STORAGE" MM_AUTH="$AUTH" MM_TLS_MODE="$TLS_MODE" MM_TLS_DIR="$TLS_DIR" \
    "$MM_MILVUS_VENV/bin/python" - <<'PY'
import os, re, sys
import milvus

base = os.environ["MM_BASE"]
storage = os.environ["MM_STORAGE"]
auth = os.environ["MM_AUTH"] in ("1", "true", "yes")

# No bind() probing: keep the template defaults (19530, 9091 via env, 2379, ...).
milvus.MilvusServerConfig.resolve_all_listen_ports = lambda self: None
cfg = milvus.MilvusServerConfig(data_dir=base)

expected = {"common.gracefulStopTimeout": "5"}
def put(key, value):
    cfg.set(key, value)
    expected[key] = str(value).lower() if isinstance(value, bool) else str(value)

cfg.set("common.gracefulStopTimeout", 5)
if auth:
    cfg.set("authorization_enabled", True)
    expected["common.security.authorizationEnabled"] = "true"
tls_mode = os.environ["MM_TLS_MODE"]
if tls_mode not in ("0", "1", "2"):
    sys.exit(f"MILVUS_TLS_MODE must be 0, 1 or 2, not {tls_mode!r}")
if tls_mode != "0":
    tls_dir = os.environ["MM_TLS_DIR"]
    cfg.set("tls_mode", int(tls_mode))
    expected["common.security.tlsMode"] = tls_mode
    for key, file in (("server_pem_path", "server.pem"), ("server_key_path", "server.key"), ("ca_pem_path", "ca.pem")):
        path = os.path.join(tls_dir, file)
        if not os.path.isfile(path):
            sys.exit(f"MILVUS_TLS_MODE={tls_mode}: {path} is missing")
        cfg.set(key, path)
        expected["tls." + {"server_pem_path": "serverPemPath", "server_key_path": "serverKeyPath", "ca_pem_path": "caPemPath"}[key]] = path
if storage == "minio":
    put("common.storageType", "minio")
    put("minio.address", "127.0.0.1")
    put("minio.port", 9000)
    put("minio.bucketName", os.environ.get("MM_S3_BUCKET", "milvus-bucket"))
    put("minio.accessKeyID", os.environ.get("MM_S3_ACCESS_KEY", "minioadmin"))
    put("minio.secretAccessKey", os.environ.get("MM_S3_SECRET_KEY", "minioadmin"))
    put("minio.useSSL", "false")
    put("minio.rootPath", "files")
elif storage == "local":
    put("common.storageType", "local")
else:
    sys.exit(f"MILVUS_STORAGE must be local or minio, not {storage!r}")
cfg.resolve()

# Check that every key really landed in the rendered file (a dotted key only replaces
# a key that already exists in the template; a template variable of the wrong type is
# silently ignored).
path = os.path.join(base, "configs", "milvus.yaml")
seen, stack = {}, []
for line in open(path, encoding="utf-8"):
    if line.strip().startswith("#"):
        continue
    m = re.match(r"^( *)([A-Za-z0-9_]+):([^#]*)", line.rstrip())
    if not m:
        continue
    level = len(m.group(1)) // 2
    stack = stack[:level] + [m.group(2)]
    seen[".".join(stack)] = m.group(3).strip()
bad = {k: (v, seen.get(k)) for k, v in expected.items() if seen.get(k) != v}
if bad:
    sys.exit(f"rendered config is missing settings (key: (wanted, got)): {bad}")
PY
}

start() {
    mm_in_private_netns || mm_die "refusing to start: Milvus binds all interfaces; run it inside a private network namespace (scripts/netns-run.sh)"
    [ -x "$BIN/milvus" ] || mm_die "Milvus binaries not found in $BIN; run scripts/services/install.sh milvus first"
    if pid=$(mm_recorded_pid milvus); then
        mm_die "already running (pid $pid); stop it first"
    fi
    local t0; t0=$(mm_now)
    rm -f "$MM_RUN_DIR/milvus.pid"
    if [ "${MILVUS_KEEP_DATA:-0}" = 1 ] && [ -f "$BASE/configs/milvus.yaml" ]; then
        mm_log "restarting on the existing data in $BASE (MILVUS_KEEP_DATA=1)"
    else
        rm -rf "$BASE"
        mkdir -p "$BASE"
        if [ "$TLS_MODE" != 0 ] && [ ! -f "$TLS_DIR/server.pem" ]; then
            "$MM_SERVICES_DIR/tls-certs.sh" "$TLS_DIR" >/dev/null || mm_die "could not make test certificates in $TLS_DIR"
        fi
        render_config || mm_die "config rendering failed"
    fi
    mkdir -p "$BASE/logs"
    # The binary locks /run/milvus/standalone.pid; netns-run.sh gives the namespace its own /run.
    mkdir -p /run/milvus 2>/dev/null || true
    (
        cd "$BASE"
        # A daemon keeps no descriptor of its caller: an inherited pipe or pidfd would make the
        # caller wait for Milvus itself (seen with Foundation's Process in the fault tests).
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null || true
        done
        exec setsid env DEPLOY_MODE=STANDALONE METRICS_PORT=9091 MILVUSCONF="$BASE/configs" \
            LD_LIBRARY_PATH="$BIN${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
            "$BIN/milvus" run standalone </dev/null >"$BASE/logs/stdout.log" 2>"$BASE/logs/stderr.log"
    ) &
    local pid=$!
    disown "$pid" 2>/dev/null || true
    mm_record_pid milvus "$pid"
    mm_log "started pid $pid (storage=$STORAGE auth=$AUTH tlsMode=$TLS_MODE), waiting for $HEALTH_URL"
    if ! mm_wait_for_http "$HEALTH_URL" OK "$pid" "$TIMEOUT"; then
        mm_tail_logs "$BASE/logs/stderr.log" "$BASE/logs/stdout.log"
        mm_stop_pid milvus 2 || true
        mm_die "Milvus did not become healthy (logs in $BASE/logs)"
    fi
    mm_log "healthy in $(mm_elapsed "$t0")s: gRPC 127.0.0.1:19530, cwd/data $BASE"
}

stop() {
    # A recorded pid that is gone means Milvus died by itself during the run (e.g. the 2.3.5
    # proxy's nil dereference in GetImportState): show why, since the tests only see "unreachable".
    if [ -f "$MM_RUN_DIR/milvus.pid" ] && ! mm_recorded_pid milvus >/dev/null; then
        mm_log "Milvus (pid $(cut -d" " -f1 "$MM_RUN_DIR/milvus.pid" 2>/dev/null)) died before stop; its last words:"
        if grep -q -m1 '^panic:' "$BASE/logs/stderr.log" 2>/dev/null; then
            grep -m1 -A40 '^panic:' "$BASE/logs/stderr.log" >&2
        else
            mm_tail_logs "$BASE/logs/stderr.log" "$BASE/logs/stdout.log"
        fi
    fi
    mm_stop_pid milvus "${MILVUS_STOP_TIMEOUT:-10}"
}

status() {
    local pid
    if pid=$(mm_recorded_pid milvus); then
        echo "milvus: running, pid $pid, healthz=$(mm_http_get "$HEALTH_URL" || echo unreachable), dir $BASE"
    else
        echo "milvus: not running"
        return 1
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
