#!/usr/bin/env bash
# The project's one test command: installs what the tests need, builds, starts every service the
# tests use (in a private network namespace with loopback only), runs every test, stops the services.
# Usage: scripts/test.sh [extra swift test arguments]
# Env: MM_TEST_SERVICES (default: moto,mariadb,milvus,milvus-lite) — the services started for the run.
#      MM_SKIP_TLS=1 skips the two TLS phases (Milvus tlsMode 1 + MariaDB TLS, Milvus tlsMode 2).
#      MM_SKIP_RELEASE=1 skips the release phase (static release build + clean Debian root check).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[test] %s\n' "$*" >&2; }
SERVICES="${MM_TEST_SERVICES-moto,mariadb,milvus,milvus-lite}"
# A run folder of its own (pid files, data, logs), so a concurrent run elsewhere cannot collide.
export MM_RUN_DIR="${MM_RUN_DIR:-$(mktemp -d /tmp/mm-test-services.XXXXXX)}"
# Milvus runs with authentication on, so the credential tests run against the real check.
export MILVUS_AUTH="${MILVUS_AUTH-1}"

# System packages the build and the tests need (Debian).
need_apt=()
# chromium: the job server's status page is checked in headless Chromium.
for pkg in libsqlite3-dev libmariadb-dev pkg-config git iproute2 util-linux chromium; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if ((${#need_apt[@]})); then
    log "installing ${need_apt[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# numpy: the round-trip tests read the dumped .npy files with numpy.load.
if ! python3 -c 'import numpy' >/dev/null 2>&1; then
    log "installing numpy"
    python3 -m pip install -q numpy
fi
export MM_PYTHON="$(command -v python3)"
export MM_CHROMIUM="$(command -v chromium)"

# Services: installed (idempotent, fast when present) before entering the namespace, which has no network.
if [ -n "$SERVICES" ]; then
    log "installing services: $SERVICES"
    # shellcheck disable=SC2046
    scripts/services/install.sh $(echo "$SERVICES" | tr ',' ' ') >&2
fi

log "building (debug, with tests)"
swift build --build-tests

# The README's quickstart, so it cannot rot: a real migration of the sample into its own Milvus.
if [ "${MM_SKIP_QUICKSTART:-0}" != 1 ]; then
    log "running the quickstart"
    QUICKSTART_SKIP_BUILD=1 MM_RUN_DIR="$MM_RUN_DIR-quickstart" scripts/quickstart.sh "$(mktemp -d /tmp/mm-quickstart-test.XXXXXX)" > /tmp/mm-quickstart-test.log 2>&1 \
        || { tail -40 /tmp/mm-quickstart-test.log >&2; log "quickstart FAILED"; exit 1; }
    log "quickstart passed: $(grep -c 'Milvus matches the source.' /tmp/mm-quickstart-test.log) verification ok"
fi

# The release tarball on a clean system: built (static Swift runtime, its own build folder), then run
# on a minimal Debian root (cached between runs) holding only the packages its RUNTIME.md names.
if [ "${MM_SKIP_RELEASE:-0}" != 1 ]; then
    log "release phase: scripts/release.sh, then scripts/release-check.sh on a clean Debian root"
    release_start=$(date +%s)
    scripts/release-check.sh > "$MM_RUN_DIR-release-check.log" 2>&1 \
        || { tail -40 "$MM_RUN_DIR-release-check.log" >&2; log "release check FAILED (log: $MM_RUN_DIR-release-check.log)"; exit 1; }
    log "$(grep 'PASSED' "$MM_RUN_DIR-release-check.log") ($(( $(date +%s) - release_start )) s)"
fi

# Milvus on S3 storage (moto): the remote end-to-end suite needs a Milvus of its own.
if [ "${MM_SKIP_REMOTE_MILVUS:-0}" != 1 ] && [[ ",$SERVICES," == *",milvus,"* ]] && [[ ",$SERVICES," == *",moto,"* ]]; then
    log "running the remote end-to-end suite against Milvus on moto storage"
    MILVUS_STORAGE=minio MM_RUN_DIR="$MM_RUN_DIR-minio" scripts/netns-run.sh --services moto,milvus -- \
        swift test --skip-build --filter RemoteMigrationTests
fi

# TLS for real: Milvus serving TLS (tlsMode 1, with MariaDB over TLS for export -m) and mutual TLS
# (tlsMode 2), each its own instance, with certificates made here by openssl (a CA, a second CA,
# server and client certificates).
if [ "${MM_SKIP_TLS:-0}" != 1 ] && [[ ",$SERVICES," == *",milvus,"* ]]; then
    tls_dir="$MM_RUN_DIR-tls-certs"
    scripts/services/tls-certs.sh "$tls_dir" >/dev/null
    for mode in 1 2; do
        tls_services=milvus tls_env=()
        if [ "$mode" = 1 ] && [[ ",$SERVICES," == *",mariadb,"* ]]; then
            tls_services=mariadb,milvus tls_env=(MARIADB_TLS_DIR="$tls_dir")
        fi
        log "running the TLS suites against Milvus with tlsMode $mode ($tls_services)"
        env "${tls_env[@]}" MILVUS_TLS_MODE="$mode" MILVUS_TLS_DIR="$tls_dir" MM_RUN_DIR="$MM_RUN_DIR-tls$mode" \
            scripts/netns-run.sh --services "$tls_services" -- swift test --skip-build --filter 'TLSServerTests|MySQLTLSTests'
    done
fi

# Milvus killed (SIGKILL) and restarted on its data under a running migration, and unreachable:
# the suite kills and restarts the Milvus of its own namespace, so no other suite shares it.
if [ "${MM_SKIP_MILVUS_FAULTS:-0}" != 1 ] && [[ ",$SERVICES," == *",milvus,"* ]]; then
    log "running the Milvus fault suite (kill -9 and restart of its own Milvus)"
    MM_FAULT_MILVUS=1 MM_RUN_DIR="$MM_RUN_DIR-faults" scripts/netns-run.sh --services milvus -- \
        swift test --skip-build --filter MilvusFaultTests
fi

log "running tests with services: ${SERVICES:-none}"
exec scripts/netns-run.sh ${SERVICES:+--services "$SERVICES"} -- swift test --skip-build "$@"
