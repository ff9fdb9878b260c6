#!/usr/bin/env bash
# In-memory S3 (moto_server) on 127.0.0.1:9000 for Milvus's minio storage and S3 staging tests.
#   scripts/services/moto.sh start|stop|status
# Creates the bucket ${MM_S3_BUCKET:-milvus-bucket} after start (Milvus would create it too).
# Everything is in memory: pair each moto start with a fresh Milvus data dir.
# Log: $MM_RUN_DIR/moto/moto.log; pid: $MM_RUN_DIR/moto.pid.
set -euo pipefail
# shellcheck source=scripts/services/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
MM_LOG_TAG=moto

DIR="$MM_RUN_DIR/moto"
PORT=9000
URL="http://127.0.0.1:$PORT"

start() {
    [ -x "$MM_MOTO_VENV/bin/moto_server" ] || mm_die "moto not installed; run scripts/services/install.sh moto first"
    if pid=$(mm_recorded_pid moto); then mm_die "already running (pid $pid)"; fi
    local t0; t0=$(mm_now)
    rm -rf "$DIR"; rm -f "$MM_RUN_DIR/moto.pid"; mkdir -p "$DIR"
    (
        cd "$DIR"
        exec setsid "$MM_MOTO_VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" </dev/null >"$DIR/moto.log" 2>&1
    ) &
    local pid=$!
    disown "$pid" 2>/dev/null || true
    mm_record_pid moto "$pid"
    if ! mm_wait_for_http "$URL/" "" "$pid" "${MOTO_START_TIMEOUT:-30}"; then
        mm_tail_logs "$DIR/moto.log"
        mm_stop_pid moto 2 || true
        mm_die "moto_server did not answer on $URL"
    fi
    # Create the bucket (moto accepts unsigned requests and any credentials).
    curl --noproxy '*' -fsS -o /dev/null -X PUT "$URL/$MM_S3_BUCKET" || mm_die "could not create bucket $MM_S3_BUCKET"
    mm_log "pid $pid answering on $URL (bucket $MM_S3_BUCKET) in $(mm_elapsed "$t0")s"
}

status() {
    local pid
    if pid=$(mm_recorded_pid moto); then echo "moto: running, pid $pid, $URL"; else echo "moto: not running"; return 1; fi
}

case "${1:-}" in
    start) start ;;
    stop) mm_stop_pid moto "${MOTO_STOP_TIMEOUT:-10}" ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
