"""The one subprocess wrapper of the runner. `run_streaming` is for what may run long or start
a tree (Playwright, for `run` and `list`; git's fetches and checkouts; npm, yarn, pnpm): start
a child, stream its merged output into the tee, enforce the deadline, forward SIGTERM/SIGINT,
sample its resources, and leave no process behind. `run_bounded` is for a short command that
starts nothing of its own (`node --version`, the body_regex matcher, git's init, config and
rev-parse in a fetch): its output captured, killed at its timeout, without the reaper's
start-up. Only `lint`, which runs outside any run, starts its two renders itself
(`rendering._run_both`, in parallel, time-bounded); tests/test_layers.py holds everything else
to this module.

* The runner makes itself a child subreaper (Linux prctl), so a grandchild that loses its
  parent or starts its own session is still ours to find and kill.
* The child runs under a small reaper (reaper.py) that the kernel tells when the runner dies,
  so the tree dies with the runner even when nothing of the runner can run (SIGKILL, OOM).
* Stopping sends SIGINT to the whole tree, whatever asked us to stop: Playwright 1.65 writes
  its reports and stops its webServer on SIGINT (the Ctrl-C path), but exits at once on SIGTERM
  with no JUnit or JSON and leaves the webServer running (checked here with 1.65.1). The output
  is drained during the grace period, then whatever is left gets SIGKILL.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from runner.contract.errors import InfrastructureError
from runner.log.tee import LogSink
from runner.processes.bounds import Deadline, StopRequest

_PR_SET_CHILD_SUBREAPER = 36
SAMPLE_EVERY = 1.0
REAPER = Path(__file__).with_name("reaper.py")
READ_SIZE = 1 << 16  # 64 KiB: larger reads allocate through mmap and cost more than they save


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux >= 3.4); False where that is not possible."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


class Captured:
    """An `observe` callback for run_streaming that keeps the first `limit` bytes of output,
    for a caller that must read what the child said (git's or npm's error lines)."""

    def __init__(self, limit: int = 256 * 1024) -> None:
        self.limit = limit
        self.data = bytearray()

    def __call__(self, chunk: bytes) -> None:
        room = self.limit - len(self.data)
        if room > 0:
            self.data.extend(chunk[:room])

    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


@dataclass(frozen=True)
class ProcessOutcome:
    returncode: int  # negative: killed by that signal (subprocess convention)
    stopped_for: str | None  # "deadline" or "signal" when we stopped it, else None
    peak_rss_bytes: int
    cpu_seconds: float
    samples: int


class _Usage:
    """Peak RSS of the tree (sum over live processes) and CPU time (sum over all ever seen)."""

    def __init__(self) -> None:
        self.peak_rss = 0
        self.samples = 0
        self._cpu: dict[tuple[int, float], float] = {}

    def sample(self, root: psutil.Process) -> None:
        rss = 0
        for proc in _tree(root)[1:]:  # the root is the reaper: not the tests' cost
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
    if not procs:  # the usual end: nothing is left that could start another
        return
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(sig)
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for proc in alive + descendants():
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(descendants(), timeout=5)


def run_bounded(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    timeout: float,
    stdin: bytes = b"",
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[bytes] | None:
    """Run a short command that starts nothing of its own to its end, `stdin` in and its
    output captured; None when it is killed at `timeout`. OSError when it cannot start."""
    try:
        return subprocess.run(
            list(argv),
            cwd=cwd,
            input=stdin,
            capture_output=True,
            timeout=timeout,
            env=dict(env),
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None


@dataclass(frozen=True)
class Supervision:
    """What a child runs under, handed on as one value by every caller: where its output goes,
    when it must end, what stops it, and how long it has to go once told to."""

    sink: LogSink
    deadline: Deadline
    stop: StopRequest
    grace: float  # KILL_GRACE_SECONDS: SIGINT, then SIGKILL this much later


def run_streaming(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    under: Supervision,
    observe: Callable[[bytes], None] | None = None,
) -> ProcessOutcome:
    """Run `argv` to the end, or until the deadline or a stop request; stream its output.

    `observe`, when given, also sees every chunk of output (a caller that must read what the
    child said, as runner/fetching does with git's errors: see `Captured`)."""
    under.sink.say(f"$ {shlex.join(argv)}")
    program = shutil.which(argv[0], path=env.get("PATH", os.defpath))
    if program is None:
        raise InfrastructureError(
            f"cannot start {argv[0]!r}: it is not installed or not on PATH. Install Node.js "
            "and npm (Debian: apt-get install nodejs npm) and run `npm ci`, or use the "
            "runner's container image."
        )
    # Under the reaper (runner/processes/reaper.py), so the tree dies with the runner even when the
    # runner is SIGKILLed; started from this (the main) thread, whose end is what the
    # kernel's parent-death signal watches.
    reaped = [sys.executable, "-I", "-S", str(REAPER), str(os.getpid()), "--", program, *argv[1:]]
    try:
        child = subprocess.Popen(
            reaped,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        raise InfrastructureError(f"cannot start {shlex.join(argv)}: {exc}") from exc
    supervisor = _Supervisor(child, under)
    supervisor.observe = observe
    return supervisor.run()


class _Supervisor:
    LINGER = 2.0  # how long descendants may keep the pipe open after the child has exited

    def __init__(self, child: subprocess.Popen[bytes], under: Supervision) -> None:
        self.observe: Callable[[bytes], None] | None = None
        if child.stdout is None:
            raise InfrastructureError("the child process has no output pipe")
        self.child, self.pipe = child, child.stdout
        self.sink, self.deadline, self.stop = under.sink, under.deadline, under.stop
        self.grace = under.grace
        self.root = psutil.Process(child.pid)
        self.usage = _Usage()
        self.stopped_for: str | None = None
        self.kill_at: float | None = None
        self.linger_until: float | None = None
        self._pause = threading.Event()  # never set: a sleep that the wall clock cannot break

    def run(self) -> ProcessOutcome:
        # A thread does blocking reads into the tee; this thread supervises. A select() per
        # chunk cost 40 % of the tee's throughput (bench/tee.py), and the reader never needs
        # a timeout: every writer of the pipe is in the tree we can kill.
        reader = threading.Thread(target=self._tee, args=(self.pipe.fileno(),), daemon=True)
        reader.start()
        next_sample = 0.0
        try:
            while reader.is_alive() or self.child.poll() is None:
                now = time.monotonic()
                if now >= next_sample:
                    self.usage.sample(self.root)
                    next_sample = now + SAMPLE_EVERY
                self._enforce(now)
                if self.child.poll() is not None:
                    self.linger_until = self.linger_until or now + self.LINGER
                    if now >= self.linger_until:
                        break  # a descendant still holds the pipe: stop it below
                if reader.is_alive():
                    reader.join(timeout=0.2)
                else:  # the output has ended and the child is exiting: pause, do not spin.
                    # Not Popen.wait(timeout): its time.sleep fails (EINVAL) once the wall
                    # clock jumps back under libfaketime (the fault matrix); a lock's timed
                    # wait, as join's, does not.
                    self._pause.wait(0.01)
        finally:
            self.child.wait()
            kill_descendants(grace=min(self.grace, self.LINGER))
            reader.join(timeout=5)  # every writer is gone now: end of file comes at once
            if reader.is_alive():
                self.sink.say(
                    "the output pipe is still held open by a process outside the "
                    "test tree; not waiting for the rest of its output"
                )
            else:
                self.pipe.close()
            self.sink.flush()
        return ProcessOutcome(
            returncode=self.child.returncode,
            stopped_for=self.stopped_for,
            peak_rss_bytes=self.usage.peak_rss,
            cpu_seconds=self.usage.cpu_seconds,
            samples=self.usage.samples,
        )

    def _tee(self, fd: int) -> None:
        """The reader thread: everything the pipe yields goes to the tee, until end of file."""
        while True:
            try:
                chunk = os.read(fd, READ_SIZE)
            except InterruptedError:
                continue
            except OSError:
                return
            if not chunk:
                return
            self.sink.feed(chunk)
            if self.observe is not None:
                self.observe(chunk)

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


def _signal_tree(pgid: int, sig: int) -> None:
    """Signal the child's process group and every descendant we can see."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
    for proc in descendants():
        with contextlib.suppress(psutil.Error):
            proc.send_signal(sig)
