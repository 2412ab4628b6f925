"""A repository in the shape `npx @backstage/create-app` makes (docs/platform-facts.md), small:
yarn 4 workspaces (`packages/*`, `plugins/*`; create-app 0.9.2's `.yarnrc.yml` as it is, with
`yarnPath` pointing at the release the repository carries, `backstage.json`, `engines.node`
"22 || 24"), `packages/app/e2e-tests`, a plugin with `e2e-tests`, a workspace helper package
(`@internal/e2e-utils`, page objects as it were) that a spec imports through a `workspace:^`
range, and create-app's own root `playwright.config.ts`, byte for byte: its `webServer` (`yarn
start app`, `yarn start backend`: scripts of the repository, never to be started), `forbidOnly`,
`retries`, `reporter`, `outputDir`, and projects from the real `generateProjects()` of
`@backstage/e2e-test-utils` (0.1.2, from the test registry: one project per workspace package
with an `e2e-tests` folder, `channel: 'chrome'`). `manager="pnpm"` gives the same as a pnpm
workspace (pnpm-workspace.yaml, pnpm-lock.yaml); `manager="yarn-classic"` as the yarn 1
monorepo older create-app versions made: `"workspaces": {"packages": [...]}`, plain version
ranges between workspace packages (yarn 1 has no `workspace:` protocol), the backend's
`"app": "link:../app"`, no `packageManager`, no `.yarnrc.yml`, and a `.yarnrc` naming the
team's registry, the one its `yarn.lock` was written against.

The lock file is written by the real package manager against a registry on 127.0.0.1
(tests/helpers/registry.py), once per module. History: the plugin's spec fails at tag `broken`
and passes at `fixed` (and at `good`, before); `stale_lock_commit` adds a dependency to the
app without updating the lock file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from tests.helpers.git_repos import Commit
from tests.helpers.registry import PNPM, YARN_BERRY, YARN_CLASSIC

HELPER = "packages/e2e-utils"
GLOB = "plugins/*/e2e-tests,plugins/*/tests/acceptance"  # the README's own value
# Repository name -> what the runner calls its package manager, and its lock file.
FLAVOUR = {"yarn": "yarn berry", "pnpm": "pnpm", "yarn-classic": "yarn classic"}
LOCK = {"yarn": "yarn.lock", "pnpm": "pnpm-lock.yaml", "yarn-classic": "yarn.lock"}
YARN_PATH = ".yarn/releases/yarn-1.22.19.cjs"  # the yarn-path release yarn_path_commit pins

E2E_UTILS = r"""const isNumber = require('is-number');

/** A helper the app's spec imports from a workspace package, as page objects are. */
function expectedTitle() {
  return isNumber(55) ? 'My Company Catalog' : 'unknown';
}

module.exports = { expectedTitle };
"""

# @backstage/create-app 0.9.2, templates/default-app/playwright.config.ts, as it is.
CONFIG = """/*
 * Copyright 2023 The Backstage Authors
 *
 * Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */

import { defineConfig } from '@playwright/test';
import { generateProjects } from '@backstage/e2e-test-utils/playwright';

/**
 * See https://playwright.dev/docs/test-configuration.
 */
export default defineConfig({
  timeout: 60_000,

  expect: {
    timeout: 30_000,
  },

  // Run your local dev server before starting the tests
  webServer: process.env.CI
    ? []
    : [
        {
          command: 'yarn start app',
          url: 'http://localhost:3000',
          reuseExistingServer: true,
          timeout: 120_000,
        },
        {
          command: 'yarn start backend',
          port: 7007,
          reuseExistingServer: true,
          timeout: 60_000,
        },
      ],

  forbidOnly: !!process.env.CI,

  retries: process.env.CI ? 2 : 0,

  reporter: [['html', { open: 'never', outputFolder: 'e2e-test-report' }]],

  use: {
    actionTimeout: 0,
    baseURL:
      process.env.PLAYWRIGHT_URL ??
      (process.env.CI ? 'http://localhost:7007' : 'http://localhost:3000'),
    screenshot: 'only-on-failure',
    trace: 'on-first-retry',
  },

  outputDir: 'node_modules/.cache/e2e-test-results',

  projects: generateProjects(), // Find all packages with e2e-test folders
});
"""

# create-app 0.9.2's .yarnrc.yml, its yarnPath release being the tests' yarn 4 (YARN_RELEASE).
YARNRC = """nodeLinker: node-modules
npmMinimalAgeGate: 3d
npmPreapprovedPackages:
  - '@backstage/*'

yarnPath: .yarn/releases/yarn-4.18.1.cjs
"""
YARN_RELEASE = ".yarn/releases/yarn-4.18.1.cjs"

APP_SPEC = """import { test, expect } from '@playwright/test';
import { expectedTitle } from '@internal/e2e-utils';
import isOdd from 'is-odd';

test('App should render the welcome page', async () => {
  expect(expectedTitle()).toBe('My Company Catalog');
  expect(isOdd(3)).toBe(true);
});
"""

PLUGIN_SPEC = """import {{ test, expect }} from '@playwright/test';

test('hello plugin greets', async () => {{
  expect('hello'.length).toBe({expected});
}});
"""


def _json(value: object) -> bytes:
    return (json.dumps(value, indent=2) + "\n").encode()


def workspace_files(
    *, manager: str, marker: Path, team_registry: str | None = None
) -> dict[str, bytes]:
    """The repository's files at its first commit, lock file aside. `marker`: the file an
    install script, or the config's webServer, would create if one ever ran; `team_registry`: the registry yarn 1's
    `.yarnrc` names (yarn-classic only)."""
    classic = manager == "yarn-classic"
    globs = ["packages/*", "plugins/*"]
    # yarn 1 links a workspace package for a plain range its version satisfies.
    internal = "^0.1.0" if classic else "workspace:^"
    root: dict[str, object] = {
        "name": "root",
        "version": "1.0.0",
        "private": True,
        # create-app 0.9.2's; a yarn 1 app of older create-app times says "16 || 18", which
        # no Node the runner has satisfies (yarn 1 alone refuses it: --ignore-engines).
        "engines": {"node": "16 || 18" if classic else "22 || 24"},
        "scripts": {
            # create-app's is `backstage-cli repo start`: what the config's webServer runs
            # (`yarn start app`), which the runner must never start.
            "start": f"node -e \"require('fs').writeFileSync('{marker}', 'webServer')\"",
            "test:e2e": "playwright test",
            "postinstall": f"node -e \"require('fs').writeFileSync('{marker}', 'root')\"",
        },
        # The config's generateProjects(), from the registry as in create-app's root.
        "devDependencies": {"@backstage/e2e-test-utils": "^0.1.2"},
    }
    if not classic:
        root["packageManager"] = {"yarn": "yarn@4.18.1", "pnpm": "pnpm@10.34.8"}[manager]
    if manager == "yarn":
        root["workspaces"] = globs
    elif classic:
        root["workspaces"] = {"packages": globs}
    script = f"node -e \"require('fs').writeFileSync('{marker}', 'app')\""
    backend: dict[str, object] = {"name": "backend", "version": "0.0.0", "private": True}
    if classic:
        backend["dependencies"] = {"app": "link:../app"}
    files = {
        "package.json": _json(root),
        "backstage.json": _json({"version": "1.55.0"}),
        "playwright.config.ts": CONFIG.encode(),
        "packages/app/package.json": _json(
            {
                "name": "app",
                "version": "0.0.0",
                "private": True,
                "scripts": {"postinstall": script},
                "dependencies": {"is-odd": "^3.0.1"},
                "devDependencies": {"@internal/e2e-utils": internal},
            }
        ),
        "packages/app/e2e-tests/app.test.ts": APP_SPEC.encode(),
        "packages/app/src/App.tsx": b"export const App = () => null;\n",
        "packages/backend/package.json": _json(backend),
        "packages/backend/src/index.ts": b"export {};\n",
        f"{HELPER}/package.json": _json(
            {
                "name": "@internal/e2e-utils",
                "version": "0.1.0",
                "main": "index.js",
                "dependencies": {"is-number": "^7.0.0"},
            }
        ),
        f"{HELPER}/index.js": E2E_UTILS.encode(),
        "plugins/hello/package.json": _json(
            {
                "name": "@internal/plugin-hello",
                "version": "0.1.0",
                "dependencies": {"kind-of": "^6.0.3"},
            }
        ),
        "plugins/hello/e2e-tests/hello.test.ts": PLUGIN_SPEC.format(expected=5).encode(),
        "plugins/hello/src/index.ts": b"export const hello = 'hello';\n",
    }
    if manager == "pnpm":
        files["pnpm-workspace.yaml"] = b"packages:\n  - 'packages/*'\n  - 'plugins/*'\n"
    elif manager == "yarn":
        files[".yarnrc.yml"] = YARNRC.encode()
        files[YARN_RELEASE] = YARN_BERRY.read_bytes()
    else:
        if team_registry is None:
            raise ValueError("a yarn 1 repository names its team's registry in .yarnrc")
        files[".yarnrc"] = (
            f'# The team\'s registry: yarn.lock was written against it\nregistry "{team_registry}"\n'
        ).encode()
    return files


def lock_file(
    files: dict[str, bytes], *, manager: str, registry: str, work: Path
) -> tuple[str, bytes]:
    """The lock file the real package manager writes for `files` against `registry`."""
    shutil.rmtree(work, ignore_errors=True)
    for name, content in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_bytes(content)
    home = work.parent / f"{work.name}-home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "YARN_NPM_REGISTRY_SERVER": registry,
        "YARN_UNSAFE_HTTP_WHITELIST": "127.0.0.1",
        "YARN_ENABLE_GLOBAL_CACHE": "false",
        "YARN_CACHE_FOLDER": str(home / "yarn-cache"),
        "YARN_ENABLE_SCRIPTS": "false",
        "YARN_ENABLE_TELEMETRY": "false",
        "npm_config_registry": registry,
        "COREPACK_ENABLE_STRICT": "0",
    }
    if manager == "pnpm":
        command = ["node", str(PNPM), "install", "--lockfile-only", "--ignore-scripts"]
        command.append(f"--store-dir={home / 'pnpm-store'}")
    elif manager == "yarn":
        command = ["node", str(YARN_BERRY), "install", "--mode=update-lockfile"]
    else:  # yarn 1 has no lock-only mode: a plain install writes yarn.lock
        command = ["node", str(YARN_CLASSIC), "install", "--ignore-scripts", "--ignore-engines"]
        command.append("--non-interactive")
        command.append(f"--cache-folder={home / 'yarn-classic-cache'}")
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{command}: {done.stdout[-3000:]}{done.stderr[-3000:]}")
    name = LOCK[manager]
    return name, (work / name).read_bytes()


def history(files: dict[str, bytes], lock: tuple[str, bytes]) -> list[Commit]:
    """good (passes), broken (the plugin's spec fails), fixed (passes again)."""
    first: dict[str, bytes | None] = {**files, lock[0]: lock[1]}
    spec = "plugins/hello/e2e-tests/hello.test.ts"
    return [
        Commit("A Backstage app", first, "good"),
        Commit("Break the plugin", {spec: PLUGIN_SPEC.format(expected=6).encode()}, "broken"),
        Commit("Fix the plugin", {spec: PLUGIN_SPEC.format(expected=5).encode()}, "fixed"),
    ]


def stale_lock_commit(files: dict[str, bytes]) -> Commit:
    """The app gains a dependency on a range nobody has locked (`kind-of@^6.0.0`; the plugin
    locks `^6.0.3`), and the lock file is not updated. A range the lock already has would not
    do for yarn 1: its lock keys entries by `name@range` only, so `yarn install` writes the
    same yarn.lock for it and the install is exact."""
    app = json.loads(files["packages/app/package.json"])
    app["dependencies"]["kind-of"] = "^6.0.0"
    return Commit(
        "Add a dependency, forget the lock file", {"packages/app/package.json": _json(app)}
    )


def yarn_path_commit(files: dict[str, bytes], marker: Path) -> Commit:
    """yarn 1's `.yarnrc` pins a release the repository carries (`yarn-path`), one that only
    writes the marker: yarn 1 would hand the install over to it. `.yarnrc` and `.npmrc` also
    turn install scripts back on, and `.npmrc` names a registry nothing listens on."""
    release = f"require('fs').writeFileSync({str(marker)!r}, 'yarn-path');\n"
    yarnrc = (
        files[".yarnrc"]
        + (
            f'yarn-path "{YARN_PATH}"\nignore-scripts false\n--install.ignore-scripts false\n'
        ).encode()
    )
    npmrc = b"registry=http://127.0.0.1:1/\nignore-scripts=false\n"
    return Commit(
        "Pin yarn with yarn-path, run the install scripts",
        {".yarnrc": yarnrc, ".npmrc": npmrc, YARN_PATH: release.encode()},
    )


def prepare_dependency(marker: Path) -> list[Commit]:
    """A package in its own Git repository whose `prepare` script writes the marker, and whose
    `.yarnrc` / `.npmrc` turn the scripts on; 1.0.0, then 1.0.1 on the same branch."""
    script = f"node -e \"require('fs').writeFileSync('{marker}', 'prepare')\""
    manifest = {"name": "prepare-dep", "version": "1.0.0", "scripts": {"prepare": script}}
    files = {
        "package.json": _json(manifest),
        ".yarnrc": b"ignore-scripts false\n",
        ".npmrc": b"ignore-scripts=false\n",
    }
    bumped = {"package.json": _json({**manifest, "version": "1.0.1"})}
    return [
        Commit("A package built by its prepare script", files),
        Commit("A newer version, on the same branch", bumped),
    ]


def git_dependency_commit(
    files: dict[str, bytes], lock: tuple[str, bytes], spec: str, *, resolved: str | None = None
) -> Commit:
    """The root depends on `prepare-dep` at `spec` (`git+http://...#<commit>`), locked as yarn 1
    locks a Git dependency (at `resolved`, by default `spec`). yarn 1 packs a Git dependency
    that has a `prepare` script by installing it in a scratch clone, with scripts on (1.22.22:
    GitFetcher.fetchFromInstallAndPack)."""
    root = json.loads(files["package.json"])
    root["dependencies"] = {"prepare-dep": spec}
    entry = f'\n"prepare-dep@{spec}":\n  version "1.0.0"\n  resolved "{resolved or spec}"\n'
    return Commit(
        "Depend on a package in Git",
        {"package.json": _json(root), lock[0]: lock[1] + entry.encode()},
    )


def no_lockfile_commit(files: dict[str, bytes]) -> Commit:
    """`.yarnrc` passes yarn 1 `--no-lockfile`: it resolves everything afresh, yarn.lock unread,
    and `--frozen-lockfile` passes."""
    return Commit(
        "Let yarn resolve afresh", {".yarnrc": files[".yarnrc"] + b"--install.no-lockfile true\n"}
    )


def scoped_registry_files(scope_registry: str) -> dict[str, bytes]:
    """A yarn 4 workspace whose `.yarnrc.yml` gives the `@leak` scope a registry of its own,
    with one dependency there, locked by hand (the scope's registry serves nothing)."""
    root = {
        "name": "leaky",
        "version": "1.0.0",
        "private": True,
        "packageManager": "yarn@4.18.1",
        "dependencies": {"@leak/x": "^1.0.0"},
    }
    yarnrc = (
        "nodeLinker: node-modules\n"
        f'npmScopes:\n  leak:\n    npmRegistryServer: "{scope_registry.rstrip("/")}"\n'
    )
    lock = f"""# This file is generated by running "yarn install" inside your project.
# Manual changes might be lost - proceed with caution!

__metadata:
  version: 8
  cacheKey: 10c0

"@leak/x@npm:^1.0.0":
  version: 1.0.0
  resolution: "@leak/x@npm:1.0.0"
  checksum: 10c0/{"0" * 128}
  languageName: node
  linkType: hard

"leaky@workspace:.":
  version: 0.0.0-use.local
  resolution: "leaky@workspace:."
  dependencies:
    "@leak/x": "npm:^1.0.0"
  languageName: unknown
  linkType: soft
"""
    return {
        "package.json": _json(root),
        ".yarnrc.yml": yarnrc.encode(),
        "yarn.lock": lock.encode(),
        "packages/app/e2e-tests/app.test.ts": APP_SPEC.encode(),
    }
