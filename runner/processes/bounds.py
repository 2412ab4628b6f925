"""Deadline and stop request: the two things that end an attempt early.

The deadline is monotonic, so a wall clock that jumps (NTP, a suspended laptop) neither
shortens nor stretches a run. The stop request is set by the SIGTERM/SIGINT handlers, which
only record the signal; the code that owns a child decides how to stop it.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from runner.contract.errors import DeadlineExceeded, Interrupted
from runner.contract.exitcodes import ExitCode


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = time.monotonic()
        self._end = self.started + seconds
        self.why = f"{seconds:.0f}s"  # what set it, for the sentence when it runs out

    def bound(self, seconds: float, why: str) -> bool:
        """End no later than `seconds` from now (the Job's own deadline, runner/kube.py);
        False when the deadline already ends sooner."""
        end = time.monotonic() + max(0.0, seconds)
        if end >= self._end:
            return False
        self._end, self.why = end, why
        return True

    def remaining(self) -> float:
        return max(0.0, self._end - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self._end

    def check(self, phase: str) -> None:
        if self.expired():
            raise DeadlineExceeded(f"the run deadline ({self.why}) ran out during {phase}")


class StopRequest:
    def __init__(self) -> None:
        self.signal: int = 0
        self.at: float | None = None  # time.monotonic() of the first signal

    @property
    def requested(self) -> bool:
        return self.signal != 0

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.INTERRUPTED if self.signal == signal.SIGINT else ExitCode.TERMINATED

    def check(self, phase: str) -> None:
        if self.requested:
            name = signal.Signals(self.signal).name
            raise Interrupted(f"{name} received during {phase}", self.exit_code)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if not self.signal:
            self.signal = signum
            self.at = time.monotonic()

    @contextmanager
    def installed(self) -> Iterator[StopRequest]:
        """Route SIGTERM and SIGINT to this request while the block runs."""
        previous = {
            sig: signal.signal(sig, self._handle) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
