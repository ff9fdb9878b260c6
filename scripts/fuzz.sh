#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ (-sanitize=fuzzer,address) and runs each one for a while.
# Not part of scripts/test.sh or CI. See Fuzz/README.md.
#
# Usage: scripts/fuzz.sh [seconds per target, default 600] [target ...]   (default: every target)
# Env:   FUZZ_JOBS     targets run at the same time (default 2)
#        FUZZ_NICE     nice level of the fuzzers (default 19: they take only idle CPU)
#        FUZZ_NO_BUILD=1  skip the build (reuse .build-fuzz)
#        FUZZ_ARGS     more libFuzzer flags, e.g. "-fork=1" (a fresh process per job: FuzzS3XML
#                      needs it for long runs, Foundation's XMLParser leaks on malformed input)
# Exit:  0 when every target ran its time without a finding, 1 otherwise (artifacts and logs in
#        .build-fuzz/fuzz-out/<target>/).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

SECONDS_PER_TARGET="${1:-600}"
shift || true
ALL_TARGETS=(FuzzConfig FuzzMetaJSON FuzzMySQLDSN FuzzNumPy FuzzSegment FuzzS3XML FuzzImportState)
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=("${ALL_TARGETS[@]}")
JOBS="${FUZZ_JOBS:-2}"
NICE="${FUZZ_NICE:-19}"
SCRATCH="$ROOT/.build-fuzz"
OUT="$SCRATCH/fuzz-out"

log() { printf '[fuzz] %s\n' "$*" >&2; }

# Longest input per target: enough for every structure the parser knows, small enough to stay fast.
max_len() {
    case "$1" in
        FuzzMySQLDSN) echo 512 ;;
        FuzzNumPy) echo 1024 ;;
        FuzzImportState) echo 2048 ;;
        FuzzMetaJSON) echo 8192 ;;
        *) echo 4096 ;;
    esac
}

if [ "${FUZZ_NO_BUILD:-0}" != 1 ]; then
    log "building the fuzz targets (debug, -sanitize=fuzzer,address; the first build takes a while)"
    (cd Fuzz && nice -n 10 swift build -c debug --scratch-path "$SCRATCH" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -enable-testing)
fi
BIN="$(cd Fuzz && swift build -c debug --scratch-path "$SCRATCH" --show-bin-path)"

run_target() {
    local target="$1" dir="$OUT/$1"
    mkdir -p "$dir/corpus" "$dir/artifacts"
    # The first folder collects new inputs; the committed seeds are only read.
    SWIFT_BACKTRACE=enable=no ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1}" \
        nice -n "$NICE" "$BIN/$target" "$dir/corpus" "$ROOT/Fuzz/Corpus/$target" \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
        -max_len="$(max_len "$target")" -print_final_stats=1 -artifact_prefix="$dir/artifacts/" ${FUZZ_ARGS:-} \
        > "$dir/log.txt" 2>&1
}

summary() {
    local target="$1" dir="$OUT/$1" rc="$2"
    local runs seconds corpus findings
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$dir/log.txt" | grep -o '[0-9]*$' | tail -1)"
    seconds="$(grep -o 'Done [0-9]* runs in [0-9]* second' "$dir/log.txt" | awk '{print $5}' | tail -1)"
    corpus="$(find "$dir/corpus" -type f | wc -l)"
    findings="$(find "$dir/artifacts" -type f | wc -l)"
    printf '%-16s rc=%s seconds=%s executions=%s corpus(new)=%s findings=%s\n' \
        "$target" "$rc" "${seconds:-?}" "${runs:-?}" "$corpus" "$findings"
}

log "running ${TARGETS[*]} for ${SECONDS_PER_TARGET}s each, $JOBS at a time (nice $NICE); output in $OUT"
failed=0
pids=()
names=()
next=0
declare -A results
while ((next < ${#TARGETS[@]})) || ((${#pids[@]})); do
    while ((next < ${#TARGETS[@]})) && ((${#pids[@]} < JOBS)); do
        run_target "${TARGETS[$next]}" &
        pids+=("$!")
        names+=("${TARGETS[$next]}")
        log "started ${TARGETS[$next]}"
        next=$((next + 1))
    done
    wait -n "${pids[@]}" || true
    keep_pids=()
    keep_names=()
    for i in "${!pids[@]}"; do
        if kill -0 "${pids[$i]}" 2>/dev/null; then
            keep_pids+=("${pids[$i]}")
            keep_names+=("${names[$i]}")
        else
            rc=0
            wait "${pids[$i]}" || rc=$?
            results[${names[$i]}]="$(summary "${names[$i]}" "$rc")"
            log "${results[${names[$i]}]}"
            [ "$rc" = 0 ] || failed=1
        fi
    done
    pids=("${keep_pids[@]+"${keep_pids[@]}"}")
    names=("${keep_names[@]+"${keep_names[@]}"}")
done

echo "fuzz summary (${SECONDS_PER_TARGET}s per target):"
for t in "${TARGETS[@]}"; do echo "  ${results[$t]}"; done
if ((failed)); then
    echo "findings: see $OUT/<target>/log.txt and artifacts/ (reproduce: $BIN/<target> <artifact>)" >&2
    exit 1
fi
