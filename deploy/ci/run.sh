#!/usr/bin/env bash
# CI's run of the composed stack (.ci/run calls it after the other suites):
# `make compose-test` on a Docker engine and base images that this run provides where
# the machine lacks them, then the removal of everything the run created, also when a
# test fails: the test stack's containers, networks, volumes and images (compose.py test
# removes those), the stand-in images built here, and the dockerd started here.
set -euo pipefail
cd "$(dirname "$0")/../.."

began=$(date +%s)
built=var/ci/built-images
mkdir -p var/ci
rm -f "$built"
# The Debian root that stand-ins start from, when this run makes it (200 MB).
made_rootfs=$([ -d var/ci/rootfs ] || echo yes)

cleanup() {
    local status=$?
    if [ -s "$built" ]; then
        # Newest first: a stand-in before the base it was built on.
        tac "$built" | xargs docker rmi >/dev/null 2>&1 || true
        rm -f "$built"
    fi
    if [ -n "$made_rootfs" ]; then
        rm -rf var/ci/rootfs
    fi
    deploy/ci/engine.sh stop
    echo "compose-ci: $(($(date +%s) - began)) s in all"
    exit "$status"
}
trap cleanup EXIT

deploy/ci/engine.sh start
STANDINS_RECORD=$built deploy/ci/standins.sh
echo "compose-ci: engine and base images ready after $(($(date +%s) - began)) s"
make compose-test
