#!/usr/bin/env bash
# Base images for machines that reach no container registry (deploy/ci/README.md).
#
#   deploy/ci/standins.sh          make sure every base image the stack builds on exists
#   deploy/ci/standins.sh --list   print "IMAGE DIRECTORY" for each
#   STANDINS_RECORD=FILE            also append the name of each image built to FILE
#                                   (CI removes them afterwards: deploy/ci/run.sh)
#
# For each image: present already, or pulled from a registry, and nothing is built. Only
# when neither works is a stand-in built from Debian packages under the official name and
# tag, from a Debian root made with debootstrap. Nothing in the product depends on them.
set -euo pipefail
cd "$(dirname "$0")/../.."

# The official images the project's Dockerfiles and docker-compose.yml use, and the
# folder of each one's stand-in (scripts/check_deploy.py keeps this list complete).
IMAGES=(
    "python:3.11-slim python"
    "nginx:1.28-alpine nginx"
    "postgres:17-alpine postgres"
    "redis:7-alpine redis"
)
ROOTFS=var/ci/rootfs
mkdir -p var/ci
DEBIAN_IMAGE=kinoarchive-ci/debootstrap:bookworm
BASE_IMAGE=kinoarchive-ci/base:bookworm

if [ "${1:-}" = --list ]; then
    printf '%s\n' "${IMAGES[@]}"
    exit 0
fi

have() { docker image inspect "$1" >/dev/null 2>&1; }

# docker build, quiet unless it fails; the image is recorded as this run's.
build() {
    local tag=$1
    shift
    if ! docker build -q -t "$tag" --label org.kinoarchive.standin=true "$@" >var/ci/build.log 2>&1; then
        tail -n 40 var/ci/build.log >&2
        exit 1
    fi
    if [ -n "${STANDINS_RECORD:-}" ]; then
        echo "$tag" >>"$STANDINS_RECORD"
    fi
}

apt_mirror() {
    # The mirror apt uses on this machine, so debootstrap reaches what apt reaches.
    local uri
    uri=$(grep -hs -m1 -E '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' || true)
    [ -n "$uri" ] || uri=$(grep -hs -m1 -E '^deb ' /etc/apt/sources.list | awk '{print $2}' || true)
    echo "${uri:-http://deb.debian.org/debian}"
}

build_base() {
    have "$BASE_IMAGE" && return 0
    if ! have "$DEBIAN_IMAGE"; then
        if [ ! -x "$ROOTFS/bin/bash" ]; then
            command -v debootstrap >/dev/null || deploy/ci/apt-install.sh debootstrap
            echo "standins: debootstrap bookworm into $ROOTFS"
            rm -rf "$ROOTFS"
            mkdir -p "$(dirname "$ROOTFS")"
            debootstrap --variant=minbase bookworm "$ROOTFS" "$(apt_mirror)" >var/ci/debootstrap.log 2>&1 \
                || { tail -n 20 var/ci/debootstrap.log >&2; exit 1; }
        fi
        tar -C "$ROOTFS" -c . | docker import - "$DEBIAN_IMAGE" >/dev/null
        [ -z "${STANDINS_RECORD:-}" ] || echo "$DEBIAN_IMAGE" >>"$STANDINS_RECORD"
    fi
    local context
    context=$(mktemp -d)
    cp deploy/ci/standins/base/Dockerfile "$context/"
    cp /etc/ssl/certs/ca-certificates.crt "$context/host-ca-bundle.crt"
    build "$BASE_IMAGE" "$context"
    rm -rf "$context"
}

for entry in "${IMAGES[@]}"; do
    read -r image folder <<<"$entry"
    if have "$image"; then
        continue
    fi
    if timeout 120 docker pull -q "$image" >/dev/null 2>&1; then
        echo "standins: pulled $image"
        continue
    fi
    build_base
    echo "standins: no registry has $image; building a stand-in from deploy/ci/standins/$folder"
    build "$image" "deploy/ci/standins/$folder"
done
