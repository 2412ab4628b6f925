from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from runner.cli import main
from tests.conftest import FakePlaywright, run_runner

UID = "3f2b1c4d-5e6f-4a8b-9c0d-112233445566"


def test_identity_json_names_source_and_directories_without_creating_them(
    tmp_path: Path,
) -> None:
    root = tmp_path / "artifacts"
    result = CliRunner().invoke(
        main,
        ["identity", "--json"],
        env={"ARTIFACT_ROOT": str(root), "ANALYSIS_RUN_UID": UID, "JOB_NAME": ""},
    )
    assert result.exit_code == 0, result.output
    facts = json.loads(result.output)
    assert facts["source"] == "analysisrun" and facts["run_name"] == "3f2b1c4d5e6f"
    assert facts["next_attempt_dir"] == str(root / "3f2b1c4d5e6f" / "attempt-1")
    assert facts["is_kargo_execution"] is True
    assert not root.exists()


def test_promotion_option_overrides_the_environment(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["identity", "--json", "--promotion", "uat.01JD8X3K5QZ9N2M4P6R8T0V2W4.abc"],
        env={"ARTIFACT_ROOT": str(tmp_path), "ANALYSIS_RUN_UID": UID},
    )
    facts = json.loads(result.output)
    assert (facts["source"], facts["run_name"]) == ("promotion", "01jd8x3k5qz9")


def test_python_dash_m_runner_is_the_same_cli(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "runner", "identity"],
        capture_output=True,
        text=True,
        env={"ARTIFACT_ROOT": str(tmp_path), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "source" in done.stdout and "local" in done.stdout


def _identity(tmp_path: Path, **env: str) -> dict[str, object]:
    result = CliRunner().invoke(
        main, ["identity", "--json"], env={"ARTIFACT_ROOT": str(tmp_path), **env}
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_rollouts_1_9_uid_is_derived_from_the_job_name(tmp_path: Path) -> None:
    """Argo Rollouts v1.9: the pod label is empty, the Job name `<uid>.<metric>.<n>` is not."""
    facts = _identity(tmp_path, ANALYSIS_RUN_UID="", JOB_NAME=f"{UID}.acceptance.1")
    assert (facts["analysis_run_uid"], facts["analysis_run_uid_source"]) == (UID, "job-name")
    assert facts["run_name"] == "3f2b1c4d5e6f"  # the directory the label would give
    facts = _identity(tmp_path, ANALYSIS_RUN_UID=UID, JOB_NAME=f"{UID}.acceptance.1")
    assert (facts["analysis_run_uid"], facts["analysis_run_uid_source"]) == (UID, "pod-label")


def test_a_job_name_without_a_uid_gives_none(tmp_path: Path) -> None:
    for job in ("nightly-verification", "../../etc.passwd.1", f"x{UID}.acceptance.1"):
        facts = _identity(tmp_path, ANALYSIS_RUN_UID="", JOB_NAME=job)
        assert facts["analysis_run_uid"] is None and facts["analysis_run_uid_source"] is None


@pytest.mark.slow
def test_the_runner_warns_when_rollouts_is_older_than_1_10(
    tmp_path: Path, fake_pw: FakePlaywright
) -> None:
    """The pod of a Job that Argo Rollouts v1.9 made has no uid label (ANALYSIS_RUN_UID reads
    empty); there a terminated verification is recorded Successful (docs/platform-facts.md,
    "Termination, and what it records"): the run says so in its log, and only there."""
    job = f"{UID}.acceptance.1"
    for label, warned in (("", True), (UID, False)):
        env = fake_pw.env(
            tmp_path / f"artifacts-{bool(label)}",
            "discovery:3,junit:pass:3",  # one test per tree of the example
            ANALYSIS_RUN_UID=label,
            JOB_NAME=job,
            READY_SKIP="true",
        )
        done = run_runner(env, "run")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        lines = [line for line in done.stdout.splitlines() if "older than v1.10" in line]
        assert len(lines) == int(warned), done.stdout[-3000:]
        if warned:
            assert "a verification that is aborted or terminated" in lines[0]
            assert "recorded as Successful" in lines[0]
            assert '"Stopping a verification"' in lines[0]
