#!/usr/bin/env bash
# Builds the release tarball:
#   dist/milvus-migration-<version>-linux-<arch>.tar.gz   (and .tar.gz.sha256)
# holding milvus-migration-<version>-linux-<arch>/{bin/milvus-migration, README.md, LICENSE, RUNTIME.md}.
# The binary is a release build with the Swift runtime and Foundation linked in
# (--static-swift-stdlib), so the target machine needs no Swift toolchain, only the Debian packages
# RUNTIME.md names. The build has its own scratch folder, so it never invalidates the debug build.
# Usage: scripts/release.sh
# Env: MM_RELEASE_SCRATCH (default .build-release) — the build folder; kept between runs
#      (incremental), delete it for a clean build.
#      MM_RELEASE_DIST (default dist) — where the tarball goes.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[release] %s\n' "$*" >&2; }
die() { printf '[release] FAILED: %s\n' "$*" >&2; exit 1; }

SCRATCH="${MM_RELEASE_SCRATCH:-.build-release}"
DIST="${MM_RELEASE_DIST:-dist}"

# The Debian packages the binary needs at run time, one per shared library it is linked against
# (checked below against the binary's NEEDED entries), plus ca-certificates: the system trust
# roots, used for TLS to Milvus, Zilliz Cloud and S3 when no caFile is given (NIOSSL reads them
# at run time, so no linker entry shows that need). Their own dependencies come with them.
# Keep in step with the Dockerfile (checked below).
RUNTIME_PACKAGES=(libc6 libgcc-s1 libstdc++6 zlib1g libxml2 libsqlite3-0 libmariadb3 ca-certificates)

need_apt=()
for pkg in libsqlite3-dev libmariadb-dev pkg-config binutils; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if ((${#need_apt[@]})); then
    log "installing ${need_apt[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

log "building (release, static Swift runtime) in $SCRATCH"
start=$(date +%s)
swift build -c release --static-swift-stdlib --product milvus-migration --scratch-path "$SCRATCH" >&2
log "build took $(( $(date +%s) - start )) s"
BIN="$SCRATCH/release/milvus-migration"
[ -x "$BIN" ] || die "no binary at $BIN after the build"

version="$("$BIN" --version)"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || die "'$BIN --version' printed '$version', not a version"
arch="$(uname -m)"
name="milvus-migration-$version-linux-$arch"

# No Swift runtime library may remain dynamic: the target has no toolchain to provide it.
if ldd "$BIN" | grep -E 'libswift|libFoundation|lib_Foundation|libdispatch|libBlocksRuntime'; then
    die "$BIN still loads the Swift runtime dynamically (above)"
fi
if ldd "$BIN" | grep -q 'not found'; then
    ldd "$BIN" >&2
    die "$BIN needs a library this machine does not have"
fi

# Every library the binary is linked against must come from a package in RUNTIME_PACKAGES: the
# package owning each NEEDED library here (Debian; the same sonames on the target).
needed=$(objdump -p "$BIN" | awk '$1 == "NEEDED" { print $2 }')
for lib in $needed; do
    # ("lib => /path (addr)", or "/path (addr)" for the dynamic loader)
    path=$(ldd "$BIN" | awk -v lib="$lib" '$1 == lib { print $3 } $1 ~ ("/" lib "$") { print $1 }' | head -1)
    [ -n "$path" ] || die "ldd does not resolve $lib"
    # dpkg knows the path as installed (/lib is a symlink to /usr/lib on Debian 12): try both.
    pkg=$( { dpkg -S "$path" 2>/dev/null || dpkg -S "$(readlink -f "$path")" 2>/dev/null \
             || dpkg -S "${path#/usr}" 2>/dev/null || dpkg -S "/usr${path}" 2>/dev/null; } | head -1 | cut -d: -f1)
    [ -n "$pkg" ] || die "no Debian package owns $path ($lib)"
    printf ' %s ' "${RUNTIME_PACKAGES[@]}" | grep -q " $pkg " \
        || die "$lib comes from the package $pkg, which RUNTIME_PACKAGES in scripts/release.sh does not list"
done
docker_packages=$(sed -n 's/.*apt-get install -y --no-install-recommends \(.*\) &&.*/\1/p' Dockerfile | tr -s ' ' '\n' | grep -v '^$' | sort | tr '\n' ' ')
[ "$docker_packages" = "$(printf '%s\n' "${RUNTIME_PACKAGES[@]}" | sort | tr '\n' ' ')" ] \
    || die "the Dockerfile installs '$docker_packages', not the runtime packages '${RUNTIME_PACKAGES[*]}'"

glibc=$(objdump -T "$BIN" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)

stage=$(mktemp -d /tmp/mm-release.XXXXXX)
trap 'rm -rf "$stage"' EXIT
top="$stage/$name"
mkdir -p "$top/bin"
cp "$BIN" "$top/bin/milvus-migration"
strip --strip-debug "$top/bin/milvus-migration"
cp README.md LICENSE "$top/"
{
    cat <<EOF
# milvus-migration $version, linux-$arch: run-time needs

The binary carries the Swift runtime and Foundation; it needs no Swift toolchain, only glibc
$glibc or later and these Debian packages (the project's scripts/release-check.sh runs this
tarball on a minimal Debian $(. /etc/os-release; echo "$VERSION_CODENAME") root, made with debootstrap, that holds nothing else):

\`\`\`
apt-get install -y --no-install-recommends ${RUNTIME_PACKAGES[*]}
\`\`\`

| package | why |
| --- | --- |
EOF
    for pkg in "${RUNTIME_PACKAGES[@]}"; do
        case "$pkg" in
            libc6) why="the C library (the binary uses symbols up to GLIBC_$glibc)" ;;
            libgcc-s1) why="libgcc_s (unwinding)" ;;
            libstdc++6) why="the C++ runtime the Swift runtime uses" ;;
            zlib1g) why="zlib: gRPC and HTTP compression (grpc-swift-nio-transport, swift-nio-extras)" ;;
            libxml2) why="libxml2: FoundationXML's XMLParser, for the S3 answers (\`remote\` modes)" ;;
            libsqlite3-0) why="SQLite: the 1.x meta.sqlite (\`export -s\`)" ;;
            libmariadb3) why="MariaDB Connector/C: \`export -m\` (1.x MySQL meta)" ;;
            ca-certificates) why="the system trust roots, for TLS to Milvus, Zilliz Cloud or S3 without a caFile" ;;
            *) why="" ;;
        esac
        echo "| $pkg | $why |"
    done
    echo
    echo "Shared libraries the binary is linked against (\`objdump -p\`, NEEDED):"
    echo
    for lib in $needed; do echo "- $lib"; done
    echo
    echo "Check: \`ldd bin/milvus-migration\` shows no \"not found\", and \`bin/milvus-migration --version\` prints $version."
} > "$top/RUNTIME.md"

mkdir -p "$DIST"
tarball="$DIST/$name.tar.gz"
# Reproducible order and owners, so the same binary gives the same tarball.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$(git log -1 --format=%ct 2>/dev/null || date +%s)" \
    -C "$stage" -czf "$tarball" "$name"
(cd "$DIST" && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")
log "wrote $tarball ($(du -h "$tarball" | cut -f1)) and $tarball.sha256"
log "needed libraries: $(echo $needed)"
echo "$tarball"
