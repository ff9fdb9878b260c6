#!/usr/bin/env bash
# Idempotent installs of the services used by the integration tests and the quickstart.
#   scripts/services/install.sh [milvus] [moto] [mariadb] [milvus-lite] [pymilvus]
#   (no argument = milvus moto mariadb milvus-lite; pymilvus is optional, for Python cross-checks)
# Run it OUTSIDE the network namespace: it needs PyPI / Debian apt.
# A second run is a fast no-op (marker files under $MM_CACHE, dpkg checks).
set -euo pipefail
# shellcheck source=scripts/services/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
MM_LOG_TAG=install

PYTHON="${MM_VENV_PYTHON:-python3}"   # interpreter the venvs are made from

if mm_in_private_netns; then
    mm_log "warning: this looks like a private network namespace; installs need the network"
fi

mkdir -p "$MM_CACHE"
# One installer at a time per cache.
exec 9>"$MM_CACHE/.install.lock"
flock 9

install_milvus() {
    local marker="$MM_MILVUS_VENV/.mm-milvus-$MM_MILVUS_VERSION"
    if [ ! -f "$marker" ]; then
        local t0; t0=$(mm_now)
        mm_log "milvus: creating $MM_MILVUS_VENV with milvus==$MM_MILVUS_VERSION"
        rm -rf "$MM_MILVUS_VENV"
        "$PYTHON" -m venv "$MM_MILVUS_VENV"
        "$MM_MILVUS_VENV/bin/pip" install -q "milvus==$MM_MILVUS_VERSION" numpy
        touch "$marker"
        mm_log "milvus: venv ready in $(mm_elapsed "$t0")s"
    fi
    local bmarker="$MM_MILVUS_HOME/.mm-unpacked"
    if [ ! -f "$bmarker" ] || [ ! -x "$MM_MILVUS_HOME/bin/milvus" ]; then
        local t0; t0=$(mm_now)
        mm_log "milvus: unpacking binaries into $MM_MILVUS_HOME/bin"
        mkdir -p "$MM_MILVUS_HOME"
        "$MM_MILVUS_VENV/bin/python" - "$MM_MILVUS_HOME" <<'PY'
import sys
import milvus
milvus._initialize_data_files(sys.argv[1])
PY
        [ -x "$MM_MILVUS_HOME/bin/milvus" ] || mm_die "milvus: $MM_MILVUS_HOME/bin/milvus missing after unpack"
        touch "$bmarker"
        mm_log "milvus: binaries unpacked in $(mm_elapsed "$t0")s ($(du -sh "$MM_MILVUS_HOME/bin" | cut -f1))"
    fi
    mm_log "milvus: ok ($MM_MILVUS_HOME/bin/milvus)"
}

install_moto() {
    local marker="$MM_MOTO_VENV/.mm-moto"
    if [ ! -f "$marker" ] || [ ! -x "$MM_MOTO_VENV/bin/moto_server" ]; then
        local t0; t0=$(mm_now)
        mm_log "moto: creating $MM_MOTO_VENV with moto[server]"
        rm -rf "$MM_MOTO_VENV"
        "$PYTHON" -m venv "$MM_MOTO_VENV"
        "$MM_MOTO_VENV/bin/pip" install -q "moto[server]"
        touch "$marker"
        mm_log "moto: venv ready in $(mm_elapsed "$t0")s"
    fi
    # numpy next to boto3: tests stage .npy objects into the bucket with this venv's python.
    if [ ! -f "$MM_MOTO_VENV/.mm-numpy" ]; then
        "$MM_MOTO_VENV/bin/pip" install -q numpy
        touch "$MM_MOTO_VENV/.mm-numpy"
    fi
    mm_log "moto: ok ($("$MM_MOTO_VENV/bin/python" -c 'import moto; print("moto", moto.__version__)'))"
}

install_milvus_lite() {
    # Milvus Lite 3.2.2: a pure-Python server of the current 2.x gRPC API (float vectors only,
    # one row per primary key), the second real server of the insert-mode tests.
    local marker="$MM_LITE_VENV/.mm-milvus-lite-$MM_LITE_VERSION-pymilvus-3.0.2"
    if [ ! -f "$marker" ]; then
        local t0; t0=$(mm_now)
        mm_log "milvus-lite: creating $MM_LITE_VENV with milvus-lite==$MM_LITE_VERSION"
        rm -rf "$MM_LITE_VENV"
        "$PYTHON" -m venv "$MM_LITE_VENV"
        "$MM_LITE_VENV/bin/pip" install -q "milvus-lite==$MM_LITE_VERSION" "pymilvus==3.0.2"
        touch "$marker"
        mm_log "milvus-lite: venv ready in $(mm_elapsed "$t0")s"
    fi
    mm_log "milvus-lite: ok ($MM_LITE_VENV)"
}

install_pymilvus() {
    # Optional: pymilvus 2.3 in the Milvus venv, for Python cross-checks (not a default target).
    # pymilvus 2.3 imports pkg_resources (setuptools<70) and needs marshmallow<4.
    install_milvus
    if [ ! -f "$MM_MILVUS_VENV/.mm-pymilvus" ]; then
        local t0; t0=$(mm_now)
        mm_log "pymilvus: installing pymilvus==2.3.8 into $MM_MILVUS_VENV"
        "$MM_MILVUS_VENV/bin/pip" install -q "pymilvus==2.3.8" "setuptools<70" "marshmallow<4"
        touch "$MM_MILVUS_VENV/.mm-pymilvus"
        mm_log "pymilvus: installed in $(mm_elapsed "$t0")s"
    fi
    mm_log "pymilvus: ok ($("$MM_MILVUS_VENV/bin/python" -c 'import pymilvus; print(pymilvus.__version__)' 2>/dev/null))"
}

mariadb_installed() {
    command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || return 1
    command -v mariadb-install-db >/dev/null 2>&1 || return 1
    command -v mariadb >/dev/null 2>&1 || return 1
    dpkg-query -W -f='${Status}' libmariadb-dev 2>/dev/null | grep -q 'install ok installed'
}

install_mariadb() {
    if ! mariadb_installed; then
        local t0; t0=$(mm_now)
        [ "$(id -u)" = 0 ] || mm_die "mariadb: apt-get install needs root"
        # apt-get update only if the package lists do not know the packages yet.
        if ! apt-cache policy mariadb-server libmariadb-dev 2>/dev/null | grep -q 'Candidate: [0-9]'; then
            mm_log "mariadb: apt-get update"
            apt-get update -q >/dev/null
        fi
        mm_log "mariadb: apt-get install mariadb-server libmariadb-dev"
        # policy-rc.d (exit 101) keeps the package's own service from being started.
        local policy=/usr/sbin/policy-rc.d own_policy=0
        if [ ! -e "$policy" ]; then
            printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; own_policy=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            mariadb-server mariadb-client libmariadb-dev >/dev/null || { [ $own_policy = 1 ] && rm -f "$policy"; mm_die "mariadb: apt-get install failed"; }
        [ $own_policy = 1 ] && rm -f "$policy"
        mariadb_installed || mm_die "mariadb: installed, but mariadbd/mariadb-install-db not found"
        mm_log "mariadb: installed in $(mm_elapsed "$t0")s"
    fi
    mm_log "mariadb: ok ($(mariadb --version | head -n1))"
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(milvus moto mariadb milvus-lite)
for t in "${targets[@]}"; do
    case "$t" in
        milvus) install_milvus ;;
        moto) install_moto ;;
        mariadb) install_mariadb ;;
        milvus-lite) install_milvus_lite ;;
        pymilvus) install_pymilvus ;;
        *) mm_die "unknown target '$t' (expected: milvus moto mariadb milvus-lite [pymilvus])" ;;
    esac
done
