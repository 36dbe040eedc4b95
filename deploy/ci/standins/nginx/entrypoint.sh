#!/bin/sh
# Render /etc/nginx/templates/*.template into /etc/nginx/conf.d/ (the name less
# .template), replacing only ${NAME}s that are set in the environment, then run the
# command.
set -eu
if [ "${1:-}" = nginx ]; then
    defined=$(awk 'BEGIN { for (name in ENVIRON) printf "${%s} ", name }')
    for template in /etc/nginx/templates/*.template; do
        [ -f "$template" ] || continue
        output=/etc/nginx/conf.d/$(basename "$template" .template)
        echo "entrypoint: rendering $template to $output"
        envsubst "$defined" < "$template" > "$output"
    done
fi
exec "$@"
