#!/bin/bash
# The official image's start, for what the project uses of it (see the Dockerfile).
set -euo pipefail

if [ "${1:0:1}" = - ]; then
    set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
    exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    exec gosu postgres "$BASH_SOURCE" "$@"
fi

superuser=${POSTGRES_USER:-postgres}
database=${POSTGRES_DB:-$superuser}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        echo "postgres: POSTGRES_PASSWORD is not set; refusing to initialise" >&2
        exit 1
    fi
    initdb --username="$superuser" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
        --encoding=UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 \
        -D "$PGDATA"
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"

    # The init scripts run against a server that listens on its socket only.
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
    export PGUSER=$superuser PGHOST=/var/run/postgresql
    if [ "$database" != postgres ]; then
        psql -v ON_ERROR_STOP=1 --dbname postgres -c "CREATE DATABASE \"$database\""
    fi
    for script in /docker-entrypoint-initdb.d/*; do
        case "$script" in
            *.sh) echo "postgres: running $script"; bash "$script" ;;
            *.sql) echo "postgres: running $script"; psql -v ON_ERROR_STOP=1 --dbname "$database" -f "$script" ;;
            *) ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop
    unset PGUSER PGHOST
    echo "postgres: initialised; starting"
fi

exec "$@"
