#!/usr/bin/env bash
# Checks the release tarball on a clean system: a minimal Debian root (debootstrap --variant=minbase,
# the host's own release and mirror) holding only the run-time packages the tarball's RUNTIME.md
# names, where the unpacked binary runs --version, sample, export, plan and dump (local staging).
# The dump's NumPy files are then checked from the host: one id.npy and data.npy per staged folder,
# as many rows as plan counted live. Any failure exits non-zero.
#
# The pristine root is made once and cached ($MM_CACHE_DIR/debian-root-<suite>, a few minutes the
# first time); every run works on a fresh copy of it, so nothing a run installs leaks into the next.
# Needs root (debootstrap, chroot, mount) and the network to the mirror (apt).
# Usage: scripts/release-check.sh [TARBALL]   (default: build it with scripts/release.sh)
# Env: MM_CACHE_DIR (default ~/.cache/milvus-migration), MM_KEEP_CHECK_ROOT=1 keeps the work root.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[release-check] %s\n' "$*" >&2; }
die() { printf '[release-check] FAILED: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mount /proc)"
CACHE_DIR="${MM_CACHE_DIR:-${HOME:-/root}/.cache/milvus-migration}"

# --- the tarball ---------------------------------------------------------------------------------
if [ $# -ge 1 ]; then
    tarball="$1"
else
    tarball="$(scripts/release.sh | tail -1)"
fi
[ -f "$tarball" ] || die "no tarball at '$tarball'"
[ -f "$tarball.sha256" ] || die "no checksum file $tarball.sha256"
(cd "$(dirname "$tarball")" && sha256sum --quiet -c "$(basename "$tarball").sha256") \
    || die "$tarball does not match $tarball.sha256"
name="$(basename "$tarball" .tar.gz)"
[[ "$name" =~ ^milvus-migration-([0-9][^-]*)-linux-([a-z0-9_]+)$ ]] || die "'$name' is not milvus-migration-<version>-linux-<arch>"
version="${BASH_REMATCH[1]}"
log "checking $tarball (version $version)"

# --- the host's release and mirror ---------------------------------------------------------------
# shellcheck disable=SC1091
suite="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
[ -n "$suite" ] || die "/etc/os-release has no VERSION_CODENAME"

# "URI SUITE" for every enabled deb entry with component main whose suite is $suite or $suite-*
# (updates, security), from the one-line sources.list files and the deb822 *.sources files.
apt_entries() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk '$1 == "deb" {
                 i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                 uri = $i; s = $(i + 1); main = 0
                 for (j = i + 2; j <= NF; j++) if ($j == "main") main = 1
                 if (main) print uri, s
             }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk 'function flush() {
                 if (types ~ /(^| )deb( |$)/ && comps ~ /(^| )main( |$)/ && enabled != "no") {
                     n = split(uris, u, " "); m = split(suites, s, " ")
                     for (a = 1; a <= n; a++) for (b = 1; b <= m; b++) print u[a], s[b]
                 }
                 types = uris = suites = comps = ""; enabled = "yes"
             }
             BEGIN { enabled = "yes" }
             /^[ \t]*#/ { next }
             /^[ \t]*$/ { flush(); next }
             { key = tolower($1); sub(/^[^:]*:[ \t]*/, ""); gsub(/\t/, " ") }
             key == "types:" { types = $0 } key == "uris:" { uris = $0 }
             key == "suites:" { suites = $0 } key == "components:" { comps = $0 }
             key == "enabled:" { enabled = tolower($0) }
             END { flush() }' "$f"
    done
}
entries="$(apt_entries | awk -v s="$suite" '$2 == s || index($2, s "-") == 1' | awk '!seen[$0]++')"
mirror="$(echo "$entries" | awk -v s="$suite" '$2 == s { print $1; exit }')"
[ -n "$mirror" ] || die "no deb entry for $suite with component main in /etc/apt/sources.list or /etc/apt/sources.list.d/"
log "suite $suite, mirror $mirror (from the host's apt sources)"

# --- the cached pristine root ---------------------------------------------------------------------
base="$CACHE_DIR/debian-root-$suite"
mkdir -p "$CACHE_DIR"
# One maker at a time: a second run waits for the first one's root instead of racing it.
exec 9>"$CACHE_DIR/.debian-root-$suite.lock"
flock 9
if [ ! -f "$base/.mm-complete" ]; then
    if ! command -v debootstrap >/dev/null; then
        log "installing debootstrap"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    fi
    log "making a minimal $suite root in $base (debootstrap, once; cached afterwards)"
    rm -rf "$base" "$base.tmp"
    start=$(date +%s)
    debootstrap --variant=minbase "$suite" "$base.tmp" "$mirror" > "$CACHE_DIR/debootstrap-$suite.log" 2>&1 \
        || { tail -20 "$CACHE_DIR/debootstrap-$suite.log" >&2; rm -rf "$base.tmp"; die "debootstrap of $suite from $mirror"; }
    rm -rf "$base.tmp/var/cache/apt/archives/"*.deb
    echo "debootstrap --variant=minbase $suite $mirror, $(date -u +%FT%TZ), $(( $(date +%s) - start )) s" > "$base.tmp/.mm-complete"
    mv "$base.tmp" "$base"
    log "root made in $(( $(date +%s) - start )) s"
else
    log "reusing the cached root $base ($(cat "$base/.mm-complete"))"
fi

# --- a fresh copy for this run --------------------------------------------------------------------
work="$(mktemp -d /tmp/mm-release-check.XXXXXX)"
root="$work/root"
cleanup() {
    local rc=$?
    if mountpoint -q "$root/proc" 2>/dev/null; then umount "$root/proc" || umount -l "$root/proc" || true; fi
    if mountpoint -q "$root/proc" 2>/dev/null; then
        log "$root/proc is still mounted: $work left in place"
    elif [ "${MM_KEEP_CHECK_ROOT:-0}" = 1 ] || [ $rc != 0 ]; then
        log "work root kept: $root"
    else
        rm -rf "$work"
    fi
    exit $rc
}
trap cleanup EXIT
start=$(date +%s)
cp -a "$base" "$root"
exec 9>&-  # the cached root is copied: another run may make or use it now
rm -f "$root/.mm-complete"

# What the root held before the run-time packages: to report what they added.
chroot "$root" dpkg-query -W -f '${Package}\n' | sort > "$work/packages-before"
find "$root" -xdev \( -name 'libswift*' -o -name 'libFoundation*' -o -name 'lib_Foundation*' -o -name 'libdispatch*' \) \
    | grep . && die "the minimal root holds Swift runtime libraries (above)"

# The run-time packages as the tarball's RUNTIME.md names them: what ships is what is checked.
tar -xzf "$tarball" -C "$root/opt"
top="/opt/$name"
[ -x "$root$top/bin/milvus-migration" ] || die "the tarball has no $name/bin/milvus-migration"
for f in README.md LICENSE RUNTIME.md; do [ -s "$root$top/$f" ] || die "the tarball has no $name/$f"; done
packages="$(sed -n 's/^apt-get install -y --no-install-recommends //p' "$root$top/RUNTIME.md" | head -1)"
[ -n "$packages" ] || die "$name/RUNTIME.md has no 'apt-get install -y --no-install-recommends ...' line"

# The root's apt sources: the host's entries for this release (main only), and its DNS.
echo "$entries" | awk '{ print "deb", $1, $2, "main" }' > "$root/etc/apt/sources.list"
rm -f "$root/etc/apt/sources.list.d/"*
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
# Downloaded packages are kept between runs (the lists are fetched each run, so they are current).
debs="$CACHE_DIR/debs-$suite"
mkdir -p "$debs"
cp "$debs/"*.deb "$root/var/cache/apt/archives/" 2>/dev/null || true
mount -t proc proc "$root/proc"
log "installing into the root: $packages"
chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    sh -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends $packages" > "$work/apt.log" 2>&1 \
    || { tail -20 "$work/apt.log" >&2; die "apt-get install $packages in the root"; }
cp "$root/var/cache/apt/archives/"*.deb "$debs/" 2>/dev/null || true
chroot "$root" dpkg-query -W -f '${Package}\n' | sort > "$work/packages-after"
added="$(comm -13 "$work/packages-before" "$work/packages-after" | tr '\n' ' ')"
log "packages added to the minimal root: ${added:-none}"
log "root ready in $(( $(date +%s) - start )) s"

# --- the commands, in the root --------------------------------------------------------------------
run() {  # run LABEL ARGS...: the tool in the chroot, with a bare environment; output to the log
    local label="$1"; shift
    log "run: milvus-migration $*"
    if ! chroot "$root" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8 \
            "$top/bin/milvus-migration" "$@" > "$work/$label.out" 2>&1; then
        cat "$work/$label.out" >&2
        die "milvus-migration $* exited non-zero in the clean root"
    fi
    sed 's/^/    /' "$work/$label.out" >&2
}
got="$(chroot "$root" /usr/bin/env -i PATH=/usr/bin:/bin "$top/bin/milvus-migration" --version 2>&1)" \
    || { echo "$got" >&2; die "milvus-migration --version exited non-zero in the clean root"; }
[ "$got" = "$version" ] || die "--version printed '$got', the tarball is named for $version"
log "run: milvus-migration --version -> $got"
mkdir -p "$root/check"
run sample sample -o /check/milvus1x
run export export -s /check/milvus1x/meta.sqlite -o /check/export
cat > "$root/check/migration.yaml" <<YAML
dumper:
  worker:
    workMode: milvus1x
meta:
  mode: local
  localFile: /check/export/meta.json
source:
  mode: local
  local:
    tablesDir: /check/milvus1x/tables
target:
  mode: local
  local:
    outputDir: /check/output
YAML
run plan plan -c /check/migration.yaml
chroot "$root" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8 \
    "$top/bin/milvus-migration" plan -c /check/migration.yaml --json > "$work/plan.json" 2> "$work/plan-json.err" \
    || { cat "$work/plan-json.err" >&2; die "milvus-migration plan --json exited non-zero in the clean root"; }
run dump dump -c /check/migration.yaml --quiet

# --- the dump's files, read from the host ----------------------------------------------------------
# Every staged folder holds id.npy and data.npy with the same row count, and the id rows add up to
# the live rows plan counted (the NumPy header's shape, read without numpy).
python3 - "$work/plan.json" "$root/check/output/migration/tables" "$work/dump.out" <<'PY' >&2 || die "the dump does not match the plan (above)"
import ast, json, os, sys
plan = json.load(open(sys.argv[1]))
tables, dump_out = sys.argv[2], open(sys.argv[3]).read()
def rows(path):
    with open(path, "rb") as f:
        assert f.read(6) == b"\x93NUMPY", f"{path}: not a NumPy file"
        major = f.read(2)[0]
        n = int.from_bytes(f.read(2 if major == 1 else 4), "little")
        return ast.literal_eval(f.read(n).decode("latin1"))["shape"][0]
folders, total, npy = 0, 0, 0
for d, _, files in os.walk(tables):
    names = {f for f in files if f.endswith(".npy")}
    if not names:
        continue
    npy += len(names)
    if names != {"id.npy", "data.npy"}:
        sys.exit(f"{d}: holds {sorted(names)}, not id.npy and data.npy")
    ids, data = rows(os.path.join(d, "id.npy")), rows(os.path.join(d, "data.npy"))
    if ids != data:
        sys.exit(f"{d}: id.npy has {ids} rows, data.npy {data}")
    folders += 1
    total += ids
if folders == 0:
    sys.exit(f"no .npy files under {tables}")
if total != plan["liveRows"]:
    sys.exit(f"the dump staged {total} rows, plan counted {plan['liveRows']} live")
if f"Dumped {total:,} rows" not in dump_out:
    sys.exit(f"the dump's summary does not say 'Dumped {total:,} rows'")
print(f"[release-check] dump: {npy} .npy files in {folders} staged folders, {total} rows = plan's live rows")
PY
log "PASSED: $name runs --version, sample, export, plan and dump on a minimal $suite root with only: $packages"
