#!/usr/bin/env bash
# The lowest allowed versions: a separate .venv-lowest with every direct runtime dependency
# pinned to the floor pyproject.toml declares (scripts/floors.py), so that `make test-lowest`
# runs the fast tier against them. A floor below what the code uses fails there, not in
# someone's image. Idempotent: rebuilt only when pyproject.toml changes.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
venv=.venv-lowest
digest=$(sha256sum pyproject.toml scripts/floors.py | sha256sum | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.setup-stamp" 2>/dev/null)" = "$digest" ]; then
  exit 0
fi
echo "setup-lowest: creating $venv with every runtime dependency at its floor"
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$python" scripts/floors.py pyproject.toml > "$venv/floors.txt"
# -c pins the runtime dependencies exactly; the test tools resolve as usual around them.
"$venv/bin/pip" install --quiet -c "$venv/floors.txt" -e '.[test]'
echo "$digest" > "$venv/.setup-stamp"
