"""runner/processes/reaper.py on its own: a real command under it, with a real parent that
stands in for the runner (this test process, or a Python child that is SIGKILLed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil

from runner.processes.child import REAPER


def _reaped(*command: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-S", str(REAPER), str(os.getpid()), "--", *command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_the_command_s_exit_status_is_the_reaper_s() -> None:
    done = _reaped("/bin/sh", "-c", "echo out; echo err >&2; exit 7")
    assert (done.returncode, done.stdout, done.stderr) == (7, "out\n", "err\n")


def test_a_command_killed_by_a_signal_kills_the_reaper_with_the_same_signal() -> None:
    assert _reaped("/bin/sh", "-c", "kill -TERM $$").returncode == -signal.SIGTERM


def test_the_command_gets_sigpipe_and_sigxfsz_back_and_runs_in_the_given_folder(
    tmp_path: Path,
) -> None:
    """Python ignores both; a command that inherited that would not die of a closed pipe."""
    done = _reaped("/bin/sh", "-c", "pwd; grep SigIgn /proc/self/status", cwd=tmp_path)
    folder, ignored = done.stdout.splitlines()
    assert folder == str(tmp_path)
    mask = int(ignored.split()[1], 16)
    assert not mask & (1 << (signal.SIGPIPE - 1)) and not mask & (1 << (signal.SIGXFSZ - 1))


def test_a_command_that_cannot_start_is_127_in_one_line(tmp_path: Path) -> None:
    done = _reaped(str(tmp_path / "no-such-program"))
    assert done.returncode == 127
    assert done.stdout.startswith("verification-runner: cannot start ")


def test_the_tree_dies_with_a_sigkilled_parent_detached_grandchildren_included(
    tmp_path: Path,
) -> None:
    pidfile = tmp_path / "detached.pid"
    parent = textwrap.dedent(
        f"""
        import os, subprocess, sys, time
        subprocess.Popen([sys.executable, "-I", "-S", {str(REAPER)!r}, str(os.getpid()), "--",
                          "/bin/sh", "-c", "setsid sleep 300 & echo $! > {pidfile}; sleep 300"])
        time.sleep(300)
        """
    )
    runner = subprocess.Popen([sys.executable, "-c", parent])
    try:
        deadline = time.monotonic() + 30
        while not pidfile.exists() or not pidfile.read_text().strip():
            assert time.monotonic() < deadline, "the command never started"
            time.sleep(0.05)
        tree = psutil.Process(runner.pid).children(recursive=True)
        assert len(tree) >= 3  # the reaper, sh, and the sleeps
        detached = psutil.Process(int(pidfile.read_text()))
        runner.kill()
        runner.wait()
        deadline = time.monotonic() + 15
        while alive := [p for p in [*tree, detached] if not _ended(p)]:
            assert time.monotonic() < deadline, f"outlived the SIGKILLed parent: {alive}"
            time.sleep(0.05)
    finally:
        runner.kill()
        runner.wait()


def _ended(proc: psutil.Process) -> bool:
    """Gone, or a zombie that nobody here reaps (its parent died: whoever adopts it does)."""
    try:
        return bool(proc.status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True
