# shellcheck shell=bash disable=SC2034
# Shared settings and helpers for scripts/services/*.sh. Source it; do not run it.
#
#   MM_CACHE    venvs and unpacked Milvus binaries, reused across runs
#               (default: $HOME/.cache/milvus-migration)
#   MM_RUN_DIR  pid files, data dirs and logs of running services, wiped per start
#               (default: /tmp/mm-services)

MM_SERVICES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MM_CACHE="${MM_CACHE:-${HOME:-/root}/.cache/milvus-migration}"
MM_RUN_DIR="${MM_RUN_DIR:-/tmp/mm-services}"
export MM_CACHE MM_RUN_DIR

MM_MILVUS_VERSION=2.3.5
MM_MILVUS_VENV="$MM_CACHE/venv-milvus"
MM_MILVUS_HOME="$MM_CACHE/milvus-$MM_MILVUS_VERSION"   # _initialize_data_files() target; binaries in ./bin
MM_MOTO_VENV="$MM_CACHE/venv-moto"
MM_LITE_VERSION=3.2.2
MM_LITE_VENV="$MM_CACHE/venv-milvus-lite"   # milvus-lite (pure Python gRPC server) for insert-mode tests

MM_S3_BUCKET="${MM_S3_BUCKET:-milvus-bucket}"
MM_MYSQL_USER="${MM_MYSQL_USER:-root}"
MM_MYSQL_PASSWORD="${MM_MYSQL_PASSWORD:-milvus-test}"
MM_MYSQL_PORT="${MM_MYSQL_PORT:-3306}"


# Loopback never goes through a proxy.
export no_proxy="127.0.0.1,localhost,::1${no_proxy:+,$no_proxy}"
export NO_PROXY="$no_proxy"

mm_log() { printf '[%s %s] %s\n' "$(date +%H:%M:%S)" "${MM_LOG_TAG:-services}" "$*" >&2; }
mm_die() { mm_log "ERROR: $*"; exit 1; }

# Monotonic-ish seconds with decimals, for timings.
mm_now() { date +%s.%N; }
mm_elapsed() { awk -v a="$1" -v b="$(mm_now)" 'BEGIN { printf "%.2f", b - a }'; }

# True when this process is in a network namespace that has loopback only
# (no other interface): the place where servers that bind all interfaces may run.
mm_in_private_netns() {
    local ifs
    ifs=$(awk -F: 'NR > 2 { gsub(/ /, "", $1); print $1 }' /proc/net/dev | grep -vx lo || true)
    [ -z "$ifs" ]
}

# mm_pid_alive PID: the process exists and is not a zombie.
mm_pid_alive() {
    local pid="$1" state
    [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
    state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# Pid files: $MM_RUN_DIR/NAME.pid holds "PID STARTTIME"; STARTTIME (field 22 of
# /proc/PID/stat) makes sure we never signal a recycled pid that is not ours.
mm_proc_starttime() { awk '{ print $22 }' "/proc/$1/stat" 2>/dev/null; }

mm_record_pid() { # NAME PID
    mkdir -p "$MM_RUN_DIR"
    echo "$2 $(mm_proc_starttime "$2")" >"$MM_RUN_DIR/$1.pid"
}

# Prints the recorded pid of NAME if that exact process is still alive.
mm_recorded_pid() { # NAME
    local f="$MM_RUN_DIR/$1.pid" pid start
    [ -f "$f" ] || return 1
    read -r pid start <"$f" || return 1
    mm_pid_alive "$pid" || return 1
    [ "$(mm_proc_starttime "$pid")" = "$start" ] || return 1
    echo "$pid"
}

# mm_stop_pid NAME [TIMEOUT_S]: SIGTERM the recorded pid, wait, then SIGKILL.
# Only ever signals a pid that this tooling recorded.
mm_stop_pid() {
    local name="$1" timeout="${2:-10}" pid t0 i
    if ! pid=$(mm_recorded_pid "$name"); then
        rm -f "$MM_RUN_DIR/$name.pid"
        mm_log "$name: not running"
        return 0
    fi
    t0=$(mm_now)
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < timeout * 10; i++)); do
        mm_pid_alive "$pid" || break
        sleep 0.1
    done
    if mm_pid_alive "$pid"; then
        mm_log "$name: pid $pid still alive after ${timeout}s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do mm_pid_alive "$pid" || break; sleep 0.1; done
    fi
    rm -f "$MM_RUN_DIR/$name.pid"
    mm_log "$name: stopped pid $pid in $(mm_elapsed "$t0")s"
}

# mm_http_get URL: prints the body; fails if no HTTP answer. Never uses a proxy.
mm_http_get() {
    curl --noproxy '*' -fsS --max-time 2 "$1" 2>/dev/null
}

# mm_http_answers URL: any HTTP status counts as an answer.
mm_http_answers() {
    curl --noproxy '*' -s -o /dev/null --max-time 2 "$1" 2>/dev/null
}

# mm_wait_for_http URL EXPECTED_BODY|"" PID TIMEOUT_S
# Polls every 0.1 s. EXPECTED_BODY "" = any HTTP answer. Fails at once if PID dies.
mm_wait_for_http() {
    local url="$1" want="$2" pid="$3" timeout="${4:-120}" body deadline
    deadline=$(($(date +%s) + timeout))
    while :; do
        if [ -n "$want" ]; then
            body=$(mm_http_get "$url") && [ "$body" = "$want" ] && return 0
        else
            mm_http_answers "$url" && return 0
        fi
        if [ -n "$pid" ] && ! mm_pid_alive "$pid"; then
            mm_log "process $pid died while waiting for $url"
            return 1
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            mm_log "timed out after ${timeout}s waiting for $url"
            return 1
        fi
        sleep 0.1
    done
}

# mm_tail_logs FILE...: print the last lines of logs to stderr (for failures).
mm_tail_logs() {
    local f
    for f in "$@"; do
        [ -s "$f" ] || continue
        echo "----- last 40 lines of $f -----" >&2
        tail -n 40 "$f" >&2
    done
}
