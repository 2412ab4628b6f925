"""A repository in the shape `npx @backstage/create-app` makes (docs/platform-facts.md), small:
yarn 4 workspaces (`packages/*`, `plugins/*`, `.yarnrc.yml` with `nodeLinker: node-modules`,
`backstage.json`), `packages/app/e2e-tests`, a plugin with `e2e-tests`, a workspace helper
package (`@internal/e2e-utils`) that a spec imports through a `workspace:^` range, and a root
`playwright.config.ts` whose projects a function makes the way `generateProjects()` does (one
per workspace package with an `e2e-tests` folder). `pnpm=True` gives the same as a pnpm
workspace (pnpm-workspace.yaml, pnpm-lock.yaml).

The lock file is written by the real package manager against the test registry
(tests/helpers/registry.py), once per module. History: the plugin's spec fails at tag `broken`
and passes at `fixed` (and at `good`, before); branch `stale-lock` adds a dependency to the
app without updating the lock file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from tests.helpers.git_repos import Commit
from tests.helpers.registry import PNPM, YARN_BERRY

HELPER = "packages/e2e-utils"
GLOB = "plugins/*/e2e-tests,plugins/*/tests/acceptance"  # the README's own value

GENERATE_PROJECTS = r"""const fs = require('node:fs');
const path = require('node:path');
const isNumber = require('is-number');

/** Like @backstage/e2e-test-utils' generateProjects(): a project per workspace package with
 * an e2e-tests folder, named after its package.json, from the root the config runs in. */
function generateProjects() {
  const root = process.cwd();
  const globs = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).workspaces
    || ['packages/*', 'plugins/*'];
  const projects = [];
  for (const glob of globs) {
    const parent = path.join(root, glob.replace(/\/\*$/, ''));
    if (!fs.existsSync(parent)) continue;
    for (const name of fs.readdirSync(parent).sort()) {
      const dir = path.join(parent, name);
      if (!fs.existsSync(path.join(dir, 'e2e-tests'))) continue;
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
      projects.push({ name: pkg.name, testDir: path.join(dir, 'e2e-tests'), use: { channel: 'chrome' } });
    }
  }
  return projects;
}

function expectedTitle() {
  return isNumber(55) ? 'My Company Catalog' : 'unknown';
}

module.exports = { generateProjects, expectedTitle };
"""

CONFIG = """import { defineConfig } from '@playwright/test';
import { generateProjects } from '@internal/e2e-utils';

export default defineConfig({
  timeout: 60_000,
  expect: { timeout: 30_000 },
  retries: process.env.CI ? 2 : 0,
  reporter: [['html', { open: 'never', outputFolder: 'e2e-test-report' }]],
  use: {
    actionTimeout: 0,
    baseURL: process.env.PLAYWRIGHT_URL ?? 'http://localhost:3000',
    screenshot: 'only-on-failure',
    trace: 'on-first-retry',
  },
  outputDir: 'node_modules/.cache/e2e-test-results',
  projects: generateProjects(),
});
"""

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


def workspace_files(*, pnpm: bool, marker: Path) -> dict[str, bytes]:
    """The repository's files at its first commit, lock file aside. `marker`: the file an
    install script would create if one ever ran."""
    globs = ["packages/*", "plugins/*"]
    root: dict[str, object] = {
        "name": "root",
        "version": "1.0.0",
        "private": True,
        "packageManager": "pnpm@10.34.8" if pnpm else "yarn@4.18.1",
        "scripts": {"postinstall": f"node -e \"require('fs').writeFileSync('{marker}', 'root')\""},
        # The config's generateProjects(), as Backstage's root has @backstage/e2e-test-utils
        # (pnpm links only what a package declares).
        "devDependencies": {"@internal/e2e-utils": "workspace:^"},
    }
    if not pnpm:
        root["workspaces"] = globs
    script = f"node -e \"require('fs').writeFileSync('{marker}', 'app')\""
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
                "devDependencies": {"@internal/e2e-utils": "workspace:^"},
            }
        ),
        "packages/app/e2e-tests/app.test.ts": APP_SPEC.encode(),
        "packages/app/src/App.tsx": b"export const App = () => null;\n",
        "packages/backend/package.json": _json(
            {"name": "backend", "version": "0.0.0", "private": True}
        ),
        "packages/backend/src/index.ts": b"export {};\n",
        f"{HELPER}/package.json": _json(
            {
                "name": "@internal/e2e-utils",
                "version": "0.1.0",
                "main": "index.js",
                "dependencies": {"is-number": "^7.0.0"},
            }
        ),
        f"{HELPER}/index.js": GENERATE_PROJECTS.encode(),
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
    if pnpm:
        files["pnpm-workspace.yaml"] = b"packages:\n  - 'packages/*'\n  - 'plugins/*'\n"
    else:
        files[".yarnrc.yml"] = b"nodeLinker: node-modules\n"
    return files


def lock_file(
    files: dict[str, bytes], *, pnpm: bool, registry: str, work: Path
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
    if pnpm:
        command = ["node", str(PNPM), "install", "--lockfile-only", "--ignore-scripts"]
        command.append(f"--store-dir={home / 'pnpm-store'}")
        name = "pnpm-lock.yaml"
    else:
        command = ["node", str(YARN_BERRY), "install", "--mode=update-lockfile"]
        name = "yarn.lock"
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{command}: {done.stdout[-3000:]}{done.stderr[-3000:]}")
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
    """The app gains a dependency; the lock file is not updated."""
    app = json.loads(files["packages/app/package.json"])
    app["dependencies"]["is-number"] = "^7.0.0"
    return Commit(
        "Add a dependency, forget the lock file", {"packages/app/package.json": _json(app)}
    )
