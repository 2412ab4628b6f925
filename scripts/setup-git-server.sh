#!/usr/bin/env bash
# Installs what tests/test_fetching.py and bench/fetching.py need to serve Git over smart HTTP
# on 127.0.0.1: Debian's git (its `git http-backend`), fcgiwrap to run it as a FastCGI
# application, and nginx in front (scripts/setup-nginx.sh) for HTTP basic auth. Idempotent.
set -euo pipefail

have_fcgiwrap() { command -v fcgiwrap >/dev/null 2>&1 || [ -x /usr/sbin/fcgiwrap ]; }
have_backend() { command -v git >/dev/null 2>&1 && [ -x "$(git --exec-path)/git-http-backend" ]; }
if have_fcgiwrap && have_backend; then
  echo "git http-backend and fcgiwrap already installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi

export DEBIAN_FRONTEND=noninteractive
# The package's postinst may start a system fcgiwrap socket; the tests start their own.
if ! $SUDO apt-get install -y --no-install-recommends git fcgiwrap; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends git fcgiwrap
fi
echo "git http-backend and fcgiwrap installed"
