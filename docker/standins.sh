#!/usr/bin/env bash
# Builds local stand-ins for the Dockerfile's two base images, for a Docker host that cannot pull
# them (no access to Docker Hub): a minimal Debian bookworm made with debootstrap, imported as
# debian:bookworm-slim, and that image plus build-essential and the host's Rust toolchain
# (`rustc --print sysroot`, or RUST_SYSROOT; version RUST_VERSION of the Dockerfile) tagged
# rust:<version>-bookworm.
# They are close to, not the same as, the official images. Needs root, debootstrap, a reachable
# Debian mirror and the toolchain on the host.
#
#   docker/standins.sh [--network host]     # extra arguments go to `docker build`
#
# STANDIN_DIR (default /var/tmp/scaidrive-standins) holds the rootfs and the build context;
# it is removed at the end.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${STANDIN_DIR:-/var/tmp/scaidrive-standins}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
rust_version="$(sed -n 's/^ARG RUST_VERSION=//p' "$repo/docker/Dockerfile")"
release="$(sed -n 's/^ARG DEBIAN_RELEASE=//p' "$repo/docker/Dockerfile")"
slim="debian:${release}-slim"
rust="rust:${rust_version}-${release}"

mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

if ! docker image inspect "$slim" >/dev/null 2>&1; then
    echo "debootstrap $release -> $slim"
    debootstrap --variant=minbase "$release" "$work/rootfs" "$mirror" >"$work/debootstrap.log"
    rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
    tar -C "$work/rootfs" -c . | docker import \
        --change 'CMD ["bash"]' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        - "$slim"
    rm -rf "$work/rootfs"
fi

if ! docker image inspect "$rust" >/dev/null 2>&1; then
    sysroot="${RUST_SYSROOT:-$(rustc --print sysroot)}"
    case "$("$sysroot/bin/rustc" --version)" in
        "rustc $rust_version."*) ;;
        *) echo "standins.sh: $sysroot is not Rust $rust_version (set RUST_SYSROOT)" >&2; exit 1 ;;
    esac
    echo "$rust from $slim and $sysroot"
    mkdir -p "$work/rust/toolchain"
    # Everything but the offline documentation (share/doc, most of the toolchain's size).
    for d in bin lib libexec etc; do
        [ -d "$sysroot/$d" ] && cp -a "$sysroot/$d" "$work/rust/toolchain/"
    done
    # The host's own CAs (a host behind a TLS-inspecting proxy needs them to reach crates.io).
    mkdir -p "$work/rust/ca"
    cp /usr/local/share/ca-certificates/*.crt "$work/rust/ca/" 2>/dev/null || true
    cat >"$work/rust/Dockerfile" <<DOCKERFILE
FROM $slim
RUN apt-get update \\
 && apt-get install -y --no-install-recommends build-essential pkg-config ca-certificates \\
 && rm -rf /var/lib/apt/lists/*
COPY ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates
COPY toolchain/ /usr/local/rust/
ENV CARGO_HOME=/usr/local/cargo \\
    PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
DOCKERFILE
    docker build "$@" -t "$rust" "$work/rust"
fi
docker image ls "$slim"
docker image ls "$rust"
