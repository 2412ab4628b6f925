"""Run one command so that its whole tree dies with the runner, however the runner dies.

`python -I reaper.py RUNNER_PID -- COMMAND...`, started by process.run_streaming (from the
runner's main thread). The kernel sends this process SIGUSR1 when the runner dies, even of
SIGKILL (the OOM killer: no handler of the runner runs then); this process is a child
subreaper, so every descendant of the command that lost its parent or started its own
session (the webServer, Chromium) is still below it, and it kills them all before it goes.

While the runner lives this process only waits: the runner signals and stops the tree as
before, and when the command ends this process ends the same way (its exit status, or the
same signal), so the runner sees the command's own outcome. Standard library and psutil
only, nothing of the runner: it starts in a few tens of milliseconds.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from types import FrameType

import psutil

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
ORPHANED = signal.SIGUSR1  # what the kernel sends when the runner dies


def _prctl(option: int, value: int) -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    return bool(libc.prctl(option, value, 0, 0, 0) == 0)


def kill_tree() -> None:
    """SIGKILL every descendant, round after round: orphans come to us (the subreaper)."""
    me = psutil.Process()
    for _ in range(100):
        procs = me.children(recursive=True)
        if not procs:
            return
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(procs, timeout=1)


def _orphaned(_signum: int, _frame: FrameType | None) -> None:
    kill_tree()
    os._exit(128 + ORPHANED)


def _ignore(_signum: int, _frame: FrameType | None) -> None:
    """SIGINT/SIGTERM are for the command, which the runner signals itself. A handler, not
    SIG_IGN: a handled signal is reset for the command at exec, an ignored one would not be."""


def main(argv: list[str]) -> int:
    runner, command = int(argv[1]), argv[3:]
    signal.signal(ORPHANED, _orphaned)
    signal.signal(signal.SIGINT, _ignore)
    signal.signal(signal.SIGTERM, _ignore)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    _prctl(PR_SET_PDEATHSIG, ORPHANED)
    if os.getppid() != runner:  # the runner died before the line above
        return 128 + ORPHANED
    try:
        child = subprocess.Popen(command)  # stdin, stdout, cwd and environment: ours
    except OSError as exc:
        print(f"verification-runner: cannot start {command[0]}: {exc}", flush=True)
        return 127
    code = child.wait()
    if code < 0:  # die of the same signal, so the runner sees what killed the command
        with contextlib.suppress(OSError, ValueError):  # SIGKILL and SIGSTOP have no handler
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        return 128 - code
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
