"""`verification-runner list` through the real CLI and the real Playwright (no browser)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from pathlib import Path

import psutil
import pytest

from tests.conftest import REPO, runner_command, runner_env, write_shim

# Each test starts the real Playwright (a listing: no browser), a few seconds each.
pytestmark = pytest.mark.slow

WORKSPACES = REPO / "tests" / "fixtures" / "workspaces"
UID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


def _list(
    tmp_path: Path, workspace: Path, *args: str, **extra: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAYWRIGHT_", "VR_"))}
    env.pop("BASE_URL", None)
    env.update(
        {"ARTIFACT_ROOT": str(tmp_path / "artifacts"), "TESTS_WORKSPACE": str(workspace)}, **extra
    )
    return subprocess.run(
        [*runner_command(), "list", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_lists_every_test_per_project_and_creates_nothing(tmp_path: Path) -> None:
    done = _list(tmp_path, REPO / "examples" / "workspace")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "central (apps/backstage/tests/acceptance): 10 test(s)" in lines
    assert (
        "  apps/backstage/tests/acceptance/home.spec.ts:13 \u203a home page \u203a should have Events link"
        in lines
    )
    assert lines[-1] == (
        "19 test(s) would run (suite local): central 10, plugin:catalog 4, plugin:techdocs 5"
    )
    assert not (tmp_path / "artifacts").exists()  # no run directory, no attempt
    assert list(tmp_path.iterdir()) == []


def test_a_kargo_identity_lists_the_kargo_suite_as_json(tmp_path: Path) -> None:
    """The suite follows the identity as in `run`: a Kargo run leaves the @local test out."""
    workspace = REPO / "examples" / "workspace"
    local = json.loads(_list(tmp_path, workspace, "--json", "--grep", "404").stdout)
    assert (local["suite"], [t["title"] for t in local["tests"]]) == (
        "local",
        ["unknown page answers 404"],
    )
    kargo = _list(tmp_path, workspace, "--json", "--grep", "404|Events", ANALYSIS_RUN_UID=UID)
    assert kargo.returncode == 0, kargo.stderr
    listed = json.loads(kargo.stdout)
    assert listed["suite"] == "kargo"
    assert [(t["project"], t["file"], t["line"]) for t in listed["tests"]] == [
        ("central", "apps/backstage/tests/acceptance/events.spec.ts", 3),
        ("central", "apps/backstage/tests/acceptance/home.spec.ts", 13),
        ("central", "apps/backstage/tests/acceptance/navigation.spec.ts", 11),
    ]


def test_nothing_to_run_is_exit_6_unless_allowed(tmp_path: Path) -> None:
    done = _list(tmp_path, WORKSPACES / "empty")
    assert done.returncode == 6, done.stderr
    assert done.stdout.splitlines()[-1] == "0 test(s) would run (suite local): none"
    assert _list(tmp_path, WORKSPACES / "empty", ALLOW_NO_TESTS="true").returncode == 0


def test_a_spec_that_does_not_load_is_exit_3_with_the_error(tmp_path: Path) -> None:
    done = _list(tmp_path, WORKSPACES / "syntax-error")
    assert done.returncode == 3
    assert "could not load the tests" in done.stderr and "SyntaxError" in done.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--reporter=dot"], "playwright argument '--reporter=dot' is not allowed"),
        (["--config", "x.ts"], "playwright argument '--config' is not allowed"),
        (["--promotoin", "x"], "playwright test refused the arguments"),
    ],
)
def test_arguments_that_change_the_listing_are_exit_2(
    tmp_path: Path, args: list[str], says: str
) -> None:
    done = _list(tmp_path, REPO / "examples" / "workspace", *args)
    assert done.returncode == 2 and says in done.stderr, done.stderr


def test_a_suite_fetched_from_git_is_not_listed_from_the_local_directory(tmp_path: Path) -> None:
    """`run` would fetch TESTS_REPO at its revision: the local directory is not that suite."""
    done = _list(
        tmp_path,
        REPO / "examples" / "workspace",
        TESTS_REPO="https://git.example.com/team/suite.git",
        TESTS_REVISION="v1.2.0",
    )
    assert done.returncode == 2, done.stderr
    assert "does not fetch" in done.stderr, done.stderr
    assert not (tmp_path / "artifacts").exists()


def test_list_runs_playwright_under_the_reaper_and_leaves_nothing_behind(tmp_path: Path) -> None:
    """`list` starts Playwright as `run` does, through the one wrapper: under the reaper, and a
    descendant that detached into its own session (a webServer) is stopped with it."""
    pidfile, parent = tmp_path / "detached.pid", tmp_path / "parent.txt"
    bin_dir = write_shim(
        tmp_path / "bin",
        f"tr '\\0' ' ' < /proc/$PPID/cmdline > '{parent}'\n"
        f"setsid sleep 300 > /dev/null 2>&1 < /dev/null &\necho $! > '{pidfile}'\nexit 1",
    )
    try:
        done = subprocess.run(
            [*runner_command(), "list"],
            env=runner_env(bin_dir, tmp_path / "artifacts"),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 3, done.stderr  # no listing came back
        assert "runner/processes/reaper.py" in parent.read_text()
        detached = int(pidfile.read_text())
        with contextlib.suppress(psutil.NoSuchProcess):
            assert psutil.Process(detached).status() == psutil.STATUS_ZOMBIE
    finally:
        with contextlib.suppress(ValueError, OSError, psutil.Error):
            psutil.Process(int(pidfile.read_text())).kill()
