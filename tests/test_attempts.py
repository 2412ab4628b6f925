"""Retry and duplicate detection with real processes and real locks (no mocks)."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.contract.errors import DuplicateExecution
from runner.contract.exitcodes import ExitCode
from runner.identity import IdentitySource, KeyKind, RunIdentity
from runner.volume.artifacts import RunLayout
from runner.volume.attempts import begin_attempt
from runner.volume.ledger import Host, read_ledger
from tests.conftest import communicate_all

HELPER = [sys.executable, "-m", "tests.helpers.hold_attempt"]
REPO = Path(__file__).resolve().parents[1]
IDENTITY = RunIdentity("3f2b1c4d5e6f", IdentitySource.ANALYSIS_RUN, KeyKind.UUID, "x")


def _begin(root: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    options: dict[str, object] = {"on_duplicate": "refuse", "wait_seconds": 5.0}
    options.update(kwargs)
    return begin_attempt(
        RunLayout(root, IDENTITY.run_name),
        identity=IDENTITY,
        host=Host(pod="pod-a"),
        say=lambda _m: None,
        **options,  # type: ignore[arg-type]
    )


def _spawn(root: Path, mode: str, hold: float | str, go: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*HELPER, str(root), IDENTITY.run_name, mode, str(hold), str(go)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_second_attempt_is_a_retry_and_keeps_the_first(tmp_path: Path) -> None:
    first = _begin(tmp_path)
    (first.layout.dir / "verification.log").write_text("first attempt evidence\n")
    first.finish(ExitCode.TESTS_FAILED)
    second = _begin(tmp_path)
    assert (second.number, second.is_retry) == (2, True)
    assert [r.outcome for r in second.previous] == ["failed"]
    assert (first.layout.dir / "verification.log").read_text() == "first attempt evidence\n"
    second.finish(ExitCode.PASSED)
    assert [(r.attempt, r.exit_code) for r in read_ledger(second.run)] == [(1, 1), (2, 0)]


def test_concurrent_duplicate_is_refused_naming_the_holder(tmp_path: Path) -> None:
    go = tmp_path / "go"
    go.touch()
    holder = _spawn(tmp_path, "refuse", 30, go)
    run = RunLayout(tmp_path, IDENTITY.run_name)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ATTEMPT 1"
        with pytest.raises(DuplicateExecution) as refused:
            _begin(tmp_path)
        assert "pod p" in str(refused.value) and f"pid {holder.pid}" in str(refused.value)
        assert refused.value.exit_code == ExitCode.DUPLICATE_REFUSED
    finally:
        holder.kill()
        holder.communicate()
    assert "refused" in run.ledger.read_text()


def test_sigkilled_holder_does_not_block_the_next_attempt(tmp_path: Path) -> None:
    go = tmp_path / "go"
    go.touch()
    with _spawn(tmp_path, "refuse", 300, go) as holder:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ATTEMPT 1"
        os.kill(holder.pid, signal.SIGKILL)
    nxt = _begin(tmp_path)
    assert nxt.number == 2
    assert nxt.previous[0].end is None and "unfinished" in nxt.previous[0].outcome
    nxt.finish(ExitCode.PASSED)


def test_wait_mode_runs_after_the_holder(tmp_path: Path) -> None:
    go = tmp_path / "go"
    go.touch()
    with _spawn(tmp_path, "refuse", 1.0, go) as holder:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ATTEMPT 1"
        said: list[str] = []
        started = time.monotonic()
        waited = begin_attempt(
            RunLayout(tmp_path, IDENTITY.run_name),
            identity=IDENTITY,
            host=Host(),
            on_duplicate="wait",
            wait_seconds=30,
            say=said.append,
        )
    assert holder.returncode == 0
    assert waited.number == 2 and time.monotonic() - started > 0.5
    assert "waiting" in said[0]
    waited.finish(ExitCode.PASSED)


def test_wait_mode_is_bounded_by_the_deadline(tmp_path: Path) -> None:
    go = tmp_path / "go"
    go.touch()
    holder = _spawn(tmp_path, "refuse", 30, go)
    try:
        assert holder.stdout is not None
        holder.stdout.readline()
        with pytest.raises(Exception) as timed_out:
            _begin(tmp_path, on_duplicate="wait", wait_seconds=0.5)
        assert timed_out.value.exit_code == ExitCode.DEADLINE_EXCEEDED  # type: ignore[attr-defined]
    finally:
        holder.kill()
        holder.communicate()


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@pytest.mark.slow
@given(n=st.integers(2, 6), mode=st.sampled_from(["refuse", "wait"]))
def test_single_execution_per_run(
    tmp_path_factory: pytest.TempPathFactory, n: int, mode: str
) -> None:
    root = tmp_path_factory.mktemp("race")
    go, release = root.parent / f"{root.name}.go", root.parent / f"{root.name}.release"
    # refuse: the winner holds until every other process has been turned away, so the test
    # does not depend on how fast interpreters start; wait: each holds briefly in turn.
    hold = str(release) if mode == "refuse" else "0.2"
    procs = [_spawn(root, mode, hold, go) for _ in range(n)]
    go.touch()
    if mode == "refuse":
        # The winner is released only once the others are turned away: on a loaded machine
        # that can take minutes of interpreter starts, and releasing it earlier let a late
        # starter win the lock in turn (exit 0, not 7). The bound only ends a hung test.
        deadline = time.monotonic() + 600
        while sum(p.poll() is not None for p in procs) < n - 1:
            if time.monotonic() > deadline:
                release.touch()
                communicate_all(procs, timeout=60)
                pytest.fail(f"{n - 1} racers were not all turned away within 600 s")
            time.sleep(0.05)
        release.touch()
    codes = [code for code, _ in communicate_all(procs, timeout=120)]
    records = read_ledger(RunLayout(root, IDENTITY.run_name))
    numbers = [r.attempt for r in records]
    assert numbers == list(range(1, len(numbers) + 1))  # unique and gapless
    if mode == "refuse":
        assert sorted(codes) == [0] + [7] * (n - 1)
        assert len(records) == 1
    else:
        assert codes == [0] * n and len(records) == n
        spans = sorted((r.start, r.end) for r in records)
        assert all(a[1] is not None and a[1] <= b[0] for a, b in itertools.pairwise(spans))


def test_holder_file_is_valid_json_while_running(tmp_path: Path) -> None:
    attempt = _begin(tmp_path)
    holder = json.loads(attempt.run.active_holder.read_text())
    assert holder["attempt"] == 1 and holder["host"]["pod"] == "pod-a"
    attempt.finish(ExitCode.PASSED)
    assert not attempt.run.active_holder.exists()
