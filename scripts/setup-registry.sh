#!/usr/bin/env bash
# The package registry the install tests and bench/install.py use: verdaccio on 127.0.0.1 with
# NO uplink while the tests run, its storage filled here, once, from the npm registry (the only
# time anything is fetched from it). Idempotent: skipped when the storage holds every package.
#
#   VR_REGISTRY_DIR (default /opt/vr-registry): verdaccio in node_modules/, the packages in storage/
#
# verdaccio 6.8.0 runs on Node 20 (6.10 wants Node 22). PACKAGES are what the
# Backstage-shaped fixtures (tests/helpers/backstage_repo.py) depend on: small, real, with a
# dependency of their own, so hoisting and the lock files are real; and the
# @backstage/e2e-test-utils whose generateProjects() a create-app app's playwright.config.ts
# calls (with its dependencies, @manypkg/get-packages and fs-extra; not its optional peer
# @playwright/test: the runner brings its own). BENCH_PACKAGES (exact
# versions: bench/install.py reads this line) give bench/install.py's larger fixture 163
# packages in its lock file: common small libraries with dependency trees, about 12 MB here.
set -euo pipefail

dir="${VR_REGISTRY_DIR:-/opt/vr-registry}"
VERDACCIO=verdaccio@6.8.0
PACKAGES=(is-number@7.0.0 is-number@6.0.0 is-odd@3.0.1 kind-of@6.0.3 @backstage/e2e-test-utils@0.1.2)
BENCH_PACKAGES=(yargs@17.7.2 chalk@4.1.2 debug@4.3.7 glob@7.2.3 fs-extra@11.2.0 cross-spawn@7.0.6 semver@7.6.3 commander@12.1.0 uuid@10.0.0 dotenv@16.4.5 micromatch@4.0.8 fast-glob@3.3.2 node-fetch@2.7.0 js-yaml@4.1.0 ora@5.4.1 express@4.21.1)
stamp="$dir/storage/.vr-packages"
want="$VERDACCIO ${PACKAGES[*]} ${BENCH_PACKAGES[*]}"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$dir/node_modules/verdaccio/bin/verdaccio" ]; then
  echo "setup-registry: verdaccio and its storage already in $dir"
  exit 0
fi
mkdir -p "$dir/storage"
if [ ! -f "$dir/node_modules/verdaccio/bin/verdaccio" ]; then
  echo "setup-registry: installing $VERDACCIO into $dir"
  npm install --silent --no-audit --no-fund --ignore-scripts --no-save --no-package-lock --prefix "$dir" "$VERDACCIO"
fi

work="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cat >"$work/config.yaml" <<YAML
storage: $dir/storage
uplinks:
  npmjs:
    url: https://registry.npmjs.org/
packages:
  '**':
    access: \$all
    publish: \$all
    proxy: npmjs
log: { type: stdout, format: pretty, level: warn }
YAML
node "$dir/node_modules/verdaccio/bin/verdaccio" --config "$work/config.yaml" --listen "127.0.0.1:$port" >"$work/verdaccio.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/-/ping" >/dev/null 2>&1 && break
  sleep 0.2
done
echo "setup-registry: caching ${PACKAGES[*]} ${BENCH_PACKAGES[*]} through verdaccio on 127.0.0.1:$port"
for package in "${PACKAGES[@]}" "${BENCH_PACKAGES[@]}"; do
  mkdir -p "$work/p"
  npm install --silent --no-audit --no-fund --ignore-scripts --no-save --no-package-lock \
    --cache "$work/cache" --registry "http://127.0.0.1:$port/" --prefix "$work/p" "$package"
  rm -rf "$work/p"
done
printf '%s\n' "$want" >"$stamp"
echo "setup-registry: storage ready in $dir/storage"
