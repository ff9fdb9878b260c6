#!/usr/bin/env bash
# Milvus Lite 3.2.2 (pure-Python gRPC server of the current 2.x API) on 127.0.0.1:${MM_LITE_PORT:-19540},
# the second real server of the insert-mode tests (float vectors only; one row per primary key;
# no Import). Data in $MM_RUN_DIR/milvus-lite/data, wiped per start.
#   scripts/services/milvus-lite.sh start|stop|status
# Log: $MM_RUN_DIR/milvus-lite/server.log; pid: $MM_RUN_DIR/milvus-lite.pid.
set -euo pipefail
# shellcheck source=scripts/services/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
MM_LOG_TAG=milvus-lite

DIR="$MM_RUN_DIR/milvus-lite"
PORT="${MM_LITE_PORT:-19540}"

# Whether something accepts TCP connections on 127.0.0.1:$PORT.
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

start() {
    [ -x "$MM_LITE_VENV/bin/python" ] || mm_die "milvus-lite not installed; run scripts/services/install.sh milvus-lite first"
    if pid=$(mm_recorded_pid milvus-lite); then mm_die "already running (pid $pid)"; fi
    local t0; t0=$(mm_now)
    rm -rf "$DIR"; rm -f "$MM_RUN_DIR/milvus-lite.pid"; mkdir -p "$DIR/data"
    (
        cd "$DIR"
        exec setsid "$MM_LITE_VENV/bin/python" -m milvus_lite server --data-dir "$DIR/data" --host 127.0.0.1 --port "$PORT" \
            </dev/null >"$DIR/server.log" 2>&1
    ) &
    local pid=$!
    disown "$pid" 2>/dev/null || true
    mm_record_pid milvus-lite "$pid"
    local deadline=$(($(date +%s) + ${LITE_START_TIMEOUT:-60}))
    until answers; do
        if ! mm_pid_alive "$pid"; then mm_tail_logs "$DIR/server.log"; mm_die "milvus-lite (pid $pid) died while starting"; fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            mm_tail_logs "$DIR/server.log"; mm_stop_pid milvus-lite 2 || true
            mm_die "milvus-lite did not listen on 127.0.0.1:$PORT"
        fi
        sleep 0.1
    done
    mm_log "pid $pid listening on 127.0.0.1:$PORT in $(mm_elapsed "$t0")s"
}

status() {
    local pid
    if pid=$(mm_recorded_pid milvus-lite); then echo "milvus-lite: running, pid $pid, 127.0.0.1:$PORT"; else echo "milvus-lite: not running"; return 1; fi
}

case "${1:-}" in
    start) start ;;
    stop) mm_stop_pid milvus-lite "${LITE_STOP_TIMEOUT:-10}" ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
