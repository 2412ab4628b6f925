"""End to end: the real CLI, real Playwright, real Chromium, the example site served locally."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, runner_command

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
    assert "html-report/index.html" in done.stdout.splitlines()[-1]
    meta = json.loads((attempt / "execution-metadata.json").read_text())
    assert meta["versions"]["playwright"] == "1.65.1" and meta["versions"]["node"]
    assert meta["resources"]["peak_rss_bytes"] > 50_000_000  # Chromium was measured
    assert (tmp_path / "_jobs" / "backstage" / f"{UID}.acceptance.1.log").exists()


def test_local_runs_include_local_tests(tmp_path: Path) -> None:
    done = _run(_env(tmp_path, REPO / "examples" / "workspace"), "--grep", "@local")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "1 test(s) will run: central 1" in done.stdout


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
    assert proc.stdout is not None
    for line in proc.stdout:
        if "Running 1 test" in line:
            break
    time.sleep(2)
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143
    log = (_attempt(tmp_path) / "verification.log").read_text()
    assert "Running 1 test" in log and log.splitlines()[-1].startswith(
        "[verification-runner] VERIFICATION TERMINATED"
    )
    assert rest.splitlines()[-1] == log.splitlines()[-1]
