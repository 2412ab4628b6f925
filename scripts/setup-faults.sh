#!/usr/bin/env bash
# Installs what tests/test_fault_matrix.py needs beyond the runner: libfaketime (Debian package
# faketime), for the row whose wall clock jumps while the runner's deadline must not. The other
# faults (tmpfs for ENOSPC and read-only roots, `unshare -m` to hide the browser) use util-linux
# and the kernel, already present; those rows need root and skip otherwise. Idempotent.
set -euo pipefail

if [ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ] \
  || compgen -G '/usr/lib/*/faketime/libfaketime.so.1' >/dev/null; then
  echo "libfaketime already installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi

export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends faketime; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends faketime
fi
echo "libfaketime installed"
