#!/usr/bin/env bash
# Install Debian packages for the composed-stack scripts: `apt-install.sh NAME...`.
# Only as root where apt-get exists; anywhere else it says what to install, and fails.
set -euo pipefail
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "missing: $*. Install them (Docker Engine with Compose; debootstrap) and try again." >&2
    exit 1
fi
echo "installing $* (apt-get)"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq "$@" >/dev/null 2>&1 || {
    apt-get update -qq && apt-get install -y -qq "$@" >/dev/null
}
