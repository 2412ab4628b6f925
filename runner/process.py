"""The one subprocess wrapper: start a child, stream its merged output into the tee, enforce
the deadline, forward SIGTERM/SIGINT, sample its resources, and leave no process behind.

* The runner makes itself a child subreaper (Linux prctl), so a grandchild that loses its
  parent or starts its own session is still ours to find and kill.
* Stopping sends SIGINT to the whole tree, whatever asked us to stop: Playwright 1.65 writes
  its reports and stops its webServer on SIGINT (the Ctrl-C path), but exits at once on SIGTERM
  with no JUnit or JSON and leaves the webServer running (checked here with 1.65.1). The output
  is drained during the grace period, then whatever is left gets SIGKILL.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import select
import shlex
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from runner.control import Deadline, StopRequest
from runner.errors import InfrastructureError
from runner.tee import LogSink

_PR_SET_CHILD_SUBREAPER = 36
SAMPLE_EVERY = 1.0
READ_SIZE = 1 << 16  # 64 KiB: larger reads allocate through mmap and cost more than they save
PIPE_SIZE = 1 << 16
BURST = 64


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux >= 3.4); False where that is not possible."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


@dataclass(frozen=True)
class ProcessOutcome:
    returncode: int  # negative: killed by that signal (subprocess convention)
    stopped_for: str | None  # "deadline" or "signal" when we stopped it, else None
    duration: float
    peak_rss_bytes: int
    cpu_seconds: float
    samples: int

    @property
    def killed_by_signal(self) -> int | None:
        return -self.returncode if self.returncode < 0 else None


class _Usage:
    """Peak RSS of the tree (sum over live processes) and CPU time (sum over all ever seen)."""

    def __init__(self) -> None:
        self.peak_rss = 0
        self.samples = 0
        self._cpu: dict[tuple[int, float], float] = {}

    def sample(self, root: psutil.Process) -> None:
        rss = 0
        for proc in _tree(root):
            with contextlib.suppress(psutil.Error), proc.oneshot():
                rss += proc.memory_info().rss
                times = proc.cpu_times()
                self._cpu[(proc.pid, proc.create_time())] = times.user + times.system
        self.peak_rss = max(self.peak_rss, rss)
        self.samples += 1

    @property
    def cpu_seconds(self) -> float:
        return round(sum(self._cpu.values()), 3)


def _tree(root: psutil.Process) -> list[psutil.Process]:
    procs = [root]
    with contextlib.suppress(psutil.Error):
        procs += root.children(recursive=True)
    return procs


def descendants() -> list[psutil.Process]:
    """Every live descendant of this process (orphans included, thanks to the subreaper)."""
    try:
        return [p for p in psutil.Process().children(recursive=True) if p.is_running()]
    except psutil.Error:
        return []


def kill_descendants(grace: float, sig: int = signal.SIGTERM) -> None:
    """Signal every descendant, wait up to `grace`, SIGKILL the rest, and reap them."""
    procs = descendants()
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(sig)
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for proc in alive + descendants():
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(descendants(), timeout=5)


def run_streaming(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    sink: LogSink,
    deadline: Deadline,
    stop: StopRequest,
    grace: float,
) -> ProcessOutcome:
    """Run `argv` to the end, or until the deadline or a stop request; stream its output."""
    sink.say(f"$ {shlex.join(argv)}")
    try:
        child = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise InfrastructureError(
            f"cannot start {argv[0]!r}: it is not installed or not on PATH. Install Node.js "
            "and npm (Debian: apt-get install nodejs npm) and run `npm ci`, or use the "
            "runner's container image."
        ) from exc
    except OSError as exc:
        raise InfrastructureError(f"cannot start {shlex.join(argv)}: {exc}") from exc
    return _Supervisor(child, sink=sink, deadline=deadline, stop=stop, grace=grace).run()


class _Supervisor:
    LINGER = 2.0  # how long descendants may keep the pipe open after the child has exited

    def __init__(
        self,
        child: subprocess.Popen[bytes],
        *,
        sink: LogSink,
        deadline: Deadline,
        stop: StopRequest,
        grace: float,
    ) -> None:
        if child.stdout is None:
            raise InfrastructureError("the child process has no output pipe")
        self.child, self.pipe = child, child.stdout
        self.sink, self.deadline, self.stop, self.grace = sink, deadline, stop, grace
        self.root = psutil.Process(child.pid)
        self.usage = _Usage()
        self.stopped_for: str | None = None
        self.kill_at: float | None = None
        self.linger_until: float | None = None
        self.started = time.monotonic()

    def run(self) -> ProcessOutcome:
        fd = self.pipe.fileno()
        os.set_blocking(fd, False)
        _widen_pipe(fd)
        next_sample = 0.0
        try:
            while True:
                now = time.monotonic()
                if now >= next_sample:
                    self.usage.sample(self.root)
                    next_sample = now + SAMPLE_EVERY
                self._enforce(now)
                state = self._pump(fd)
                if state == "eof":
                    break  # every writer is gone
                if state == "idle" and self.child.poll() is not None:
                    self.linger_until = self.linger_until or now + self.LINGER
                    if now >= self.linger_until:
                        break
        finally:
            self.child.wait()
            kill_descendants(grace=min(self.grace, self.LINGER))
            _drain(fd, self.sink)
            self.pipe.close()
            self.sink.flush()
        return ProcessOutcome(
            returncode=self.child.returncode,
            stopped_for=self.stopped_for,
            duration=round(time.monotonic() - self.started, 3),
            peak_rss_bytes=self.usage.peak_rss,
            cpu_seconds=self.usage.cpu_seconds,
            samples=self.usage.samples,
        )

    def _enforce(self, now: float) -> None:
        if self.stopped_for is None and (self.deadline.expired() or self.stop.requested):
            self.stopped_for = "signal" if self.stop.requested else "deadline"
            self.sink.say(
                f"stopping the test process tree ({self.stopped_for}): SIGINT now, "
                f"SIGKILL after {self.grace:.0f}s"
            )
            _signal_tree(self.child.pid, signal.SIGINT)
            self.kill_at = now + self.grace
        if self.kill_at is not None and now >= self.kill_at:
            _signal_tree(self.child.pid, signal.SIGKILL)

    def _pump(self, fd: int) -> str:
        """Move what the child wrote into the tee: "data", "idle" (nothing came) or "eof".

        While output keeps coming, it is read without a select() per chunk (bounded, so the
        deadline and signals are still looked at every BURST reads).
        """
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            return "idle"
        for _ in range(BURST):
            chunk = _read(fd)
            if chunk is None:
                return "data"
            if not chunk:
                return "eof"
            self.sink.feed(chunk)
        return "data"


def _widen_pipe(fd: int) -> None:
    """Ask for a 1 MiB pipe so a chatty child is read in large chunks (Linux only)."""
    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)


def _read(fd: int) -> bytes | None:
    try:
        return os.read(fd, READ_SIZE)
    except BlockingIOError:
        return None


def _drain(fd: int, sink: LogSink) -> None:
    while True:
        try:
            chunk = os.read(fd, READ_SIZE)
        except (BlockingIOError, OSError):
            return
        if not chunk:
            return
        sink.feed(chunk)


def _signal_tree(pgid: int, sig: int) -> None:
    """Signal the child's process group and every descendant we can see."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
    for proc in descendants():
        with contextlib.suppress(psutil.Error):
            proc.send_signal(sig)
