#!/bin/sh
# Entry point of the artifact server: require Kargo's log token, then start nginx ("$@").
#
# When TOKEN_FILE holds a token (the cluster overlay mounts the Secret
# verification-artifacts-token there), every request but /healthz must carry
# `Authorization: Bearer <token>`: Kargo's API server sends it when its chart sets
# api.rollouts.logs.tokenSecret to the same token and api.rollouts.logs.httpHeaders to
# {Authorization: "Bearer ${{token}}"} (akuity/kargo, pkg/server: buildRequest of the
# analysis-run log endpoint puts the token into the header templates' `token`). The check is
# an nginx include written into AUTH_DIR, which artifact-server.conf includes in every location
# that serves evidence. REQUIRE_TOKEN=true refuses to start without a token.
set -eu
token_file=${TOKEN_FILE:-/var/run/secrets/artifact-token/token}
auth_dir=${AUTH_DIR:-/tmp/nginx-auth}
mkdir -p "$auth_dir"
rm -f "$auth_dir/token.conf"
if [ -s "$token_file" ]; then
    token=$(cat "$token_file")
    # RFC 6750's b64token alphabet: nothing that could break out of the nginx string below.
    case $token in
        *[!A-Za-z0-9._~+/=-]*)
            echo "artifact server: the token in $token_file holds characters outside A-Z a-z 0-9 . _ ~ + / = - (whitespace or a newline?): refusing to start" >&2
            exit 1
            ;;
    esac
    cat > "$auth_dir/token.conf" <<CONF
if (\$http_authorization != "Bearer $token") {
    add_header WWW-Authenticate 'Bearer realm="verification-artifacts"' always;
    return 401;
}
CONF
elif [ "${REQUIRE_TOKEN:-false}" = true ]; then
    echo "artifact server: REQUIRE_TOKEN=true but $token_file is missing or empty: mount the Secret verification-artifacts-token (key: token)" >&2
    exit 1
fi
exec "$@"
