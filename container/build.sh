#!/usr/bin/env bash
# Build the verification-runner image from the repository root.
#
#   container/build.sh                 # official Playwright base (needs a registry that serves it)
#   BASE_IMAGE=localhost/verification-runner-base:bookworm container/build.sh   # offline base
#
# Env:
#   IMAGE             tag to build                     (default localhost/verification-runner:dev)
#   BASE_IMAGE        base image (default mcr.microsoft.com/playwright:v<PLAYWRIGHT_VERSION>-noble)
#   CONTAINER_ENGINE  podman | docker                  (default: podman, else a docker whose daemon answers)
#   HOST_CA_BUNDLE    CA bundle the build's npm/pip trust, passed as build secret "build_ca" and
#                     never stored in the image (default /etc/ssl/certs/ca-certificates.crt when it
#                     exists: it carries any TLS-intercepting proxy's CA this host trusts; "" = none)
#   SOURCE_URL        org.opencontainers.image.source  (default: git remote "origin", if any)
#   org.opencontainers.image.created is the time of the commit built (the build time outside git).
#
# The source, revision, version and created keys are set twice: as labels (Dockerfile LABEL, what
# `podman inspect .Labels` shows) and as OCI annotations, which is what Kargo reads into Freight
# (never labels): the manifest's, and for an image index (multi-arch, or buildx's provenance
# attestation) the index's only (docs/platform-facts.md, "Kargo verification"). podman builds one
# OCI manifest here, so --annotation KEY=VALUE puts them on it; docker (buildx) gets
# --annotation "index,manifest:KEY=VALUE", both levels, whatever its output turns out to be.
#   Extra arguments are passed to `<engine> build` as they are (e.g. --no-cache).
#
# The Playwright version comes from package.json only: the exact @playwright/test version there
# becomes --build-arg PLAYWRIGHT_VERSION (and the default base image's tag). A range (^1.65.1) is
# refused, since the official image's browsers match exactly one Playwright version.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
log() { printf '[build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

PLAYWRIGHT_VERSION=$(python3 - <<'PY'
import json, re, sys
pkg = json.load(open("package.json"))
deps = {**pkg.get("dependencies", {}), **pkg.get("devDependencies", {})}
version = deps.get("@playwright/test")
if not version or not re.fullmatch(r"\d+\.\d+\.\d+", version):
    sys.exit(f"package.json must pin @playwright/test to an exact version, found {version!r}")
lock = json.load(open("package-lock.json"))
locked = lock["packages"].get("node_modules/@playwright/test", {}).get("version")
if locked != version:
    sys.exit(f"package-lock.json has @playwright/test {locked!r}, package.json {version!r}: run npm install")
print(version)
PY
)
VERSION=$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])')
REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [[ $REVISION != unknown ]] && [[ -n $(git status --porcelain -- runner pyproject.toml README.md package.json package-lock.json playwright.config.ts container 2>/dev/null) ]]; then
  REVISION="$REVISION-dirty"
fi
SOURCE_URL=${SOURCE_URL:-$(git remote get-url origin 2>/dev/null || echo unknown)}
# The commit's time, not the clock's: a rebuild of an unchanged tree then hits the cache in every
# layer, the label one included, and yields the same image (no new ID, no dangling old one).
CREATED=$(TZ=UTC0 git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null \
  || date -u +%Y-%m-%dT%H:%M:%SZ)
IMAGE=${IMAGE:-localhost/verification-runner:dev}
BASE_IMAGE=${BASE_IMAGE:-mcr.microsoft.com/playwright:v${PLAYWRIGHT_VERSION}-noble}

engine=${CONTAINER_ENGINE:-}
if [[ -z $engine ]]; then
  if command -v podman >/dev/null; then engine=podman
  elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then engine=docker
  else die "neither podman nor a running docker engine: run scripts/setup-podman.sh"; fi
fi

# The offline base is made here, not pulled: build (or confirm) it first.
pull=()
if [[ $BASE_IMAGE == localhost/verification-runner-base:* ]]; then
  [[ $engine == podman ]] || die "the offline base $BASE_IMAGE is built with podman"
  BASE_IMAGE_NAME=$BASE_IMAGE "$ROOT/container/build-base.sh"
  pull=(--pull=never)
fi

secret=()
HOST_CA_BUNDLE=${HOST_CA_BUNDLE-/etc/ssl/certs/ca-certificates.crt}
if [[ -n $HOST_CA_BUNDLE && -s $HOST_CA_BUNDLE ]]; then
  secret=(--secret "id=build_ca,src=$HOST_CA_BUNDLE")
fi

annotations=()
for pair in "org.opencontainers.image.source=$SOURCE_URL" \
  "org.opencontainers.image.revision=$REVISION" \
  "org.opencontainers.image.version=$VERSION" \
  "org.opencontainers.image.created=$CREATED"; do
  if [[ $engine == docker ]]; then
    annotations+=(--annotation "index,manifest:$pair")
  else
    annotations+=(--annotation "$pair")
  fi
done

log "$engine build $IMAGE: playwright $PLAYWRIGHT_VERSION, runner $VERSION, base $BASE_IMAGE"
start=$(date +%s)
"$engine" build "${pull[@]}" "${secret[@]}" \
  -f container/Dockerfile \
  --build-arg "PLAYWRIGHT_VERSION=$PLAYWRIGHT_VERSION" \
  --build-arg "BASE_IMAGE=$BASE_IMAGE" \
  --build-arg "VERSION=$VERSION" \
  --build-arg "REVISION=$REVISION" \
  --build-arg "SOURCE=$SOURCE_URL" \
  --build-arg "CREATED=$CREATED" \
  "${annotations[@]}" \
  -t "$IMAGE" "$@" .
log "built $IMAGE in $(($(date +%s) - start))s"
