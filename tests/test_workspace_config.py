"""The workspace's own Playwright settings, spec patterns and trees (config/workspace.ts,
config/trees.ts), read back through the real Playwright: `playwright test --list
--reporter=json` loads the runner's config exactly as a run does, without a browser."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from runner.playwright import command
from tests.conftest import REPO, FakePlaywright, runner_command

# Each test starts the real Playwright (a listing: no browser), a few seconds each.
pytestmark = pytest.mark.slow

MONOREPO = REPO / "examples" / "monorepo"
MONOREPO_ENV = {
    "CENTRAL_TESTS_DIR": "packages/app/e2e-tests",
    "PLUGIN_TESTS_GLOB": "plugins/*/e2e-tests,plugins/*/tests/acceptance",
}
SPEC = "import { test } from '@playwright/test';\ntest('t', async () => {});\n"


def _listing(workspace: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAYWRIGHT_", "VR_"))}
    env.pop("TEST_MATCH", None)
    env.pop("WORKSPACE_CONFIG", None)
    env.update({"TESTS_WORKSPACE": str(workspace), "BASE_URL": "http://127.0.0.1:9"}, **extra)
    return subprocess.run(
        command(REPO, ["--list", "--reporter=json"]),  # as a run starts it
        env=env,
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _config(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout)
    config: dict[str, Any] = report["config"]
    return config


def _projects(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    # filteredProjects carries each project's resolved `use`; projects does not.
    return {p["name"]: p for p in config["filteredProjects"]}


def _files(done: subprocess.CompletedProcess[str]) -> list[str]:
    """The spec files a listing found, by name (paths in the report are relative to the root)."""
    return sorted(Path(suite["file"]).name for suite in json.loads(done.stdout)["suites"])


def _workspace(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _tree(root: Path, extra: dict[str, str] | None = None) -> Path:
    return _workspace(root, {"apps/backstage/tests/acceptance/a.spec.ts": SPEC, **(extra or {})})


def test_runner_owned_keys_are_overridden_in_one_warning_naming_each(tmp_path: Path) -> None:
    workspace = _tree(
        tmp_path,
        {
            "verification.config.ts": """
            import { defineConfig } from '@playwright/test';
            export default defineConfig({
              retries: 5, forbidOnly: false, reporter: 'dot', outputDir: 'mine',
              webServer: { command: 'true', url: 'http://127.0.0.1:1' },
              timeout: 12345,
              use: { baseURL: 'http://elsewhere.invalid', browserName: 'firefox', locale: 'de-DE',
                     launchOptions: { executablePath: '/bin/false', args: ['--lang=de'] } },
            });
            """,
        },
    )
    done = _listing(workspace, VR_RETRIES="1")
    config = _config(done)
    (line,) = [line for line in done.stderr.splitlines() if "WARNING" in line]
    assert "verification.config.ts sets 8 keys the runner owns, ignored" in line
    for key in ("retries", "forbidOnly", "reporter", "outputDir", "webServer"):
        assert line.count(f" {key} (") == 1, line
    for key in ("baseURL", "browserName", "launchOptions.executablePath"):
        assert line.count(f" use.{key} (") == 1, line
    assert config["forbidOnly"] is True
    central = _projects(config)["central"]
    assert central["retries"] == 1 and central["timeout"] == 12345
    assert not central["outputDir"].endswith("mine")
    use = central["use"]
    assert use["baseURL"] == "http://127.0.0.1:9" and use["browserName"] == "chromium"
    assert use["locale"] == "de-DE"
    assert use["launchOptions"]["executablePath"] != "/bin/false"
    assert use["launchOptions"]["args"][-1] == "--lang=de"  # theirs added after the runner's


def test_kargo_runs_never_write_snapshots_local_runs_may(tmp_path: Path) -> None:
    workspace = _tree(
        tmp_path,
        {
            "verification.config.ts": "export default { updateSnapshots: 'all', ignoreSnapshots: true };\n",
        },
    )
    kargo = _listing(workspace, VR_SUITE="kargo")
    assert (
        _config(kargo)["updateSnapshots"],
        _projects(_config(kargo))["central"]["ignoreSnapshots"],
    ) == ("none", False)
    assert " updateSnapshots (" in kargo.stderr and " ignoreSnapshots (" in kargo.stderr
    local = _listing(workspace, VR_SUITE="local")
    assert _config(local)["updateSnapshots"] == "all" and "WARNING" not in local.stderr


def test_setup_projects_run_before_every_tree(tmp_path: Path) -> None:
    workspace = _tree(
        tmp_path,
        {
            "apps/backstage/plugins/x/tests/acceptance/b.spec.ts": SPEC,
            "setup/login.setup.ts": SPEC,
            "setup/logout.teardown.ts": SPEC,
            "setup/global.ts": "export default async () => {};\n",
            "verification.config.ts": """
            export default {
              globalSetup: './setup/global.ts',
              snapshotPathTemplate: 'baselines/{testFilePath}/{arg}{ext}',
              projects: [
                { name: 'login', testDir: 'setup', testMatch: /.*\\.setup\\.ts/, teardown: 'logout' },
                { name: 'logout', testDir: 'setup', testMatch: /.*\\.teardown\\.ts/ },
              ],
            };
            """,
        },
    )
    config = _config(_listing(workspace))
    projects = _projects(config)
    assert list(projects) == ["login", "logout", "central", "plugin:x"]
    assert projects["central"]["dependencies"] == ["login"]  # not the teardown
    assert projects["plugin:x"]["dependencies"] == ["login"]
    assert projects["login"]["testDir"] == str(workspace / "setup")
    # Paths in the file are relative to it, not to the runner's config in PLAYWRIGHT_HOME.
    assert config["globalSetup"] == str(workspace / "setup" / "global.ts")


def test_a_plain_playwright_config_lends_its_one_project_to_every_tree(tmp_path: Path) -> None:
    workspace = _tree(
        tmp_path,
        {
            "auth.setup.ts": SPEC,
            "e2e/playwright.config.ts": """
            import { defineConfig, devices } from '@playwright/test';
            export default defineConfig({
              testDir: '..',
              projects: [
                { name: 'setup', testMatch: /.*\\.setup\\.ts/ },
                { name: 'chromium', dependencies: ['setup'], timeout: 4321,
                  use: { ...devices['Desktop Chrome'], storageState: '.auth/user.json' } },
              ],
            });
            """,
        },
    )
    done = _listing(workspace, WORKSPACE_CONFIG="e2e/playwright.config.ts")
    projects = _projects(_config(done))
    assert list(projects) == ["setup", "central"]
    assert projects["setup"]["testDir"] == str(workspace)
    central = projects["central"]
    assert central["dependencies"] == ["setup"] and central["timeout"] == 4321
    assert central["use"]["storageState"] == ".auth/user.json"
    assert central["use"]["browserName"] == "chromium"
    # devices[...] sets defaultBrowserType: runner-owned, so it is named once.
    assert done.stderr.count("use.defaultBrowserType (the image's Chromium; project chromium)") == 1


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "export default { projects: [{ name: 'central' }] };",
            "every setup project needs a name other than the runner's tree projects",
        ),
        ("throw new Error('boom');", "verification.config.ts does not load: boom"),
        ("export default 42;", "must export a Playwright config object"),
    ],
)
def test_a_broken_workspace_config_is_named(tmp_path: Path, text: str, says: str) -> None:
    done = _listing(_tree(tmp_path, {"verification.config.ts": text}))
    assert done.returncode != 0
    assert says in done.stderr


def test_test_ts_specs_run_by_default_and_test_match_narrows(tmp_path: Path) -> None:
    workspace = _workspace(
        tmp_path,
        {
            "apps/backstage/tests/acceptance/a.spec.ts": SPEC,
            "apps/backstage/tests/acceptance/b.test.ts": SPEC,
            "apps/backstage/tests/acceptance/c.test.cjs": SPEC.replace(
                "import { test } from '@playwright/test';",
                "const { test } = require('@playwright/test');",
            ),
            "apps/backstage/tests/acceptance/d.e2e.ts": SPEC,
            "apps/backstage/tests/acceptance/helpers.ts": "export const x = 1;\n",
        },
    )
    default = _listing(workspace)
    assert _files(default) == ["a.spec.ts", "b.test.ts", "c.test.cjs"]
    # Named once, with what would have found it; helpers.ts does not look like a test.
    (line,) = [line for line in default.stderr.splitlines() if "look like tests" in line]
    assert line.endswith("will not run: apps/backstage/tests/acceptance/d.e2e.ts")

    narrowed = _listing(workspace, TEST_MATCH="**/*.e2e.ts, *.spec.ts")
    assert _files(narrowed) == ["a.spec.ts", "d.e2e.ts"]
    assert "b.test.ts, apps/backstage/tests/acceptance/c.test.cjs" in narrowed.stderr


def test_several_plugin_globs_and_a_plugin_found_by_two(tmp_path: Path) -> None:
    workspace = _workspace(
        tmp_path,
        {
            "apps/backstage/tests/acceptance/a.spec.ts": SPEC,
            "plugins/catalog/e2e-tests/c.test.ts": SPEC,
            "plugins/catalog/tests/acceptance/c.spec.ts": SPEC,
            "plugins/docs/tests/acceptance/d.spec.ts": SPEC,
        },
    )
    done = _listing(workspace, PLUGIN_TESTS_GLOB="plugins/*/e2e-tests,plugins/*/tests/acceptance")
    assert list(_projects(_config(done))) == [
        "central",
        "plugin:catalog",  # the first glob's: a second tree renames nothing
        "plugin:catalog/tests/acceptance",
        "plugin:docs/tests/acceptance",
    ]


def test_the_monorepo_example_is_layered_as_documented() -> None:
    done = _listing(MONOREPO, VR_SUITE="kargo", **MONOREPO_ENV)
    config = _config(done)
    projects = _projects(config)
    assert list(projects) == [
        "setup",
        "central",
        "plugin:catalog",
        "plugin:techdocs/tests/acceptance",
    ]
    assert all(projects[p]["dependencies"] == ["setup"] for p in list(projects)[1:])
    assert projects["central"]["use"]["locale"] == "de-DE"
    assert config["updateSnapshots"] == "none"
    warnings = [line for line in done.stderr.splitlines() if "WARNING" in line]
    assert warnings == [
        "[verification-runner] WARNING: verification.config.ts sets retries, which the runner "
        "owns (PLAYWRIGHT_RETRIES): ignored"
    ]


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*runner_command(), "run"], env=env, cwd=REPO, capture_output=True, timeout=120, check=False
    )


def test_playwright_runs_in_the_workspace(tmp_path: Path, fake_pw: FakePlaywright) -> None:
    done = _run(fake_pw.env(tmp_path / "a", "discovery:3,junit:pass:3"))
    assert done.returncode == 0, done.stdout[-2000:]
    record = json.loads(fake_pw.record.read_text())
    assert record["cwd"] == str(REPO / "examples" / "workspace")
    assert "VERIFICATION_STATE_DIR" in record["env"]


def test_bad_tree_and_config_settings_are_exit_2(tmp_path: Path, fake_pw: FakePlaywright) -> None:
    for name, value, says in [
        ("PLUGIN_TESTS_GLOB", "plugins/*/e2e-tests,plugins/e2e", "exactly one '*'"),
        ("PLUGIN_TESTS_GLOB", "plugins/*/*", "exactly one '*'"),
        ("PLUGIN_TESTS_GLOB", " , ", "comma-separated globs"),
        ("TEST_MATCH", " , ", "comma-separated globs"),
        ("WORKSPACE_CONFIG", "nope.config.ts", "no such file"),
    ]:
        done = _run(fake_pw.env(tmp_path / name, "junit:pass:1", **{name: value}))
        assert done.returncode == 2, (name, value, done.stdout[-2000:], done.stderr[-2000:])
        assert says in (done.stdout + done.stderr).decode(), (name, value)
        assert not fake_pw.record.exists()


# A Backstage app's root playwright.config.ts, as create-app writes it, with a stand-in for
# `generateProjects()` from @backstage/e2e-test-utils/playwright: every workspace package with
# an `e2e-tests/` folder becomes `{ name: <package.json name>, testDir: <dir>/e2e-tests,
# use: { channel: 'chrome' } }` (packages/e2e-test-utils/src/playwright/generateProjects.ts).
BACKSTAGE_CONFIG = """
import fs from 'node:fs';
import path from 'node:path';
import { defineConfig } from '@playwright/test';

function generateProjects() {
  const root = process.cwd();
  const globs: string[] = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).workspaces;
  const dirs = globs.flatMap((glob) => {
    const parent = path.join(root, glob.replace(/\\/\\*$/, ''));
    return fs.existsSync(parent) ? fs.readdirSync(parent).map((name) => path.join(parent, name)) : [];
  });
  return dirs
    .filter((dir) => fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'e2e-tests')))
    .map((dir) => ({
      name: JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).name,
      testDir: path.join(dir, 'e2e-tests'),
      use: { channel: 'chrome' },
    }));
}

export default defineConfig({
  timeout: 60_000,
  expect: { timeout: 30_000 },
  webServer: process.env.CI ? [] : [{ command: 'yarn start', port: 3000, reuseExistingServer: true, timeout: 60_000 }],
  forbidOnly: !!process.env.CI,
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
BACKSTAGE_ENV = {
    "CENTRAL_TESTS_DIR": "packages/app/e2e-tests",
    "PLUGIN_TESTS_GLOB": "plugins/*/e2e-tests",
}


def backstage_app(root: Path, extra: dict[str, str] | None = None) -> Path:
    """A workspace in create-app's layout: the app, a plugin made with `yarn new`, a package
    without e2e tests, and the root config above; no verification.config.ts."""
    return _workspace(
        root,
        {
            "package.json": json.dumps({"name": "root", "workspaces": ["packages/*", "plugins/*"]}),
            "playwright.config.ts": BACKSTAGE_CONFIG,
            "packages/app/package.json": json.dumps({"name": "app"}),
            "packages/app/e2e-tests/app.test.ts": SPEC,
            "packages/backend/package.json": json.dumps({"name": "backend"}),
            "plugins/hello/package.json": json.dumps({"name": "@internal/plugin-hello"}),
            "plugins/hello/e2e-tests/hello.test.ts": SPEC,
            **(extra or {}),
        },
    )


def test_a_backstage_playwright_config_is_used_as_it_is(tmp_path: Path) -> None:
    workspace = backstage_app(tmp_path)
    done = _listing(workspace, VR_SUITE="kargo", **BACKSTAGE_ENV)
    config = _config(done)
    projects = _projects(config)
    # Each tree runs once, under the workspace's own project name; nothing is a setup project.
    assert list(projects) == ["app", "@internal/plugin-hello"]
    assert sorted(s["file"] for s in json.loads(done.stdout)["suites"]) == [
        "packages/app/e2e-tests/app.test.ts",
        "plugins/hello/e2e-tests/hello.test.ts",
    ]
    app = projects["app"]
    assert app["dependencies"] == [] and app["testDir"] == str(workspace / "packages/app/e2e-tests")
    assert (app["timeout"], app["use"]["trace"], app["use"]["screenshot"]) == (
        60_000,
        "on-first-retry",
        "only-on-failure",
    )
    assert app["use"]["baseURL"] == "http://127.0.0.1:9"  # BASE_URL, not the app's localhost:3000
    assert "channel" not in app["use"] and app["use"]["launchOptions"]["executablePath"]
    assert app["metadata"]["verification-runner"]["role"] == "tree"
    assert config["webServer"] is None and config["forbidOnly"] is True
    # One line for the seven keys the runner owns, each named once.
    (line,) = [line for line in done.stderr.splitlines() if "WARNING" in line]
    for key in ("reporter", "outputDir", "retries", "forbidOnly", "webServer", "use.baseURL"):
        assert line.count(f" {key} (") == 1, line
    assert "use.channel (the image's Chromium; projects app, @internal/plugin-hello)" in line


def test_a_tree_no_workspace_project_covers_keeps_the_runners_project(tmp_path: Path) -> None:
    workspace = backstage_app(tmp_path, {"plugins/docs/tests/acceptance/d.spec.ts": SPEC})
    done = _listing(
        workspace,
        CENTRAL_TESTS_DIR="packages/app/e2e-tests",
        PLUGIN_TESTS_GLOB="plugins/*/e2e-tests,plugins/*/tests/acceptance",
    )
    assert list(_projects(_config(done))) == [
        "app",
        "plugin:docs/tests/acceptance",
        "@internal/plugin-hello",
    ]


def test_only_projects_others_depend_on_are_setup_projects(tmp_path: Path) -> None:
    config = BACKSTAGE_CONFIG.replace(
        "projects: generateProjects(),",
        "projects: [{ name: 'setup', testMatch: /.*\\\\.setup\\\\.ts/ },"
        " ...generateProjects().map((p) => ({ ...p, dependencies: ['setup'] }))],",
    )
    workspace = backstage_app(
        tmp_path, {"playwright.config.ts": config, "packages/app/e2e-tests/auth.setup.ts": SPEC}
    )
    projects = _projects(_config(_listing(workspace, **BACKSTAGE_ENV)))
    assert list(projects) == ["setup", "app", "@internal/plugin-hello"]
    assert projects["app"]["dependencies"] == ["setup"]
    assert projects["setup"]["metadata"]["verification-runner"]["role"] == "setup"


def test_the_runners_own_config_is_never_a_workspace_config(tmp_path: Path) -> None:
    """A workspace that is this checkout (TESTS_WORKSPACE=.) must not load the runner's config
    under itself."""
    done = _listing(REPO, CENTRAL_TESTS_DIR="examples/workspace/apps/backstage/tests/acceptance")
    assert "central" in _projects(_config(done))
