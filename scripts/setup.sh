#!/usr/bin/env bash
# Set up everything the runner and its tests need on a fresh Debian machine, idempotently.
#   scripts/setup.sh          the runner, the Node side and a browser (enough for `make example`)
#   scripts/setup.sh test     also what the test suite needs (nginx, podman, kubectl and the
#                             offline base)
# Each part lives in its own scripts/setup-*.sh and is fast when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
want=${1:-run}

python=${PYTHON:-python3}
stamp=.venv/.setup-stamp
digest=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
  echo "setup: creating .venv and installing the runner with its test tools"
  "$python" -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -e '.[test]'
  echo "$digest" > "$stamp"
fi

for part in node package-managers nginx git-server registry podman faults kubectl; do
  case "$part:$want" in
    nginx:run|git-server:run|registry:run|podman:run|faults:run|kubectl:run) continue ;;
  esac
  if [ -f "scripts/setup-$part.sh" ]; then
    bash "scripts/setup-$part.sh"
  fi
done

# The offline base image the container tests build on (container/README.md): minutes the first
# time, a stamp check afterwards. Built here rather than inside a test, where its progress would
# be captured and its time would count against the test's timeout.
if [ "$want" = test ]; then
  bash container/build-base.sh
fi
