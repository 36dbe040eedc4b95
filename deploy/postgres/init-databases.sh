#!/bin/sh
# One database and one role per service, made when PostgreSQL initialises an empty data
# volume (the official image runs /docker-entrypoint-initdb.d/* once, as the superuser).
# The passwords come from the container's environment: CATALOG_DB_PASSWORD,
# AUTH_DB_PASSWORD, USER_DB_PASSWORD (docker-compose.yml passes them from .env).
# Each role owns its database and can reach no other: CONNECT is revoked from PUBLIC.
# ("user" is a reserved word in SQL: quote it, as in ALTER ROLE "user" ...)
# Later changes of a password in .env need `ALTER ROLE ... PASSWORD` (README, Deployment).
set -eu

create_service_database() {
    name=$1
    password=$2
    if [ -z "$password" ]; then
        echo "init-databases: no password for the $name role" >&2
        return 1
    fi
    psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
        -v name="$name" -v password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
    echo "init-databases: database and role $name created"
}

create_service_database catalog "${CATALOG_DB_PASSWORD:-}"
create_service_database auth "${AUTH_DB_PASSWORD:-}"
create_service_database user "${USER_DB_PASSWORD:-}"
