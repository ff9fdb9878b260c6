#!/usr/bin/env bash
# The project's one test command: installs what the tests need, builds, runs every test.
# Usage: scripts/test.sh [extra swift test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[test] %s\n' "$*" >&2; }

# System packages the build and the tests need (Debian).
need_apt=()
dpkg -s libsqlite3-dev >/dev/null 2>&1 || need_apt+=(libsqlite3-dev)
command -v git >/dev/null 2>&1 || need_apt+=(git)
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

log "building (debug, with tests)"
swift build --build-tests

log "running tests"
swift test --skip-build "$@"
