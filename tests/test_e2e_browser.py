"""End to end: the real CLI, real Playwright, real Chromium, the example site served locally."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, finish, runner_command

pytestmark = pytest.mark.browser
WORKSPACES = REPO / "tests" / "fixtures" / "workspaces"
UID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


def _env(root: Path, workspace: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAYWRIGHT_", "VR_"))}
    env.update(
        {"ARTIFACT_ROOT": str(root), "TESTS_WORKSPACE": str(workspace), "KILL_GRACE_SECONDS": "10"}
    )
    env.pop("BASE_URL", None)
    env.update(extra)
    return env


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*runner_command(), "run", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _attempt(root: Path) -> Path:
    (run,) = [p for p in root.iterdir() if not p.name.startswith("_")]
    return run / "attempt-1"


def test_example_suite_passes_as_a_kargo_run(tmp_path: Path) -> None:
    env = _env(
        tmp_path,
        REPO / "examples" / "workspace",
        ANALYSIS_RUN_UID=UID,
        POD_NAMESPACE="backstage",
        JOB_NAME=f"{UID}.acceptance.1",
    )
    done = _run(env)
    assert done.returncode == 0, done.stdout[-3000:]
    attempt = _attempt(tmp_path)
    summary = json.loads((attempt / "summary.json").read_text())
    # A Kargo run leaves out the one @local test: 18 of the 19 example tests.
    assert (summary["passed"], summary["failed"]) == (18, 0)
    assert "18 test(s) will run: central 9, plugin:catalog 4, plugin:techdocs 5" in done.stdout
    assert (attempt / "html-report" / "index.html").exists()
    folder = attempt / "html-report"
    assert done.stdout.splitlines()[-1].endswith(
        f"report: {folder} (open it: npx playwright show-report {folder})"
    )
    assert json.loads((attempt / "summary.json").read_text())["html_report"] == str(folder)
    meta = json.loads((attempt / "execution-metadata.json").read_text())
    assert meta["versions"]["playwright"] == "1.65.1" and meta["versions"]["node"]
    assert meta["resources"]["peak_rss_bytes"] > 50_000_000  # Chromium was measured
    assert (tmp_path / "_jobs" / "backstage" / f"{UID}.acceptance.1.log").exists()


def test_local_runs_include_local_tests(tmp_path: Path) -> None:
    # A --grep that leaves the plugin trees no test is exit 6 unless they may be empty.
    env = _env(tmp_path, REPO / "examples" / "workspace")
    assert _run(env, "--grep", "@local").returncode == 6
    done = _run({**env, "ALLOW_EMPTY_TREES": "plugin:*"}, "--grep", "@local")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "1 test(s) will run: central 1" in done.stdout


def test_report_locations_in_the_environment_do_not_move_the_verdict_s_files(
    tmp_path: Path,
) -> None:
    """Playwright prefers PLAYWRIGHT_JUNIT_OUTPUT_FILE to the config's outputFile: left in the
    pod's environment, it moved the JUnit file away from the attempt (exit 3)."""
    elsewhere = tmp_path / "elsewhere"
    env = _env(
        tmp_path / "root",
        REPO / "examples" / "workspace",
        PLAYWRIGHT_JUNIT_OUTPUT_FILE=str(elsewhere / "junit.xml"),
        PLAYWRIGHT_JSON_OUTPUT_FILE=str(elsewhere / "results.json"),
        ALLOW_EMPTY_TREES="plugin:*",  # the --grep leaves the plugin trees none
    )
    done = _run(env, "--grep", "@local")
    assert done.returncode == 0, done.stdout[-3000:]
    assert not elsewhere.exists()
    assert (_attempt(tmp_path / "root") / "junit.xml").is_file()


def test_a_real_failure_is_exit_1_and_named(tmp_path: Path) -> None:
    done = _run(_env(tmp_path, WORKSPACES / "failing"))
    assert done.returncode == 1, done.stdout[-3000:]
    last = done.stdout.splitlines()[-1]
    assert "VERIFICATION FAILED" in last and "fails on purpose" in last
    assert list((_attempt(tmp_path) / "test-results").rglob("*.png"))  # screenshot on failure


@pytest.mark.parametrize(("policy", "code"), [("warn", 0), ("fail", 1), ("pass", 0)])
def test_flaky_test_follows_the_policy(tmp_path: Path, policy: str, code: int) -> None:
    done = _run(_env(tmp_path, WORKSPACES / "flaky", FLAKY_POLICY=policy, PLAYWRIGHT_RETRIES="1"))
    assert done.returncode == code, done.stdout[-3000:]
    summary = json.loads((_attempt(tmp_path) / "summary.json").read_text())
    assert len(summary["flaky"]) == 1 and "passes on retry" in summary["flaky"][0]
    assert ("WARNING: 1 flaky" in done.stdout) == (policy == "warn")


def test_zero_tests_is_exit_6(tmp_path: Path) -> None:
    done = _run(_env(tmp_path, WORKSPACES / "empty"))
    assert done.returncode == 6, done.stdout[-3000:]
    assert "no tests found in" in done.stdout


def test_spec_that_does_not_load_is_exit_3_with_the_error(tmp_path: Path) -> None:
    done = _run(_env(tmp_path, WORKSPACES / "syntax-error"))
    assert done.returncode == 3, done.stdout[-3000:]
    assert "SyntaxError" in done.stdout.splitlines()[-1]


def test_deadline_mid_test_is_exit_5_with_results_so_far(tmp_path: Path) -> None:
    started = time.monotonic()
    done = _run(
        _env(tmp_path, WORKSPACES / "slow", RUN_DEADLINE_SECONDS="12", SLOW_TEST_SECONDS="120")
    )
    assert done.returncode == 5, done.stdout[-3000:]
    assert time.monotonic() - started < 12 + 10 + 30  # deadline + grace + start-up slack
    attempt = _attempt(tmp_path)
    assert "deadline" in json.loads((attempt / "summary.json").read_text())["reason"]
    assert (attempt / "junit.xml").exists()  # Playwright wrote its reports on SIGINT


def test_sigterm_mid_run_is_143_with_a_complete_log(tmp_path: Path) -> None:
    env = _env(tmp_path, WORKSPACES / "slow", SLOW_TEST_SECONDS="120")
    proc = subprocess.Popen(
        [*runner_command(), "run"],
        env=env,
        cwd=REPO,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "Running 1 test" in line:
                break
        time.sleep(2)
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
    finally:
        finish(proc)
    assert proc.returncode == 143
    log = (_attempt(tmp_path) / "verification.log").read_text()
    assert "Running 1 test" in log and log.splitlines()[-1].startswith(
        "[verification-runner] VERIFICATION TERMINATED"
    )
    assert rest.splitlines()[-1] == log.splitlines()[-1]


MONOREPO = REPO / "examples" / "monorepo"
MONOREPO_TREES = {
    "CENTRAL_TESTS_DIR": "packages/app/e2e-tests",
    "PLUGIN_TESTS_GLOB": "plugins/*/e2e-tests,plugins/*/tests/acceptance",
}
BASELINE = Path("plugins/catalog/e2e-tests/__screenshots__/catalog.test.ts/logo.png")


def _kargo_env(root: Path, workspace: Path) -> dict[str, str]:
    return _env(root, workspace, ANALYSIS_RUN_UID=UID, **MONOREPO_TREES)


def test_monorepo_example_passes_as_a_kargo_run(tmp_path: Path) -> None:
    """Backstage-style specs: the setup project signs in first and every tree starts from its
    storageState; the workspace's locale reaches the page; its `retries` is overridden."""
    done = _run(_kargo_env(tmp_path, MONOREPO))
    assert done.returncode == 0, done.stdout[-3000:]
    assert (
        "8 test(s) will run: setup 1, central 3, plugin:catalog 3, "
        "plugin:techdocs/tests/acceptance 1" in done.stdout
    )
    assert "WARNING: verification.config.ts sets retries, which the runner owns" in done.stdout
    assert "[global-setup] testing http://127.0.0.1:" in done.stdout
    attempt = _attempt(tmp_path)
    assert (json.loads((attempt / "summary.json").read_text())["passed"]) == 8
    report = json.loads((attempt / "results.json").read_text())
    starts: dict[str, list[str]] = {}
    for suite in report["suites"]:
        for spec in suite["specs"]:
            for test in spec["tests"]:
                starts.setdefault(test["projectName"], []).append(test["results"][0]["startTime"])
    assert max(starts.pop("setup")) < min(t for times in starts.values() for t in times)
    assert (attempt / "state" / "user.json").exists()  # VERIFICATION_STATE_DIR, not the workspace
    assert not (MONOREPO / "test-results").exists()


def test_kargo_run_with_a_missing_baseline_fails_without_writing_one(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    shutil.copytree(MONOREPO, workspace, symlinks=True)
    (workspace / BASELINE).unlink()
    done = _run(_kargo_env(tmp_path / "artifacts", workspace))
    assert done.returncode == 1, done.stdout[-3000:]
    assert "shows the logo" in done.stdout.splitlines()[-1]
    assert not (workspace / BASELINE).exists()


def test_relative_paths_in_specs_mean_the_workspace(tmp_path: Path) -> None:
    """Playwright's working directory is the workspace: a setup project that saves
    `.auth/user.json` and tests that `test.use` it need no absolute path."""
    workspace = tmp_path / "ws"
    acceptance = workspace / "apps" / "backstage" / "tests" / "acceptance"
    acceptance.mkdir(parents=True)
    (workspace / "verification-site").mkdir()
    (workspace / "verification-site" / "index.html").write_text(
        "<p id=who></p><script>document.getElementById('who').textContent ="
        " localStorage.getItem('user') || 'nobody'</script>"
    )
    (workspace / "verification.config.ts").write_text(
        "export default { projects: [{ name: 'login', testDir: 'apps/backstage/tests/acceptance',"
        " testMatch: /.*\\.setup\\.ts/ }] };\n"
    )
    (acceptance / "login.setup.ts").write_text(
        "import { test } from '@playwright/test';\n"
        "test('login', async ({ page }) => {\n"
        "  await page.goto('/');\n"
        "  await page.evaluate(() => localStorage.setItem('user', 'alice'));\n"
        "  await page.context().storageState({ path: '.auth/user.json' });\n"
        "});\n"
    )
    (acceptance / "who.test.ts").write_text(
        "import { expect, test } from '@playwright/test';\n"
        "test.use({ storageState: '.auth/user.json' });\n"
        "test('signed in', async ({ page }) => {\n"
        "  await page.goto('/');\n"
        "  await expect(page.locator('#who')).toHaveText('alice');\n"
        "});\n"
    )
    done = _run(_env(tmp_path / "artifacts", workspace))
    assert done.returncode == 0, done.stdout[-3000:]
    assert (workspace / ".auth" / "user.json").exists()
    assert "[central] apps/backstage/tests/acceptance/who.test.ts" in done.stdout
