"""Running git for a fetch: through runner/processes/child.py (deadline, SIGTERM, the tee), its
output kept to explain a failure in one line, and a progress line while it works.

A command that talks to the server or checks files out (ls-remote, fetch, checkout: a partial
clone's checkout fetches blobs, so it starts git processes of its own) runs under the reaper
(`run_streaming`); one that only reads or writes the local repository and starts nothing (init,
config, rev-parse) runs bounded (`run_bounded`), without the reaper's tens of milliseconds of
Python start-up, which were most of a small fetch's time (bench/install.py).
"""

from __future__ import annotations

import contextlib
import shlex
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runner.contract.errors import InfrastructureError
from runner.fetching.failures import explain
from runner.processes.child import Captured, Supervision, run_bounded, run_streaming

PROGRESS_EVERY = 4.0  # seconds; the issue promises a line at least every 5
PHASE = "fetching the tests"
LOCAL_TIMEOUT = 60.0  # seconds for a local command (init, config, rev-parse): milliseconds


class FetchFailed(InfrastructureError):
    """The tests could not be fetched (exit 3); the message names the repository, never a
    credential, and says what to do."""


@dataclass
class GitCommand:
    env: dict[str, str]
    under: Supervision
    repo: str
    revision: str

    def __call__(self, cwd: Path, *args: str, what: str) -> str:
        captured = Captured()
        outcome = run_streaming(
            ["git", *args],
            env=self.env,
            cwd=cwd,
            under=self.under,
            observe=captured,
        )
        self.under.stop.check(PHASE)
        self.under.deadline.check(PHASE)
        return self._checked(outcome.returncode, captured.text(), what)

    def local(self, cwd: Path, *args: str, what: str, check: bool = True) -> str:
        """A command that starts no process of its own and touches no server. No transport is
        allowed: a partial clone would fetch an object it lacks (a lazy fetch, a process of its
        own), and here that fails at once instead. `check=False`: the output, whatever the
        exit status (`rev-parse --verify --quiet` says "no" by printing nothing)."""
        argv = ["git", *args]
        sink = self.under.sink
        sink.say(f"$ {shlex.join(argv)}")
        timeout = min(LOCAL_TIMEOUT, self.under.deadline.remaining())
        env = {**self.env, "GIT_ALLOW_PROTOCOL": "none"}  # a name that is no transport
        try:
            done = run_bounded(argv, env=env, timeout=timeout, cwd=cwd)
        except OSError as exc:
            raise FetchFailed(f"cannot start {what}: {exc.strerror or exc}") from exc
        self.under.stop.check(PHASE)
        self.under.deadline.check(PHASE)
        if done is None:
            raise FetchFailed(f"{what} did not finish within {timeout:.0f}s in {cwd}")
        data = done.stdout + done.stderr
        sink.feed(data)
        sink.flush()
        output = data.decode("utf-8", "replace")
        return self._checked(done.returncode, output, what) if check else output

    def _checked(self, returncode: int, output: str, what: str) -> str:
        if returncode != 0:
            raise FetchFailed(explain(output, repo=self.repo, revision=self.revision, what=what))
        return output


class Progress:
    """A line every PROGRESS_EVERY seconds: bytes received so far (pack files being written)."""

    def __init__(self, say: Callable[[str], None], label: str, repos: list[Path]) -> None:
        self.say, self.label, self.repos = say, label, repos
        self.started = time.monotonic()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def received(self) -> int:
        total = 0
        for repo in self.repos:
            for folder in (repo / "objects" / "pack", repo / ".git" / "objects" / "pack"):
                with contextlib.suppress(OSError):
                    for entry in folder.iterdir():
                        if entry.name.endswith(".pack") or entry.name.startswith("tmp_pack_"):
                            with contextlib.suppress(OSError):
                                total += entry.stat().st_size
        return total

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _loop(self) -> None:
        while not self._done.wait(PROGRESS_EVERY):
            self.say(
                f"fetching {self.label}: {human_bytes(self.received())} received, "
                f"{self.elapsed():.0f}s"
            )

    def __enter__(self) -> Progress:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join(timeout=5)


def human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"
