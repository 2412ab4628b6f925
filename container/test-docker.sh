#!/usr/bin/env bash
# `npm run test:docker`: build the image and run the example workspace in it the way a Kargo
# Job runs it (non-root, read-only root, /tmp tmpfs, artifacts volume). Exits with the runner's
# exit code; the evidence stays in $VR_ARTIFACTS (default: a new temporary directory).
#
# Env: IMAGE (default localhost/verification-runner:dev), BASE_IMAGE (default: the offline base
#      localhost/verification-runner-base:bookworm with podman, the official image with docker),
#      BASE_URL (a real target; unset = the workspace's static site), VR_ARTIFACTS.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IMAGE=${IMAGE:-localhost/verification-runner:dev}
engine=${CONTAINER_ENGINE:-$(command -v podman >/dev/null && echo podman || echo docker)}
if [[ $engine == podman ]]; then
  export BASE_IMAGE=${BASE_IMAGE:-localhost/verification-runner-base:bookworm}
fi
IMAGE=$IMAGE CONTAINER_ENGINE=$engine "$ROOT/container/build.sh"

artifacts=${VR_ARTIFACTS:-$(mktemp -d /tmp/vr-artifacts.XXXXXX)}
mkdir -p "$artifacts"
chmod 0777 "$artifacts" # the container writes as uid 10001

target=()
[[ -n ${BASE_URL:-} ]] && target=(-e "BASE_URL=$BASE_URL")
set +e
"$engine" run --rm --init --ipc=host --read-only --tmpfs /tmp --user 10001:10001 \
  -v "$artifacts:/artifacts" -v "$ROOT/examples/workspace:/workspace:ro" \
  -e KUBERNETES_SERVICE_HOST=10.0.0.1 -e POD_NAMESPACE=local -e JOB_NAME=test-docker.playwright.1 \
  "${target[@]}" "$IMAGE" run
code=$?
set -e
echo "test-docker: exit $code; evidence in $artifacts" >&2
exit "$code"
