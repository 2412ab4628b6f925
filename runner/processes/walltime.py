"""Bound a blocking call by wall time, whatever the other side does.

A socket timeout bounds each read, not the request: a server that trickles its answer one
byte at a time, just inside the timeout, holds `http.client` and `urllib` for ever, and name
resolution has no timeout at all. So the call runs in a daemon thread and the caller waits
for it on the monotonic clock, in short slices so that a stop request (SIGTERM) is seen too.
When the time is up, `abandon` is called to end the work (it shuts the socket down) and the
caller goes on without it; a thread stuck where nothing can reach it (a resolver) ends with
the process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
POLL_SECONDS = 0.1  # the longest the caller goes without looking at `cancelled`


class TimedOut(Exception):
    """The work did not finish within its time, or the caller was asked to stop."""

    def __init__(self, *, cancelled: bool) -> None:
        super().__init__("cancelled" if cancelled else "timed out")
        self.cancelled = cancelled


class _Outcome(Generic[T]):
    def __init__(self) -> None:
        self.value: T | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()


def within(
    work: Callable[[], T],
    *,
    seconds: float,
    cancelled: Callable[[], bool] = lambda: False,
    abandon: Callable[[], None] = lambda: None,
    name: str = "bounded-call",
) -> T:
    """`work()`'s result (or its exception) if it ends within `seconds`; else TimedOut."""
    outcome: _Outcome[T] = _Outcome()

    def run() -> None:
        try:
            outcome.value = work()
        except BaseException as exc:  # handed to the caller as it is
            outcome.error = exc
        finally:
            outcome.done.set()

    threading.Thread(target=run, name=name, daemon=True).start()
    end = time.monotonic() + seconds
    while not outcome.done.is_set():
        left = end - time.monotonic()
        stop = cancelled()
        if left <= 0 or stop:
            abandon()
            raise TimedOut(cancelled=stop)
        outcome.done.wait(min(left, POLL_SECONDS))
    if outcome.error is not None:
        raise outcome.error
    return outcome.value  # type: ignore[return-value]  # set when work() returned
