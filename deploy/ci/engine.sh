#!/usr/bin/env bash
# The Docker engine for the composed-stack tests (`make compose-test`, `.ci/run`).
#
#   deploy/ci/engine.sh start   install what is missing, start dockerd if none answers
#   deploy/ci/engine.sh stop    stop the dockerd that `start` started (and only that one)
#
# On a machine that already runs Docker with Compose this does nothing but check it.
# Otherwise, as root on Debian, it installs Debian's docker.io and docker-compose (Compose
# v1.29; v2 is used where present), and starts dockerd in the background with its
# defaults, its log in var/dockerd.log. (standins.sh installs debootstrap if it needs it.)
set -euo pipefail
cd "$(dirname "$0")/../.."

state=var/dockerd.pid
log=var/dockerd.log

engine_answers() { docker info >/dev/null 2>&1; }
have_compose() { docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1; }

install_missing() {
    local wanted=()
    command -v dockerd >/dev/null 2>&1 || engine_answers || wanted+=(docker.io)
    have_compose || wanted+=(docker-compose)
    [ ${#wanted[@]} -eq 0 ] && return 0
    deploy/ci/apt-install.sh "${wanted[@]}"
}

start() {
    if engine_answers && have_compose; then
        echo "engine: Docker answers already"
        return 0
    fi
    install_missing
    if engine_answers; then
        echo "engine: Docker answers already"
        return 0
    fi
    mkdir -p var
    echo "engine: starting dockerd (log: $log)"
    # setsid: dockerd must outlive this script and not get the terminal's signals.
    setsid dockerd >"$log" 2>&1 </dev/null &
    echo $! >"$state"
    for _ in $(seq 1 120); do
        if engine_answers; then
            echo "engine: dockerd is up"
            return 0
        fi
        if ! kill -0 "$(cat "$state")" 2>/dev/null; then
            break
        fi
        sleep 0.5
    done
    echo "engine: dockerd did not start; the end of $log:" >&2
    tail -n 30 "$log" >&2 || true
    exit 1
}

stop() {
    [ -f "$state" ] || return 0
    local pid
    pid=$(cat "$state")
    if kill -0 "$pid" 2>/dev/null; then
        echo "engine: stopping dockerd"
        kill "$pid"
        for _ in $(seq 1 60); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
    fi
    rm -f "$state"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
