#!/usr/bin/env bash
# Installs what tests/test_fetching.py and bench/fetching.py need to serve Git on 127.0.0.1:
# Debian's git (its `git http-backend`), fcgiwrap to run it as a FastCGI application behind nginx
# (scripts/setup-nginx.sh) for smart HTTP with basic auth, and OpenSSH's server and client for
# git over ssh (the tests start their own sshd on a free loopback port). Idempotent.
set -euo pipefail

have_fcgiwrap() { command -v fcgiwrap >/dev/null 2>&1 || [ -x /usr/sbin/fcgiwrap ]; }
have_backend() { command -v git >/dev/null 2>&1 && [ -x "$(git --exec-path)/git-http-backend" ]; }
have_ssh() { [ -x /usr/sbin/sshd ] && command -v ssh >/dev/null 2>&1 && command -v ssh-keygen >/dev/null 2>&1; }
if have_fcgiwrap && have_backend && have_ssh; then
  echo "git http-backend, fcgiwrap and OpenSSH already installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi

export DEBIAN_FRONTEND=noninteractive
# The packages' postinst would start a system fcgiwrap and an sshd on port 22; the tests start
# their own on loopback. A policy-rc.d that says "no" keeps services from starting meanwhile.
temporary_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod 0755 /usr/sbin/policy-rc.d
  temporary_policy=1
fi
packages="git fcgiwrap openssh-server openssh-client"
if ! $SUDO apt-get install -y --no-install-recommends $packages; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends $packages
fi
if [ -n "$temporary_policy" ]; then
  $SUDO rm -f /usr/sbin/policy-rc.d
fi
echo "git http-backend, fcgiwrap and OpenSSH installed"
