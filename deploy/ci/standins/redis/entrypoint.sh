#!/bin/sh
# As the official image: options alone mean redis-server with those options, and a
# redis-server started without a configuration file listens on every address of the
# container without protected mode (the network is the container's own).
set -e
if [ "${1#-}" != "$1" ]; then
    set -- redis-server "$@"
fi
if [ "$1" = redis-server ]; then
    case "${2:-}" in
        *.conf) ;;
        *) shift; set -- redis-server --protected-mode no "$@" ;;
    esac
fi
exec "$@"
