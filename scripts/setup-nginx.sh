#!/usr/bin/env bash
# Installs Debian's nginx for tests/test_artifact_server.py (pytest -m nginx), which serves
# kustomize/components/artifact-server/nginx.conf with a real nginx. Idempotent: does nothing
# when an nginx binary is already on PATH or in /usr/sbin.
set -euo pipefail

if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
  echo "nginx already installed: $(command -v nginx || echo /usr/sbin/nginx)"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
# nginx-light is gone from newer Debian releases; fall back to the plain package.
if ! $SUDO apt-get install -y --no-install-recommends nginx-light; then
  $SUDO apt-get install -y --no-install-recommends nginx
fi
# The package's postinst may start a system nginx on port 80; the tests run their own.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx 2>/dev/null; then
  $SUDO systemctl stop nginx || true
fi
echo "nginx installed: $(command -v nginx || echo /usr/sbin/nginx)"
