#!/usr/bin/env bash
# Throwaway MariaDB server on 127.0.0.1:${MM_MYSQL_PORT:-3306} (+ unix socket) for tests.
#   scripts/services/mariadb.sh start|stop|status
# A new datadir (a copy of one made by mariadb-install-db, cached in $MM_CACHE) at every start,
# under $MM_RUN_DIR/mariadb/
# (socket: $MM_RUN_DIR/mariadb/mysqld.sock, log: $MM_RUN_DIR/mariadb/error.log).
# Account: ${MM_MYSQL_USER:-root} / ${MM_MYSQL_PASSWORD:-milvus-test}, from localhost (socket) and any host (TCP).
# MARIADB_TLS_DIR=DIR: TLS on as well (ssl_cert DIR/server.pem, ssl_key DIR/server.key, ssl_ca DIR/ca.pem;
# made by tls-certs.sh when server.pem is missing). Plain connections are still accepted.
set -euo pipefail
# shellcheck source=scripts/services/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
MM_LOG_TAG=mariadb

DIR="$MM_RUN_DIR/mariadb"
DATADIR="$DIR/data"
SOCKET="$DIR/mysqld.sock"

find_bin() { command -v "$1" 2>/dev/null || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; } || return 1; }

# mariadb-install-db takes 3-4 s (bootstrap), so its result is kept once per server version
# and user in $MM_CACHE and copied (34 MB, ~0.1 s) into the fresh datadir at every start.
init_datadir() { # MYSQLD INSTALL_DB USER
    local mysqld="$1" install_db="$2" user="$3" key tpl tmp
    key=$("$mysqld" --version 2>/dev/null | md5sum | cut -c1-12)
    tpl="$MM_CACHE/mariadb-datadir-$key-$user"
    mkdir -p "$MM_CACHE"
    if [ ! -f "$tpl/.mm-complete" ]; then
        (
            flock 9
            [ -f "$tpl/.mm-complete" ] && exit 0
            tmp="$tpl.tmp.$$"
            rm -rf "$tmp"; mkdir -p "$tmp"
            # As root, the server runs as root too (--user=root): the throwaway datadir lives
            # under $MM_RUN_DIR, which the mysql user may not be able to reach.
            "$install_db" --no-defaults --datadir="$tmp" --user="$user" \
                --auth-root-authentication-method=normal --skip-test-db \
                --innodb-log-file-size=16M --innodb-buffer-pool-size=64M \
                >"$DIR/install-db.log" 2>&1 || { rm -rf "$tmp"; exit 1; }
            touch "$tmp/.mm-complete"
            rm -rf "$tpl"; mv "$tmp" "$tpl"
        ) 9>"$MM_CACHE/.mariadb-datadir.lock" || { mm_tail_logs "$DIR/install-db.log"; mm_die "mariadb-install-db failed"; }
    fi
    rm -rf "$DATADIR"
    cp -a "$tpl" "$DATADIR"
    rm -f "$DATADIR/.mm-complete"
}

start() {
    local mysqld install_db client
    mysqld=$(find_bin mariadbd) || mm_die "mariadbd not found; run scripts/services/install.sh mariadb first"
    install_db=$(find_bin mariadb-install-db) || mm_die "mariadb-install-db not found"
    client=$(find_bin mariadb) || mm_die "mariadb client not found"
    if pid=$(mm_recorded_pid mariadb); then mm_die "already running (pid $pid)"; fi
    local t0; t0=$(mm_now)
    rm -rf "$DIR"; rm -f "$MM_RUN_DIR/mariadb.pid"; mkdir -p "$DATADIR"
    local user; user=$(id -un)
    init_datadir "$mysqld" "$install_db" "$user"
    local tls=()
    if [ -n "${MARIADB_TLS_DIR:-}" ]; then
        if [ ! -f "$MARIADB_TLS_DIR/server.pem" ]; then
            "$MM_SERVICES_DIR/tls-certs.sh" "$MARIADB_TLS_DIR" >/dev/null || mm_die "could not make test certificates in $MARIADB_TLS_DIR"
        fi
        tls=(--ssl-cert="$MARIADB_TLS_DIR/server.pem" --ssl-key="$MARIADB_TLS_DIR/server.key" --ssl-ca="$MARIADB_TLS_DIR/ca.pem")
    fi
    (
        cd "$DIR"
        exec setsid "$mysqld" --no-defaults --datadir="$DATADIR" --user="$user" \
            --socket="$SOCKET" --pid-file="$DIR/mariadbd.pid" --log-error="$DIR/error.log" \
            --port="$MM_MYSQL_PORT" --bind-address=127.0.0.1 --skip-networking=0 --skip-name-resolve \
            --innodb-buffer-pool-size=64M --innodb-log-file-size=16M --innodb-flush-log-at-trx-commit=2 \
            --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci "${tls[@]}" \
            </dev/null >"$DIR/stdout.log" 2>&1
    ) &
    local pid=$!
    disown "$pid" 2>/dev/null || true
    mm_record_pid mariadb "$pid"
    local i ok=0
    for ((i = 0; i < ${MARIADB_START_TIMEOUT:-60} * 10; i++)); do
        if mariadb-admin --no-defaults --socket="$SOCKET" -uroot ping >/dev/null 2>&1; then ok=1; break; fi
        mm_pid_alive "$pid" || break
        sleep 0.1
    done
    if [ $ok != 1 ]; then
        mm_tail_logs "$DIR/error.log" "$DIR/stdout.log"
        mm_stop_pid mariadb 5 || true
        mm_die "MariaDB did not start"
    fi
    # Fresh server: mariadb-install-db made root@localhost, root@127.0.0.1, root@::1 and
    # root@<hostname> with empty passwords (and maybe anonymous users). Give every account of
    # our user the password, add user@'%' for TCP, and drop anonymous users. With
    # --skip-name-resolve the server ignores accounts whose host is a name (root@<hostname>),
    # so only IP / localhost / % hosts can be altered.
    local usable="(Host IN ('localhost', '%') OR Host REGEXP '^[0-9a-fA-F.:]+\$')"
    local pw=${MM_MYSQL_PASSWORD//\'/\'\'} u=${MM_MYSQL_USER//\'/\'\'} sql host
    sql="CREATE USER IF NOT EXISTS '$u'@'%' IDENTIFIED BY '$pw';"
    sql+="CREATE USER IF NOT EXISTS '$u'@'localhost' IDENTIFIED BY '$pw';"
    while IFS= read -r host; do
        host=${host//\'/\'\'}
        sql+="ALTER USER '$u'@'$host' IDENTIFIED BY '$pw';"
        sql+="GRANT ALL PRIVILEGES ON *.* TO '$u'@'$host' WITH GRANT OPTION;"
    done < <(
        "$client" --no-defaults --socket="$SOCKET" -uroot -N -B \
            -e "SELECT Host FROM mysql.user WHERE User='$u' AND $usable UNION SELECT '%' UNION SELECT 'localhost'"
    )
    while IFS= read -r host; do
        sql+="DROP USER ''@'${host//\'/\'\'}';"
    done < <("$client" --no-defaults --socket="$SOCKET" -uroot -N -B -e "SELECT Host FROM mysql.user WHERE User='' AND $usable")
    sql+="FLUSH PRIVILEGES;"
    "$client" --no-defaults --socket="$SOCKET" -uroot -e "$sql" || mm_die "could not set up accounts"
    "$client" --no-defaults -h127.0.0.1 -P"$MM_MYSQL_PORT" -u"$MM_MYSQL_USER" -p"$MM_MYSQL_PASSWORD" -e 'SELECT 1' >/dev/null \
        || mm_die "TCP login as $MM_MYSQL_USER failed"
    if [ -n "${MARIADB_TLS_DIR:-}" ]; then
        "$client" --no-defaults --socket="$SOCKET" -u"$MM_MYSQL_USER" -p"$MM_MYSQL_PASSWORD" -N -B -e "SHOW VARIABLES LIKE 'have_ssl'" | grep -q YES \
            || { mm_tail_logs "$DIR/error.log"; mm_die "MARIADB_TLS_DIR is set but the server has no TLS (have_ssl is not YES)"; }
    fi
    mm_log "pid $pid ready on 127.0.0.1:$MM_MYSQL_PORT and $SOCKET${MARIADB_TLS_DIR:+ (TLS too)} in $(mm_elapsed "$t0")s"
}

status() {
    local pid
    if pid=$(mm_recorded_pid mariadb); then echo "mariadb: running, pid $pid, 127.0.0.1:$MM_MYSQL_PORT, socket $SOCKET"; else echo "mariadb: not running"; return 1; fi
}

case "${1:-}" in
    start) start ;;
    stop) mm_stop_pid mariadb "${MARIADB_STOP_TIMEOUT:-20}" ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
