#!/usr/bin/env bash
# Make podman usable on a fresh Debian bookworm machine of this project (run as root).
#
# Why each piece is here (see docs/platform-facts.md, "Containers on these machines"):
# - There is no Docker engine (a docker *client* may exist, but no daemon): podman is the engine.
# - crun fails on this machine's cgroup layout (cgroup v1 hierarchy with a v2 "unified" mount),
#   so the OCI runtime is runc.
# - The default ulimits podman asks for exceed the hard nofile limit here; raising a limit above
#   the hard limit is refused, so containers.conf pins nofile/nproc no higher than the host allows.
# - debootstrap builds the offline base image (container/build-base.sh); no registry is reachable.
#
# Idempotent: re-running changes nothing once everything is in place.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "setup-podman.sh: run as root" >&2
  exit 2
fi

CONF_DIR=/etc/containers/containers.conf.d
CONF_FILE=$CONF_DIR/verification-runner.conf
WANT_NOFILE=20000
WANT_NPROC=32768

# catatonit: what `podman run --init` starts as PID 1 (the README's Kargo-like line uses --init).
# openssl: container/build-base.sh checks the sha512 of the Node.js and npm packages with it.
packages=(podman runc catatonit debootstrap fuse-overlayfs uidmap slirp4netns openssl)
# npm (host side) fetches the Node.js runtime for the base image from the npm registry.
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup-podman.sh: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Never ask for more than the hard limits this shell runs under.
hard_nofile=$(ulimit -Hn)
hard_nproc=$(ulimit -Hu)
nofile=$WANT_NOFILE
nproc=$WANT_NPROC
[[ $hard_nofile != unlimited && $hard_nofile -lt $nofile ]] && nofile=$hard_nofile
[[ $hard_nproc != unlimited && $hard_nproc -lt $nproc ]] && nproc=$hard_nproc

mkdir -p "$CONF_DIR"
new_conf=$(cat <<CONF
# Written by verification-runner scripts/setup-podman.sh; re-running it rewrites this file.
[containers]
# nofile/nproc: at most the host's hard limits (nofile hard=$hard_nofile, nproc hard=$hard_nproc).
default_ulimits = [
  "nofile=$nofile:$nofile",
  "nproc=$nproc:$nproc",
]

[engine]
# crun fails on this cgroup layout; runc works.
runtime = "runc"
CONF
)
if [[ ! -f $CONF_FILE ]] || [[ $(cat "$CONF_FILE") != "$new_conf" ]]; then
  printf '%s\n' "$new_conf" >"$CONF_FILE"
  echo "setup-podman.sh: wrote $CONF_FILE"
fi

# Storage: prefer the kernel's overlay driver; fall back to vfs when overlay cannot mount here.
# (storage.conf is only written when the default does not work, so a working default is left alone.)
STORAGE_CONF=/etc/containers/storage.conf
if ! podman info --format '{{.Store.GraphDriverName}}' >/dev/null 2>&1; then
  echo "setup-podman.sh: podman info fails with the default storage; switching to vfs" >&2
  cat >"$STORAGE_CONF" <<'CONF'
# Written by verification-runner scripts/setup-podman.sh: overlay did not work on this machine.
[storage]
driver = "vfs"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
CONF
  podman system reset --force >/dev/null 2>&1 || true
fi

echo "$(podman info --format 'podman {{.Version.Version}}: runtime={{.Host.OCIRuntime.Name}} storage={{.Store.GraphDriverName}} cgroups={{.Host.CgroupsVersion}}')"
