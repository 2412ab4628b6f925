#!/usr/bin/env bash
# Installs the package managers a fetched test workspace may need (runner/fetching/managers.py)
# into PACKAGE_MANAGERS_DIR (default /opt/vr-package-managers), one folder per tool and version:
#   <dir>/yarn-4.18.1/node_modules/@yarnpkg/cli-dist/bin/yarn.js   (yarn berry)
#   <dir>/yarn-1.22.22/node_modules/yarn/bin/yarn.js               (yarn classic)
#   <dir>/pnpm-10.34.8/node_modules/pnpm/bin/pnpm.cjs              (pnpm)
# From the npm registry as ordinary packages: corepack cannot fetch yarn or pnpm where only the
# npm registry is reachable, and its signature check stays on (docs/platform-facts.md).
#
#   scripts/setup-package-managers.sh                       the default versions below
#   scripts/setup-package-managers.sh @yarnpkg/cli-dist@4.5.3 pnpm@9.15.9   others, e.g. the
#                                                           version a repository's packageManager names
# Idempotent: a version already there is skipped. No install script of the tools runs.
set -euo pipefail

dir="${PACKAGE_MANAGERS_DIR:-/opt/vr-package-managers}"
DEFAULTS=(@yarnpkg/cli-dist@4.18.1 yarn@1.22.22 pnpm@10.34.8)
specs=("$@")
[ ${#specs[@]} -gt 0 ] || specs=("${DEFAULTS[@]}")

mkdir -p "$dir"
for spec in "${specs[@]}"; do
  package="${spec%@*}"
  version="${spec##*@}"
  case "$package" in
    @yarnpkg/cli-dist) tool=yarn entry=@yarnpkg/cli-dist/bin/yarn.js ;;
    yarn) tool=yarn entry=yarn/bin/yarn.js ;;
    pnpm) tool=pnpm entry=pnpm/bin/pnpm.cjs ;;
    *) echo "setup-package-managers: $spec: expected @yarnpkg/cli-dist@X, yarn@1.X or pnpm@X" >&2; exit 2 ;;
  esac
  [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "setup-package-managers: $spec: expected an exact version x.y.z" >&2; exit 2; }
  target="$dir/$tool-$version"
  if [ -f "$target/node_modules/$entry" ]; then
    echo "setup-package-managers: $tool $version already in $target"
    continue
  fi
  echo "setup-package-managers: installing $spec into $target"
  rm -rf "$target.partial"
  mkdir -p "$target.partial"
  npm install --silent --no-audit --no-fund --ignore-scripts --no-save --no-package-lock \
    --prefix "$target.partial" "$spec"
  [ -f "$target.partial/node_modules/$entry" ] || { echo "setup-package-managers: $spec has no $entry" >&2; exit 1; }
  rm -rf "$target"
  mv "$target.partial" "$target"
done
