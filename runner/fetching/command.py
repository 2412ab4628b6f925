"""Running git for a fetch: through runner/processes/child.py (deadline, SIGTERM, the tee), its
output kept to explain a failure in one line, and a progress line while it works.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runner.contract.errors import InfrastructureError
from runner.fetching.failures import explain
from runner.processes.child import Captured, Supervision, run_streaming

PROGRESS_EVERY = 4.0  # seconds; the issue promises a line at least every 5
PHASE = "fetching the tests"


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
        output = captured.text()
        if outcome.returncode != 0:
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
