"""`verification-runner list` through the real CLI and the real Playwright (no browser)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
from pathlib import Path

import psutil
import pytest

from tests.conftest import REPO, FakePlaywright, runner_command, runner_env, write_shim

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
    if env.pop("UNSET_WORKSPACE", None):
        del env["TESTS_WORKSPACE"]
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


def test_list_with_tests_repo_fetches_and_makes_no_run_directory(tmp_path: Path) -> None:
    """`list` fetches what `run` would (tests/test_backstage_install.py lists a real one);
    a server that cannot be reached is exit 3 in one line, and nothing is left behind."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/team/suite.git"
    done = _list(
        tmp_path,
        REPO / "examples" / "workspace",
        TESTS_REPO=url,
        TESTS_REVISION="v1.2.0",
        TMPDIR=str(tmp_path),
    )
    assert done.returncode == 2, done.stderr  # TESTS_WORKSPACE is set too: which one?
    assert "TESTS_WORKSPACE is set too" in done.stderr
    env = {"TESTS_REPO": url, "TESTS_REVISION": "v1.2.0", "TMPDIR": str(tmp_path)}
    done = _list(tmp_path, REPO / "examples" / "workspace", UNSET_WORKSPACE="1", **env)
    assert done.returncode == 3, done.stderr
    assert "network error reaching" in done.stderr.splitlines()[-1]
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
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("vr-tests-")]


def _app(root: Path, *, backstage: bool) -> Path:
    """create-app's layout, with or without its backstage.json."""
    spec = "import { test } from '@playwright/test';\ntest('t', () => {});\n"
    files = {
        "package.json": '{"name": "root", "private": true, "workspaces": ["packages/*", "plugins/*"]}',
        "packages/app/package.json": '{"name": "app"}',
        "packages/app/e2e-tests/app.test.ts": spec,
        "packages/backend/package.json": '{"name": "backend"}',
        "plugins/hello/package.json": '{"name": "@internal/plugin-hello"}',
        "plugins/hello/e2e-tests/hello.test.ts": spec,
        "plugins/quiet/package.json": '{"name": "@internal/plugin-quiet"}',
    }
    if backstage:
        files["backstage.json"] = '{"version": "1.55.0"}'
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_a_backstage_app_s_trees_follow_its_layout_said_in_one_line(tmp_path: Path) -> None:
    """Issue 21, item 4: the default trees (apps/backstage/...) are not there, the workspace is
    a Backstage app: every workspace package with an e2e-tests folder, each spec once."""
    done = _list(tmp_path, _app(tmp_path / "app", backstage=True))
    assert done.returncode == 0, done.stderr
    (said,) = [line for line in done.stderr.splitlines() if "Backstage's layout" in line]
    assert "CENTRAL_TESTS_DIR=packages/app/e2e-tests" in said
    assert "PLUGIN_TESTS_GLOB='plugins/*/e2e-tests'" in said and "to pin" in said
    assert done.stdout.splitlines()[-1] == (
        "2 test(s) would run (suite local): central 1, plugin:hello 1"
    )


def test_list_and_run_name_the_same_missing_tree(tmp_path: Path, fake_pw: FakePlaywright) -> None:
    """Not a Backstage app: the missing default tree is exit 2 in both, not "No tests found"."""
    workspace = _app(tmp_path / "app", backstage=False)
    listed = _list(tmp_path, workspace)
    env = fake_pw.env(tmp_path / "artifacts", "discovery:1,junit:pass:1")
    env["TESTS_WORKSPACE"] = str(workspace)
    ran = subprocess.run(
        [*runner_command(), "run"], env=env, capture_output=True, text=True, check=False
    )
    assert (listed.returncode, ran.returncode) == (2, 2), (listed.stderr, ran.stdout)
    missing = "CENTRAL_TESTS_DIR='apps/backstage/tests/acceptance': "
    assert missing in listed.stderr.splitlines()[-1]
    assert missing in ran.stdout.splitlines()[-1]
