#!/usr/bin/env bash
# `npm run test:docker [-- PLAYWRIGHT ARGS]`: build the image if needed, then run the local test
# workspace in it the way a Kargo verification Job runs it: --init, --ipc=host, read-only root,
# /tmp tmpfs, the Job's environment (kustomize/base/analysistemplate.yaml; tests/test_container.py
# keeps the names in sync). Arguments go to `playwright test` unchanged:
#
#   npm run test:docker -- --grep "should have Events link"
#   BASE_URL=https://backstage.example npm run test:docker
#   TESTS_REPO=https://github.com/example/backstage.git TESTS_REVISION=3f2b1c4 npm run test:docker
#
# With TESTS_REPO the tests are fetched at TESTS_REVISION as the Job fetches them (no workspace is
# mounted); GIT_CREDENTIALS_DIR, when set, is a host directory with `username` and `password` (or
# `sshPrivateKey`) mounted read-only where the Job mounts its Secret.
#
#   npm run test:docker -- --env-file .env.e2e -e E2E_PASSWORD --grep @smoke
#
# Leading `--env-file FILE` and `-e NAME` (or `-e NAME=VALUE`) options pass variables the tests
# need (test credentials, CENTRAL_TESTS_DIR ...) into the container, as `docker run` does; `-e NAME`
# takes the value from this shell, so a secret never appears on a command line. The variables
# this script sets for the Job (below) cannot be overridden that way: set BASE_URL, KARGO_STAGE,
# ... in this shell instead. Everything after these options goes to `playwright test`.
#
# The evidence lands on the host in ./.verification-artifacts, readable by whoever ran this: a
# non-root user runs the container as themselves (rootless podman: --userns=keep-id), so the files
# are theirs; root runs it as the Job's uid 10001 (the runner writes files 0644, directories 0755).
# Exits with the runner's exit code.
#
# Env: IMAGE (default localhost/verification-runner:dev); CONTAINER_ENGINE (default: docker when
#      its daemon answers, else podman); BASE_IMAGE (default: with podman the offline base
#      localhost/verification-runner-base:bookworm, with docker the official Playwright image);
#      TESTS_WORKSPACE (default examples/workspace); BASE_URL (unset: the workspace's own site,
#      LOCAL_SITE_DIR, default verification-site;
#      a localhost URL makes the container share the host's network); VR_ARTIFACTS (default
#      ./.verification-artifacts); VR_SKIP_BUILD=1 uses IMAGE as it is.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { printf '[test-docker] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 2; }

# The Job's environment, which --env-file and -e may not replace.
RESERVED=" KUBERNETES_SERVICE_HOST POD_NAME POD_NAMESPACE NODE_NAME JOB_NAME ANALYSIS_RUN_UID KARGO_STAGE KARGO_PROJECT BASE_URL FREIGHT_IMAGE FREIGHT_COMMIT TESTS_REPO TESTS_REVISION GIT_CREDENTIALS_DIR PACKAGE_CACHE_DIR PACKAGE_REGISTRY_CREDENTIALS_DIR ARTIFACT_ROOT TESTS_CLEANUP RUN_DEADLINE_SECONDS HOME TESTS_WORKSPACE "
reserved() {
  [[ $RESERVED == *" $1 "* ]] || return 0
  die "$1 is set by test-docker.sh for the Job ($2): set it in this shell instead (e.g. $1=... npm run test:docker)"
}
extra_env=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --env-file | --env-file=*)
      if [[ $1 == --env-file ]]; then [[ $# -ge 2 ]] || die "--env-file needs a file"; file=$2; shift 2
      else file=${1#--env-file=}; shift; fi
      [[ -f $file && -r $file ]] || die "--env-file $file: no such readable file"
      while IFS= read -r line || [[ -n $line ]]; do
        [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)= ]] && reserved "${BASH_REMATCH[2]}" "in $file"
      done <"$file"
      extra_env+=(--env-file "$(realpath "$file")") ;;
    -e | --env)
      [[ $# -ge 2 ]] || die "$1 needs NAME or NAME=VALUE"
      name=${2%%=*}
      [[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "$1 $2: not a variable name"
      reserved "$name" "-e $name"
      # `-e NAME` copies this shell's value; an unset one would vanish without a word.
      [[ $2 == *=* || -n ${!name+x} ]] || die "-e $name: $name is not set in this shell (export it, or write -e $name=VALUE)"
      extra_env+=(-e "$2"); shift 2 ;;
    *) break ;;
  esac
done

# Paths the caller gave are relative to where they ran us; `npm run` runs in the repo root.
workspace=$(realpath -m "${TESTS_WORKSPACE:-$ROOT/examples/workspace}")
artifacts=$(realpath -m "${VR_ARTIFACTS:-$ROOT/.verification-artifacts}")
tests_repo=${TESTS_REPO:-}
credentials_in_pod=/var/run/secrets/verification-runner/git
if [[ -n $tests_repo && -n ${TESTS_WORKSPACE:-} ]]; then
  die "TESTS_REPO and TESTS_WORKSPACE are both set: the tests come from one of them"
fi
[[ -n $tests_repo || -d $workspace ]] || die "no test workspace at $workspace (set TESTS_WORKSPACE)"
IMAGE=${IMAGE:-localhost/verification-runner:dev}

engine=${CONTAINER_ENGINE:-}
if [[ -z $engine ]]; then
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then engine=docker
  elif command -v podman >/dev/null; then engine=podman
  else die "neither a running docker engine nor podman: install one (scripts/setup-podman.sh as root)"; fi
fi
# podman-docker's `docker` is podman underneath: its user-namespace rules apply.
is_podman=false
if [[ $engine == podman ]] || "$engine" --version 2>/dev/null | grep -qi podman; then is_podman=true; fi
if $is_podman; then
  export BASE_IMAGE=${BASE_IMAGE:-localhost/verification-runner-base:bookworm}
fi
if [[ ${VR_SKIP_BUILD:-0} != 1 ]]; then
  # Layer-cached: seconds when nothing changed (container/README.md, timings).
  IMAGE=$IMAGE CONTAINER_ENGINE=$engine "$ROOT/container/build.sh"
fi

mkdir -p "$artifacts"
# The default location sits in the checkout: keep it out of git, as the runner does for its own.
if [[ -z ${VR_ARTIFACTS:-} && ! -e $artifacts/.gitignore ]]; then
  printf '# Written by verification-runner: run evidence is not source.\n*\n' >"$artifacts/.gitignore"
fi
user=()
if [[ $(id -u) -eq 0 ]]; then
  # The Job's uid. It must be able to write the top directory and the _jobs index directories
  # (an earlier local run as root may have made them); only directories change owner.
  user=(--user 10001:10001)
  find "$artifacts" -maxdepth 0 ! -uid 10001 -exec chown 10001:10001 {} +
  [[ ! -d $artifacts/_jobs ]] || find "$artifacts/_jobs" -type d ! -uid 10001 -exec chown 10001:10001 {} +
else
  user=(--user "$(id -u):$(id -g)")
  # Rootless podman maps uids into a user namespace; keep-id maps ours to itself.
  if $is_podman; then user+=(--userns=keep-id); fi
fi

# A fresh identity per invocation, shaped as Argo Rollouts shapes it (<AnalysisRun UID>.<metric>.<n>),
# so every run gets its own run directory instead of becoming a retry of the last one.
run_uid=$(cat /proc/sys/kernel/random/uuid 2>/dev/null || python3 -c 'import uuid; print(uuid.uuid4())')
job=$run_uid.acceptance.1
# No BASE_URL: the workspace serves its own site, which a Kargo run (KUBERNETES_SERVICE_HOST,
# below) does only when LOCAL_SITE_DIR says so; otherwise an empty BASE_URL is exit 2.
local_site=()
[[ -n ${BASE_URL:-} ]] || local_site=(-e "LOCAL_SITE_DIR=${LOCAL_SITE_DIR:-verification-site}")
network=()
local_url='^https?://(localhost|127\.[0-9.]+|\[::1\])([:/]|$)'
if [[ ${BASE_URL:-} =~ $local_url || $tests_repo =~ $local_url ]]; then
  network=(--network=host) # the target or the Git server runs on this host: share its network
fi
sources=()
commit=
if [[ -n $tests_repo ]]; then
  if [[ -n ${GIT_CREDENTIALS_DIR:-} ]]; then
    [[ -d $GIT_CREDENTIALS_DIR ]] || die "GIT_CREDENTIALS_DIR=$GIT_CREDENTIALS_DIR is not a directory"
    sources=(-v "$(realpath "$GIT_CREDENTIALS_DIR"):$credentials_in_pod:ro")
  fi
else
  sources=(-v "$workspace:/workspace:ro")
  commit=$(git -C "$workspace" rev-parse HEAD 2>/dev/null || true)
fi

set +e
"$engine" run --rm --init --ipc=host --read-only --tmpfs /tmp "${user[@]}" "${network[@]}" \
  -v "$artifacts:/artifacts" "${sources[@]}" \
  -e KUBERNETES_SERVICE_HOST=10.0.0.1 \
  -e POD_NAME="$job-local" \
  -e POD_NAMESPACE="${POD_NAMESPACE:-local}" \
  -e NODE_NAME="$(hostname)" \
  -e JOB_NAME="$job" \
  -e ANALYSIS_RUN_UID="$run_uid" \
  -e KARGO_STAGE="${KARGO_STAGE:-local}" \
  -e KARGO_PROJECT="${KARGO_PROJECT:-local}" \
  -e BASE_URL="${BASE_URL:-}" \
  -e FREIGHT_IMAGE="${FREIGHT_IMAGE:-}" \
  -e FREIGHT_COMMIT="${FREIGHT_COMMIT:-$commit}" \
  -e TESTS_REPO="$tests_repo" \
  -e TESTS_REVISION="${TESTS_REVISION:-}" \
  -e PROVE_WORKLOAD="${PROVE_WORKLOAD:-}" \
  -e PROVE_NAMESPACE="${PROVE_NAMESPACE:-}" \
  -e PROVE_IMAGE="${PROVE_IMAGE:-}" \
  -e PROVE_IMAGE_DIGEST="${PROVE_IMAGE_DIGEST:-}" \
  -e GIT_CREDENTIALS_DIR="$credentials_in_pod" \
  -e PACKAGE_CACHE_DIR=/tmp/vr-package-cache \
  -e PACKAGE_REGISTRY_CREDENTIALS_DIR=/var/run/secrets/verification-runner/registry \
  -e ARTIFACT_ROOT=/artifacts \
  -e TESTS_CLEANUP=leave \
  -e RUN_DEADLINE_SECONDS="${RUN_DEADLINE_SECONDS:-2100}" \
  -e HOME=/tmp \
  "${local_site[@]}" "${extra_env[@]}" \
  "$IMAGE" run "$@"
code=$?
set -e

run_dir=$artifacts/$(tr -d - <<<"$run_uid" | cut -c1-12)
attempt=$(ls -d "$run_dir"/attempt-* 2>/dev/null | sort -V | tail -n1 || true)
log "exit $code; evidence in ${attempt:-$artifacts}"
if [[ -n $attempt && -f $attempt/html-report/index.html ]]; then
  log "report: npx playwright show-report ${attempt#"$PWD"/}/html-report"
fi
exit "$code"
