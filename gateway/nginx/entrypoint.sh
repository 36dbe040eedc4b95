#!/bin/sh
# The gateway image's entrypoint: writes the three files of gateway.conf that envsubst
# cannot (the same text as gateway/render.py writes for a local run), then runs its
# arguments: the base image's /docker-entrypoint.sh, which renders
# /etc/nginx/templates/*.template into conf.d, and nginx.
#
#   conf.d/trusted-proxies.inc  a line per network of GATEWAY_TRUSTED_PROXIES
#                               (comma-separated; empty: no proxy is trusted)
#   conf.d/tls.inc              tls.inc.template rendered when the certificate and key
#                               files (GATEWAY_TLS_CERT, GATEWAY_TLS_KEY: paths in the
#                               container) are both there and not empty, a comment when
#                               neither is. Compose mounts /dev/null (empty) in their
#                               place when .env names no certificate.
#   conf.d/access-log.inc       the JSON access lines to standard output
#
# GATEWAY_CONF_OUT (/etc/nginx/conf.d) and GATEWAY_TLS_TEMPLATE
# (/etc/nginx/kinoarchive/tls.inc.template) say where, for gateway/tests.
set -eu

out=${GATEWAY_CONF_OUT:-/etc/nginx/conf.d}
tls_template=${GATEWAY_TLS_TEMPLATE:-/etc/nginx/kinoarchive/tls.inc.template}

fail() {
    echo "gateway: $*" >&2
    exit 1
}

# --- Trusted proxies ------------------------------------------------------------------
# Only the characters of addresses and prefix lengths; nginx refuses what is not one.
networks=$(printf '%s' "${GATEWAY_TRUSTED_PROXIES:-}" | tr ',' '\n' | tr -d ' \t')
for network in $networks; do
    case $network in
        *[!0-9A-Fa-f.:/]*) fail "GATEWAY_TRUSTED_PROXIES: '$network' is not an address or a network" ;;
    esac
done
{
    echo "# Written at start from GATEWAY_TRUSTED_PROXIES: the proxies whose X-Forwarded-For"
    echo "# (and X-Forwarded-Proto) the gateway believes. None: every client is its own address."
    for network in $networks; do
        echo "set_real_ip_from $network;"
    done
    echo 'geo $realip_remote_addr $gw_trusted_peer {'
    echo "    default 0;"
    for network in $networks; do
        echo "    $network 1;"
    done
    echo "}"
} >"$out/trusted-proxies.inc"

# --- TLS ------------------------------------------------------------------------------
cert=${GATEWAY_TLS_CERT:-}
key=${GATEWAY_TLS_KEY:-}
has_cert=no
has_key=no
if [ -n "$cert" ] && [ -s "$cert" ]; then has_cert=yes; fi
if [ -n "$key" ] && [ -s "$key" ]; then has_key=yes; fi
if [ "$has_cert" = yes ] && [ "$has_key" = yes ]; then
    for file in "$cert" "$key"; do
        # nginx runs as an unprivileged user (uid 101): the files must be readable by it.
        [ -r "$file" ] || fail "cannot read $file as uid $(id -u): make it readable by that user"
    done
    case ${GATEWAY_HTTPS_PORT:-} in
        '' | *[!0-9]*) fail "GATEWAY_HTTPS_PORT must be a port" ;;
    esac
    : "${GATEWAY_HTTPS_REDIRECT_PORT:=$GATEWAY_HTTPS_PORT}"
    case $GATEWAY_HTTPS_REDIRECT_PORT in
        *[!0-9]*) fail "GATEWAY_HTTPS_REDIRECT_PORT must be a port" ;;
    esac
    export GATEWAY_HTTPS_REDIRECT_PORT
    # shellcheck disable=SC2016  # the names are for envsubst, not the shell
    envsubst '${GATEWAY_HTTPS_PORT} ${GATEWAY_HTTPS_REDIRECT_PORT} ${GATEWAY_TLS_CERT} ${GATEWAY_TLS_KEY}' \
        <"$tls_template" >"$out/tls.inc"
    echo "gateway: HTTPS on port $GATEWAY_HTTPS_PORT with $cert" >&2
elif [ "$has_cert" = yes ] || [ "$has_key" = yes ]; then
    fail "TLS needs both a certificate ($cert) and a key ($key): one is missing or empty"
else
    {
        echo "# No GATEWAY_TLS_CERT and GATEWAY_TLS_KEY: plain HTTP only (tls.inc.template is the"
        echo "# HTTPS listener that goes here when both are set)."
    } >"$out/tls.inc"
fi

# --- Access log -----------------------------------------------------------------------
# To standard output, as each request ends: docker logs. (A local run may send it to a
# file, buffered: gateway/render.py.)
{
    echo "# The JSON access lines, to standard output as each request ends (docker logs)."
    echo "access_log /dev/stdout kinoarchive_json;"
} >"$out/access-log.inc"

exec "$@"
