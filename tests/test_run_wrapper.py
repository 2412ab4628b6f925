"""`verification-runner run` through the real CLI with a stand-in Playwright (`npx`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from runner.volume.artifacts import LEDGER
from tests.conftest import REPO, FakePlaywright, read_until, runner_command, start_runner

UID = "3f2b1c4d-5e6f-4a8b-9c0d-112233445566"


def _run(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*runner_command(), "run", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def _attempt(root: Path, n: int = 1) -> Path:
    (run,) = [p for p in root.iterdir() if not p.name.startswith("_")]
    return run / f"attempt-{n}"


def _summary(root: Path, n: int = 1) -> dict[str, object]:
    return json.loads((_attempt(root, n) / "summary.json").read_text())  # type: ignore[no-any-return]


def test_pass_writes_every_artifact(tmp_path: Path, fake_pw: FakePlaywright) -> None:
    done = _run(fake_pw.env(tmp_path / "a", "discovery:3,print:5,junit:pass:3"))
    assert done.returncode == 0, done.stdout.decode()
    attempt = _attempt(tmp_path / "a")
    log = (attempt / "verification.log").read_bytes()
    assert b"line 4\n" in log and log.rstrip().endswith(done.stdout.rstrip().splitlines()[-1])
    assert done.stdout.splitlines()[-1].startswith(b"[verification-runner] VERIFICATION PASSED")
    meta = json.loads((attempt / "execution-metadata.json").read_text())
    assert (meta["exit_code"], meta["outcome"], meta["retry_attempt"]) == (0, "passed", False)
    assert meta["versions"]["playwright"] and meta["resources"]["samples"] >= 1
    assert _summary(tmp_path / "a")["passed"] == 3


def test_failed_test_is_named_everywhere(tmp_path: Path, fake_pw: FakePlaywright) -> None:
    term = tmp_path / "termination-log"
    done = _run(
        fake_pw.env(
            tmp_path / "a", "discovery:3,junit:fail:3,exit:1", TERMINATION_MESSAGE_PATH=str(term)
        )
    )
    assert done.returncode == 1
    last = done.stdout.splitlines()[-1].decode()
    assert "VERIFICATION FAILED" in last and "fails on purpose" in last and "[central]" in last
    assert "fails on purpose" in term.read_text()
    failures = _summary(tmp_path / "a")["failures"]
    assert failures[0]["message"] == "expected 1 to be 2"  # type: ignore[index]


@pytest.mark.parametrize(
    ("script", "code", "reason"),
    [
        ("discovery:3,exit:0", 3, "does not exist"),
        ("discovery:3,junit:empty,exit:0", 3, "is empty"),
        ("discovery:3,junit:truncated,exit:0", 3, "not valid XML"),
        ("discovery:3,junit:notxml,exit:0", 3, "not valid XML"),
        ("discovery:3,junit:zero,exit:0", 3, "no testcase"),
        ("discovery:3,junit:fail,exit:0", 1, "tests failed"),
        ("discovery:3,junit:pass,exit:1", 1, "failing signal wins"),
        ("discovery:3,junit:pass,segv", 3, "SIGSEGV"),
        ("notests,exit:1", 6, "no tests discovered"),
    ],
)
def test_results_never_pass_unless_they_prove_it(
    tmp_path: Path, fake_pw: FakePlaywright, script: str, code: int, reason: str
) -> None:
    done = _run(fake_pw.env(tmp_path / "a", script))
    assert done.returncode == code, done.stdout.decode()[-2000:]
    assert reason in done.stdout.decode().splitlines()[-1]
    assert _summary(tmp_path / "a")["exit_code"] == code


@pytest.mark.slow
def test_no_tests_names_the_search_and_can_be_allowed(
    tmp_path: Path, fake_pw: FakePlaywright
) -> None:
    done = _run(fake_pw.env(tmp_path / "a", "notests,exit:1"))
    assert b"apps/backstage/plugins/*/tests/acceptance" in done.stdout
    allowed = _run(fake_pw.env(tmp_path / "b", "notests,exit:1", ALLOW_NO_TESTS="true"))
    assert allowed.returncode == 0


@pytest.mark.slow
def test_flaky_policy(tmp_path: Path, fake_pw: FakePlaywright) -> None:
    script = "discovery:3,junit:flaky,exit:0"
    warn = _run(fake_pw.env(tmp_path / "w", script))
    assert warn.returncode == 0 and b"WARNING: 1 flaky" in warn.stdout
    assert _run(fake_pw.env(tmp_path / "f", script, FLAKY_POLICY="fail")).returncode == 1
    quiet = _run(fake_pw.env(tmp_path / "p", script, FLAKY_POLICY="pass"))
    assert quiet.returncode == 0 and b"WARNING" not in quiet.stdout


def test_playwright_arguments_pass_through(tmp_path: Path, fake_pw: FakePlaywright) -> None:
    _run(
        fake_pw.env(tmp_path / "a", "discovery:3,junit:pass:3"),
        "--grep",
        "should have Events link",
    )
    argv = json.loads(fake_pw.record.read_text())["argv"]
    assert argv[-2:] == ["--grep", "should have Events link"]
    # The runner's Playwright, PLAYWRIGHT_HOME's node_modules/.bin/playwright, with its config
    home = fake_pw.home
    assert argv[:3] == ["test", "--config", str(home / "playwright.config.ts")]
    log = next((tmp_path / "a").glob("*/attempt-1/verification.log")).read_text()
    assert f"$ {home}/node_modules/.bin/playwright test --config" in log


def test_hostile_output_is_kept_byte_for_byte(tmp_path: Path, fake_pw: FakePlaywright) -> None:
    done = _run(fake_pw.env(tmp_path / "a", "bytes:300000,longline:3000000,junit:pass:3"))
    assert done.returncode == 0
    log = (_attempt(tmp_path / "a") / "verification.log").read_bytes()
    chunk = b"ok \xff\xfe invalid \x00 nul \x1b[31mred\x1b[0m \xe2\x82 cut\n"
    expected = (chunk * (300000 // len(chunk) + 1))[:300000]
    assert expected in log
    assert b"x" * 3_000_000 in log


@pytest.mark.slow
def test_deadline_stops_the_whole_tree_and_reports(tmp_path: Path, fake_pw: FakePlaywright) -> None:
    started = time.monotonic()
    done = _run(
        fake_pw.env(
            tmp_path / "a",
            "discovery:3,print:3,stubborn,ignoreterm,hang",
            RUN_DEADLINE_SECONDS="3",
            KILL_GRACE_SECONDS="1",
        )
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 5, done.stdout.decode()[-2000:]
    assert elapsed < 3 + 1 + 20  # deadline + grace + generous start-up and reporting slack
    log = (_attempt(tmp_path / "a") / "verification.log").read_text(errors="replace")
    assert "line 2" in log and "stubborn grandchild up" in log and "deadline" in log
    assert log.rstrip().splitlines()[-1].startswith("[verification-runner] VERIFICATION DEADLINE")


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_mid_run_is_forwarded_and_flushed(
    tmp_path: Path, fake_pw: FakePlaywright, sig: int, code: int
) -> None:
    env = fake_pw.env(tmp_path / "a", "discovery:3,print:3,stubborn,hang")
    proc = start_runner(env)
    read_until(proc, b"stubborn grandchild up")
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    assert proc.returncode == code
    attempt = _attempt(tmp_path / "a")
    meta = json.loads((attempt / "execution-metadata.json").read_text())
    assert meta["exit_code"] == code and meta["ended_at"]
    log = (attempt / "verification.log").read_text(errors="replace")
    assert "line 2" in log and "VERIFICATION" in log.splitlines()[-1]
    ledger = (attempt.parent / LEDGER).read_text().splitlines()
    assert json.loads(ledger[-1])["exit_code"] == code


@pytest.mark.slow
def test_retry_is_detected_and_keeps_the_first_attempt(
    tmp_path: Path, fake_pw: FakePlaywright
) -> None:
    env = fake_pw.env(tmp_path / "a", "discovery:3,junit:fail,exit:1", ANALYSIS_RUN_UID=UID)
    assert _run(env).returncode == 1
    first_log = (_attempt(tmp_path / "a", 1) / "verification.log").read_bytes()
    env["FAKE_PW"] = "discovery:3,junit:pass,exit:0"
    second = _run(env)
    assert second.returncode == 0
    assert (
        b"RETRY" in second.stdout and b"attempt 1" in second.stdout and b"failed" in second.stdout
    )
    assert (_attempt(tmp_path / "a", 1) / "verification.log").read_bytes() == first_log
    meta = json.loads((_attempt(tmp_path / "a", 2) / "execution-metadata.json").read_text())
    assert meta["retry_attempt"] is True and meta["identity_source"] == "analysisrun"


@pytest.mark.slow
def test_duplicate_is_refused_with_exit_7(tmp_path: Path, fake_pw: FakePlaywright) -> None:
    env = fake_pw.env(
        tmp_path / "a",
        "discovery:3,print:1,hang",
        ANALYSIS_RUN_UID=UID,
        POD_NAME="pod-one",
        NODE_NAME="node-a",
    )
    first = start_runner(env)
    try:
        assert first.stdout is not None
        for line in first.stdout:
            if b"line 0" in line:
                break
        dup = _run({**env, "POD_NAME": "pod-two"})
        assert dup.returncode == 7
        assert b"pod pod-one" in dup.stdout and b"node node-a" in dup.stdout
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert not (tmp_path / "a" / "3f2b1c4d5e6f" / "attempt-2").exists()


def test_job_log_is_indexed_for_the_artifact_server(
    tmp_path: Path, fake_pw: FakePlaywright
) -> None:
    job = f"{UID}.run-tests.1"
    env = fake_pw.env(
        tmp_path / "a", "discovery:3,junit:pass:3", JOB_NAME=job, POD_NAMESPACE="kargo-demo"
    )
    assert _run(env).returncode == 0
    link = tmp_path / "a" / "_jobs" / "kargo-demo" / f"{job}.log"
    log = _attempt(tmp_path / "a") / "verification.log"
    assert os.stat(link).st_ino == os.stat(log).st_ino
    assert link.read_bytes() == log.read_bytes()


def test_missing_node_is_an_infrastructure_error_with_a_fix(tmp_path: Path) -> None:
    env = {
        "PATH": "/nonexistent",
        "ARTIFACT_ROOT": str(tmp_path / "a"),
        "TESTS_WORKSPACE": str(REPO / "examples" / "workspace"),
        "PLAYWRIGHT_HOME": str(REPO),
    }
    done = _run(env)
    assert done.returncode == 3
    assert b"node is not installed or not on PATH" in done.stdout
    assert b"apt-get install nodejs npm" in done.stdout


def test_metadata_records_the_uid_derived_from_the_job_name(
    tmp_path: Path, fake_pw: FakePlaywright
) -> None:
    """Argo Rollouts v1.9: the pod label ANALYSIS_RUN_UID reads empty; the metadata still
    carries the UID, taken from the Job name, and says so (docs/platform-facts.md)."""
    uid = "0b1c2d3e-4f50-4a61-8b72-93a4b5c6d7e8"
    env = fake_pw.env(
        tmp_path / "a",
        "discovery:3,junit:pass:3",
        ANALYSIS_RUN_UID="",
        JOB_NAME=f"{uid}.acceptance.1",
    )
    assert _run(env).returncode == 0
    meta = json.loads((_attempt(tmp_path / "a") / "execution-metadata.json").read_text())
    assert (meta["analysis_run_uid"], meta["analysis_run_uid_source"]) == (uid, "job-name")
    assert meta["run_name"] == "0b1c2d3e4f50"


def test_the_default_artifact_root_is_ignored_by_git(
    tmp_path: Path, fake_pw: FakePlaywright
) -> None:
    """Run from a workspace's checkout without ARTIFACT_ROOT: ./.verification-artifacts gets a
    `.gitignore` of its own, so `git status` stays clean; an explicit root is left alone."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    subprocess.run(["git", "init", "-q", str(checkout)], check=True)
    env = fake_pw.env(tmp_path / "unused", "discovery:3,junit:pass:3")
    del env["ARTIFACT_ROOT"]
    done = subprocess.run(
        [*runner_command(), "run"], env=env, cwd=checkout, capture_output=True, check=False
    )
    assert done.returncode == 0, done.stdout.decode()[-2000:]
    assert (checkout / ".verification-artifacts" / ".gitignore").read_text().endswith("\n*\n")
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
    )
    assert status.stdout == ""
    explicit = tmp_path / "explicit"
    assert _run(fake_pw.env(explicit, "discovery:3,junit:pass:3")).returncode == 0
    assert not (explicit / ".gitignore").exists()
