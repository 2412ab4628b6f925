from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from runner.cli import main

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
