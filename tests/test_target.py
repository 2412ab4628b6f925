"""What a run tests (runner/target.py), through the real CLI with the stand-in Playwright: a
Kargo run names its target or says it serves its own site; a missing local site is one line."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import REPO, FakePlaywright, runner_command

PASSING = "discovery:3,junit:pass:3"


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*runner_command(), "run"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _kargo(tmp_path: Path, fake_pw: FakePlaywright, **extra: str) -> dict[str, str]:
    return fake_pw.env(
        tmp_path / "a",
        PASSING,
        KUBERNETES_SERVICE_HOST="10.0.0.1",
        LOOKUP_PROMOTION="false",
        JOB_NAME="0f6c9a7e-3b1d-4c2a-9e8f-1a2b3c4d5e6f.acceptance.1",
        TERMINATION_MESSAGE_PATH=str(tmp_path / "termination-log"),
        **extra,
    )


def test_a_kargo_run_without_base_url_is_exit_2(tmp_path: Path, fake_pw: FakePlaywright) -> None:
    """A Stage that forgets its baseURL arg: BASE_URL empty. Before, the suite's own site
    passed in the deployment's place, exit 0."""
    done = _run(_kargo(tmp_path, fake_pw, BASE_URL=""))
    assert done.returncode == 2, done.stdout[-3000:]
    last = done.stdout.splitlines()[-1]
    assert "BASE_URL is unset or empty in a Kargo run" in last
    assert not fake_pw.record.exists()  # nothing ran
    assert "BASE_URL is unset or empty" in (tmp_path / "termination-log").read_text()


def test_a_kargo_run_serves_its_own_site_only_when_told(
    tmp_path: Path, fake_pw: FakePlaywright
) -> None:
    done = _run(_kargo(tmp_path, fake_pw, LOCAL_SITE_DIR="verification-site"))
    assert done.returncode == 0, done.stdout[-3000:]
    assert "target local site (" in done.stdout


def test_no_base_url_and_no_local_site_is_one_line_exit_2(
    tmp_path: Path, fake_pw: FakePlaywright
) -> None:
    """Before: exit 3 with a JavaScript stack trace from the config."""
    workspace = tmp_path / "ws"
    shutil.copytree(REPO / "examples" / "workspace", workspace)
    shutil.rmtree(workspace / "verification-site")
    done = _run(fake_pw.env(tmp_path / "a", PASSING, TESTS_WORKSPACE=str(workspace)))
    assert done.returncode == 2, done.stdout[-3000:]
    (line,) = [line for line in done.stdout.splitlines() if "no local site" in line]
    assert "BASE_URL is unset and there is no local site to serve instead" in line
    assert "set BASE_URL to the deployment to test" in line
    assert not fake_pw.record.exists()


def test_local_site_dir_is_inside_the_workspace(tmp_path: Path, fake_pw: FakePlaywright) -> None:
    for value in ("/srv/site", "../elsewhere"):
        done = _run(fake_pw.env(tmp_path / "a", PASSING, LOCAL_SITE_DIR=value))
        assert done.returncode == 2, (value, done.stdout[-2000:])
        assert "LOCAL_SITE_DIR=" in done.stdout + done.stderr
