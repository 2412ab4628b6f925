"""Every configured test tree must execute a test, and setup projects never count as
verification (runner/judging/pertree.py): the workspace shapes that used to pass on a setup test
alone or without a whole tree, run with real Playwright through the real CLI. The specs use no
page, so no browser starts; BASE_URL points nowhere and the readiness gate is skipped."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, runner_command
from tests.test_workspace_config import BACKSTAGE_ENV, SPEC, backstage_app

pytestmark = pytest.mark.slow

SETUP = "import { test } from '@playwright/test';\ntest('sign in', async () => {});\n"
NEEDS_USER = (
    "import { test } from '@playwright/test';\n"
    "test.skip(!process.env.E2E_USER, 'needs E2E_USER');\n"
    "test('one', async () => {});\ntest('two', async () => {});\n"
)
WITH_SETUP = """
export default {
  projects: [{ name: 'setup', testDir: './packages/app/e2e-tests', testMatch: /.*\\.setup\\.ts/ }],
  %s
};
"""
TREES = {"CENTRAL_TESTS_DIR": "packages/app/e2e-tests", "PLUGIN_TESTS_GLOB": "plugins/*/e2e-tests"}


def _workspace(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _run(tmp_path: Path, workspace: Path, **extra: str) -> tuple[int, str, dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAYWRIGHT_", "VR_"))}
    for name in ("E2E_USER", "TEST_MATCH", "WORKSPACE_CONFIG", "KUBERNETES_SERVICE_HOST"):
        env.pop(name, None)
    env.update(
        ARTIFACT_ROOT=str(tmp_path / "artifacts"),
        TESTS_WORKSPACE=str(workspace),
        PLAYWRIGHT_HOME=str(REPO),
        BASE_URL="http://127.0.0.1:9",
        READY_SKIP="true",
    )
    env.update({**TREES, **extra})
    done = subprocess.run(
        [*runner_command(), "run"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    (summary,) = (tmp_path / "artifacts").glob("*/attempt-*/summary.json")
    return done.returncode, done.stdout.splitlines()[-1], json.loads(summary.read_text())


def _app(root: Path, config: str, app_spec: str = NEEDS_USER, plugin_spec: str = SPEC) -> Path:
    return _workspace(
        root / "ws",
        {
            "verification.config.ts": config,
            "packages/app/e2e-tests/auth.setup.ts": SETUP,
            "packages/app/e2e-tests/app.test.ts": app_spec,
            "plugins/hello/e2e-tests/hello.test.ts": plugin_spec,
        },
    )


def test_a_setup_test_alone_is_no_verification(tmp_path: Path) -> None:
    """The issue's reproduction: every tree test skipped by test.skip(!process.env.E2E_USER)
    in a Job without E2E_USER; before: `PASSED (exit 0): all 1 tests passed`."""
    workspace = _app(tmp_path, WITH_SETUP % "", plugin_spec=NEEDS_USER)
    code, line, summary = _run(tmp_path, workspace)
    assert code == 6, line
    assert (
        "2 test tree(s) executed no test: central (packages/app/e2e-tests): all 2 test(s) skipped"
        in line
    )
    assert (
        "trees: central 0 passed, 0 failed, 2 skipped; plugin:hello 0 passed, 0 failed, 2 skipped"
        in line
    )
    assert [t["project"] for t in summary["trees"]] == ["central", "plugin:hello"]
    # With E2E_USER the same suite verifies, and the setup test is not counted as one.
    code, line, _ = _run(tmp_path / "with-user", workspace, E2E_USER="tester")
    assert code == 0, line
    assert "all 4 tests passed (1 more in setup or teardown projects) | 5 passed, 0 failed" in line


def test_a_workspace_test_ignore_that_drops_a_tree_is_exit_6(tmp_path: Path) -> None:
    """Before: `[discovery] 1 test(s) will run: central 1`, exit 0, the plugin's test never ran."""
    workspace = _app(tmp_path, WITH_SETUP % "testIgnore: ['**/plugins/**'],", app_spec=SPEC)
    code, line, summary = _run(tmp_path, workspace)
    assert code == 6, line
    assert (
        "1 test tree(s) executed no test: plugin:hello (plugins/hello/e2e-tests): no test discovered"
        in line
    )
    assert summary["trees"][1] == {
        "project": "plugin:hello",
        "tree": "plugins/hello/e2e-tests",
        "discovered": 0,
        "passed": 0,
        "failed": 0,
        "skipped": 0,
        "flaky": 0,
    }
    # The documented opt-out: a tree that may be empty.
    code, line, _ = _run(tmp_path / "allowed", workspace, ALLOW_EMPTY_TREES="plugins/*/e2e-tests")
    assert code == 0, line


def test_a_grep_only_the_setup_test_matches_is_exit_6(tmp_path: Path) -> None:
    workspace = _app(tmp_path, WITH_SETUP % "grep: /sign in/,", app_spec=SPEC)
    code, line, _ = _run(tmp_path, workspace)
    assert code == 6, line
    assert "2 test tree(s) executed no test" in line and "1 passed, 0 failed, 0 skipped" in line


def test_a_backstage_app_verifies_each_tree_once_under_its_own_name(tmp_path: Path) -> None:
    """generateProjects()'s shape, no verification.config.ts: the verdict line, summary.json
    and the termination message carry each tree's counts and the target."""
    workspace = backstage_app(tmp_path / "ws")
    termination = tmp_path / "termination-log"
    code, line, summary = _run(
        tmp_path, workspace, **BACKSTAGE_ENV, TERMINATION_MESSAGE_PATH=str(termination)
    )
    assert code == 0, line
    assert "all 2 tests passed | 2 passed, 0 failed, 0 skipped, 0 flaky of 2" in line
    assert "| trees: app 1 passed, 0 failed, 0 skipped; @internal/plugin-hello 1 passed" in line
    assert "| target: http://127.0.0.1:9 |" in line
    assert summary["target"] == "http://127.0.0.1:9"
    assert [(t["project"], t["tree"], t["passed"]) for t in summary["trees"]] == [
        ("app", "packages/app/e2e-tests", 1),
        ("@internal/plugin-hello", "plugins/hello/e2e-tests", 1),
    ]
    message = termination.read_text()
    assert "\ntarget: http://127.0.0.1:9\ntrees: app 1 passed" in message
