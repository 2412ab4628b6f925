"""The CLI boundary: what click itself decides (usage errors, Ctrl-C) maps to the exit-code
contract like everything else, for every command, through the real CLI."""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, runner_command

# read(2)'s number in /proc/PID/syscall (the first field; the second is its fd argument)
READ_SYSCALL = {"x86_64": "0", "aarch64": "63"}


def _until_reading(proc: subprocess.Popen[bytes], fd: int) -> None:
    """Return once `proc` sits in read(2) on `fd`: then a signal lands in the command itself,
    not in the interpreter's start (where Python would die of it before any handler exists)."""
    want = [READ_SYSCALL[platform.machine()], hex(fd)]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if Path(f"/proc/{proc.pid}/syscall").read_text().split()[:2] == want:
            return
        time.sleep(0.01)
    pytest.fail(f"{proc.args!r} never read fd {fd}")


@pytest.mark.skipif(
    platform.machine() not in READ_SYSCALL, reason="syscall numbers of x86_64/aarch64"
)
def test_ctrl_c_is_exit_130_for_a_command_without_signal_handling(tmp_path: Path) -> None:
    """`lint -` waits on stdin; SIGINT there was click's "Aborted!" and exit 1, tests failed."""
    proc = subprocess.Popen(
        [*runner_command(), "lint", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
        # A command started in the background (`make test &`, CI) inherits SIGINT ignored, and
        # Python keeps it ignored: give the child the disposition a terminal gives it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )
    try:
        _until_reading(proc, 0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 130, (out, err)
    assert err.decode().strip().splitlines()[-1] == "verification-runner: interrupted (SIGINT)"
    assert b"Aborted" not in err


@pytest.mark.parametrize(
    "args",
    [
        ["no-such-command"],
        ["report"],  # a missing argument
        ["identity", "--no-such-option"],
        ["cleanup", "extra-argument"],
        ["lint", "--format", "xml", "x.yaml"],  # a value outside the choices
    ],
)
def test_a_usage_error_is_a_configuration_error(args: list[str]) -> None:
    done = subprocess.run(
        [*runner_command(), *args], cwd=REPO, capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 2, done
    assert b"Usage:" in done.stderr and b"Traceback" not in done.stderr


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["report", "--help"]])
def test_help_and_version_are_exit_0(args: list[str]) -> None:
    done = subprocess.run(
        [*runner_command(), *args], cwd=REPO, capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 0 and done.stdout, done
