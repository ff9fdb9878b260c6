#!/usr/bin/env bash
# Run a command next to real services inside a private network namespace (loopback only).
#
#   scripts/netns-run.sh [--services milvus,moto,mariadb,milvus-lite] -- COMMAND [ARG...]
#
# - Needs root (unshare). Install first, outside: scripts/services/install.sh milvus moto mariadb
#   (the namespace has no network at all).
# - Re-executes itself under `unshare --net --mount --pid --fork --mount-proc`; inside it makes
#   mounts private, mounts a tmpfs on /run (own /run/milvus pid lock) and brings lo up.
#   The pid namespace is a safety net: if this script dies, the kernel kills everything in it.
# - Starts the listed services (moto before milvus), runs COMMAND with stdin/stdout/stderr
#   passed through, ALWAYS stops the services (trap), exits with COMMAND's exit code.
# - Services log to files under $MM_RUN_DIR (default /tmp/mm-services), not to the terminal.
# Env in: MILVUS_STORAGE=local|minio, MILVUS_AUTH=1, MM_S3_BUCKET, MM_RUN_DIR, MM_CACHE (see
# scripts/services/README.md). Env out (to COMMAND): see export_env below.
set -euo pipefail

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
SERVICES_DIR="$(dirname "$SELF")/services"

usage() {
    echo "usage: $0 [--services milvus,moto,mariadb,milvus-lite] -- COMMAND [ARG...]" >&2
    exit 2
}

services=""
args=("$@")
while [ $# -gt 0 ]; do
    case "$1" in
        --services) [ $# -ge 2 ] || usage; services="$2"; shift 2 ;;
        --services=*) services="${1#--services=}"; shift ;;
        --) shift; break ;;
        -h|--help) usage ;;
        *) break ;;
    esac
done
[ $# -gt 0 ] || usage

# ---------------------------------------------------------------- outside: re-run in a namespace
if [ "${MM_NETNS_SETUP:-}" != 1 ] && [ "${MM_NETNS_INSIDE:-}" != "$(readlink /proc/self/ns/net)" ]; then
    [ "$(id -u)" = 0 ] || { echo "netns-run: needs root (unshare --net --mount)" >&2; exit 2; }
    export MM_NETNS_OUTER_NET
    MM_NETNS_OUTER_NET="$(readlink /proc/self/ns/net)"
    # unshare --fork blocks SIGINT/SIGTERM in itself, so this outer shell stays around and
    # forwards INT/TERM/HUP to the inner shell (pid 1 of the new pid namespace), which stops
    # the services. Explicit stdin redirection: a background job would otherwise get /dev/null.
    unshare --net --mount --pid --fork --mount-proc --kill-child -- \
        env MM_NETNS_SETUP=1 bash "$SELF" "${args[@]}" <&0 &
    upid=$!
    forward() {
        local child
        child=$(cat "/proc/$upid/task/$upid/children" 2>/dev/null || true)
        for c in $child; do kill "-$1" "$c" 2>/dev/null || true; done
    }
    # INT is forwarded as TERM: a background job of a non-interactive shell (unshare, and so
    # the inner shell) starts with SIGINT ignored and could not trap it.
    trap 'forward TERM' TERM INT
    trap 'forward HUP' HUP
    while :; do
        rc=0; wait "$upid" || rc=$?
        # wait returns >128 when a trapped signal interrupted it; keep waiting while alive.
        kill -0 "$upid" 2>/dev/null || break
    done
    exit "$rc"
fi

# ---------------------------------------------------------------- inside
# shellcheck source=scripts/services/common.sh
. "$SERVICES_DIR/common.sh"
MM_LOG_TAG=netns-run

if [ "${MM_NETNS_SETUP:-}" = 1 ]; then
    unset MM_NETNS_SETUP
    [ "$(readlink /proc/self/ns/net)" != "${MM_NETNS_OUTER_NET:-}" ] || mm_die "unshare did not give a new network namespace"
    mount --make-rprivate /
    mount -t tmpfs -o mode=0755 tmpfs /run
    ip link set lo up
    # Keep outgoing connections (etcd clients, health polls, tests) off the fixed server ports:
    # 53100 (Milvus rootcoord) lies in the default ephemeral range 32768-60999, and a client
    # socket that happened to get it made Milvus fail with "bind: address already in use".
    # This sysctl belongs to the namespace; the host's is untouched.
    echo "2379-2380,3306,9000,9091,13333,19529-19531,21121-21124,22930,53100" \
        >/proc/sys/net/ipv4/ip_local_reserved_ports
    # Marker for nested calls: "already inside this namespace, set up".
    export MM_NETNS_INSIDE
    MM_NETNS_INSIDE="$(readlink /proc/self/ns/net)"
fi
mm_in_private_netns || mm_die "network namespace has interfaces other than lo; refusing"

# Normalise and order the service list: moto first, then mariadb, then milvus.
want=",${services// /},"
for s in ${services//,/ }; do
    case "$s" in milvus|moto|mariadb|milvus-lite) ;; *) mm_die "unknown service '$s' (expected milvus, moto, mariadb, milvus-lite)" ;; esac
done
if [[ "$want" == *,milvus,* ]] && [ "${MILVUS_STORAGE:-local}" = minio ] && [[ "$want" != *,moto,* ]]; then
    mm_log "MILVUS_STORAGE=minio: adding moto to the services"
    want="${want}moto,"
fi
order=()
for s in moto mariadb milvus milvus-lite; do [[ "$want" == *,$s,* ]] && order+=("$s"); done

# One netns-run per run dir at a time (pid files and data dirs live there).
if [ ${#order[@]} -gt 0 ]; then
    mkdir -p "$MM_RUN_DIR"
    exec 8>"$MM_RUN_DIR.lock"
    flock -n 8 || mm_die "another netns-run with services is using $MM_RUN_DIR; set MM_RUN_DIR to another path"
fi

started=()
stop_all() {
    local i
    for ((i = ${#started[@]} - 1; i >= 0; i--)); do
        "$SERVICES_DIR/${started[$i]}.sh" stop </dev/null 8>&- || true
    done
    started=()
}
cmd_pid=""
on_signal() {
    trap '' INT TERM HUP
    mm_log "got SIG$1, stopping the command and the services"
    if [ -n "$cmd_pid" ]; then
        kill -TERM "$cmd_pid" 2>/dev/null || true   # TERM: the command may have SIGINT ignored
        local i
        for ((i = 0; i < 50; i++)); do mm_pid_alive "$cmd_pid" || break; sleep 0.1; done
    fi
    stop_all
    # Leaving pid 1 of the namespace makes the kernel kill whatever is still in it.
    exit $((128 + $2))
}
trap stop_all EXIT
trap 'on_signal INT 2' INT
trap 'on_signal TERM 15' TERM
trap 'on_signal HUP 1' HUP

for s in "${order[@]}"; do
    started+=("$s")
    "$SERVICES_DIR/$s.sh" start </dev/null 8>&- || mm_die "could not start $s (logs under $MM_RUN_DIR/$s)"
done

# ---------------------------------------------------------------- environment for COMMAND
export_env() {
    export MM_SERVICES
    MM_SERVICES=$(IFS=,; echo "${order[*]}")
    if [[ " ${order[*]} " == *" milvus "* ]]; then
        export MILVUS_ENDPOINT=127.0.0.1:19530
        export MILVUS_STORAGE="${MILVUS_STORAGE:-local}"
        export MM_MILVUS_DIR="$MM_RUN_DIR/milvus"   # server cwd: relative import paths resolve here
        if [ "${MILVUS_AUTH:-0}" = 1 ]; then
            export MILVUS_AUTH=1 MILVUS_USER=root MILVUS_PASSWORD=Milvus
        fi
        if [ "${MILVUS_TLS_MODE:-0}" != 0 ]; then
            export MILVUS_TLS_MODE MILVUS_TLS_DIR="${MILVUS_TLS_DIR:-$MM_RUN_DIR/tls}"
        fi
    fi
    if [[ " ${order[*]} " == *" moto "* ]]; then
        export MM_S3_ENDPOINT=http://127.0.0.1:9000
        export MM_S3_BUCKET
        export MM_S3_ACCESS_KEY="${MM_S3_ACCESS_KEY:-minioadmin}" MM_S3_SECRET_KEY="${MM_S3_SECRET_KEY:-minioadmin}"
        export MM_S3_REGION="${MM_S3_REGION:-us-east-1}"
    fi
    if [[ " ${order[*]} " == *" milvus-lite "* ]]; then
        export MILVUS_LITE_ENDPOINT="127.0.0.1:${MM_LITE_PORT:-19540}"
    fi
    if [[ " ${order[*]} " == *" mariadb "* ]]; then
        export MM_MYSQL_HOST=127.0.0.1 MM_MYSQL_PORT MM_MYSQL_USER MM_MYSQL_PASSWORD
        export MM_MYSQL_SOCKET="$MM_RUN_DIR/mariadb/mysqld.sock"
        if [ -n "${MARIADB_TLS_DIR:-}" ]; then export MARIADB_TLS_DIR; fi
    fi
}
export_env

mm_log "services up: ${MM_SERVICES:-none}; running: $*"
# In the background + wait, so that a signal is handled at once (bash runs traps only after a
# foreground command ends). Explicit stdin: a background job would otherwise get /dev/null.
set +e
"$@" <&0 8>&- &
cmd_pid=$!
wait "$cmd_pid"
rc=$?
cmd_pid=""
set -e
stop_all
exit $rc
