"""Run one command so that its whole tree dies with the runner, however the runner dies.

`python -I -S reaper.py RUNNER_PID -- COMMAND...`, started by process.run_streaming (from the
runner's main thread). The kernel sends this process SIGUSR1 when the runner dies, even of
SIGKILL (the OOM killer: no handler of the runner runs then); this process is a child
subreaper, so every descendant of the command that lost its parent or started its own
session (the webServer, Chromium) is still below it, and it kills them all before it goes.

While the runner lives this process only waits: the runner signals and stops the tree as
before, and when the command ends this process ends the same way (its exit status, or the
same signal), so the runner sees the command's own outcome. It starts before every git, yarn
and Playwright command, so it is the standard library's smallest part only (os, signal,
ctypes; no site, no psutil, subprocess or contextlib; /proc read directly): about 20 ms of start-up
instead of 60 (bench/install.py).
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import sys
import time
from types import FrameType

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
ORPHANED = signal.SIGUSR1  # what the kernel sends when the runner dies
_RESTORED = (signal.SIGPIPE, signal.SIGXFSZ)


def _prctl(option: int, value: int) -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    return bool(libc.prctl(option, value, 0, 0, 0) == 0)


def _descendants() -> list[int]:
    """Every process below this one, from the parent ids in /proc/<pid>/stat."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                fields = stat.read().rpartition(b")")[2].split()
        except OSError:
            continue  # gone meanwhile
        if len(fields) > 1 and fields[1].isdigit():
            children.setdefault(int(fields[1]), []).append(int(name))
    found, todo = [], [os.getpid()]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


def _reap(until: float) -> None:
    """Collect the exit status of every child that has ended (orphans are our children)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            if time.monotonic() >= until:
                return
            # Not time.sleep: it fails (EINVAL) once the wall clock jumps back under libfaketime.
            select.select([], [], [], 0.01)


def kill_tree() -> None:
    """SIGKILL every descendant, round after round: orphans come to us (the subreaper)."""
    for _ in range(100):
        procs = _descendants()
        if not procs:
            return
        for pid in procs:
            try:  # noqa: SIM105 - contextlib would cost the reaper 16 ms of imports
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass  # gone meanwhile
        _reap(time.monotonic() + 1)


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
    try:  # stdin, stdout, cwd and environment: ours; the handled signals reset at exec
        # Python ignores SIGPIPE and SIGXFSZ; the command gets them back as subprocess gives them.
        child = os.posix_spawn(command[0], command, os.environ, setsigdef=_RESTORED)
    except OSError as exc:
        print(f"verification-runner: cannot start {command[0]}: {exc}", flush=True)
        return 127
    _, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    if code < 0:  # die of the same signal, so the runner sees what killed the command
        try:  # noqa: SIM105 - as above
            signal.signal(-code, signal.SIG_DFL)
        except (OSError, ValueError):
            pass  # SIGKILL and SIGSTOP have no handler
        os.kill(os.getpid(), -code)
        return 128 - code
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
