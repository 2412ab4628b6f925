"""The tee: every byte the runner and its children print goes to the pod log and to
`attempt-N/verification.log`, line by line, flushed as it goes.

Bytes are written as they came (invalid UTF-8, NUL and ANSI escapes included) so nothing is
lost or altered; only known secret values are masked. Lines are cut at newlines so that the
runner's own messages never land inside a child's line and a secret never straddles a write;
a line longer than `MAX_PENDING` is written in pieces rather than held in memory, each cut
keeping back enough bytes that a secret lying across it is still masked.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from pathlib import Path
from types import TracebackType

from runner.log.masking import Redactor
from runner.log.podlog import Console

PREFIX = b"[verification-runner] "
MAX_PENDING = 1 << 20  # hold at most 1 MiB of an unfinished line
# Written into the file where writes failed (ENOSPC, EIO), once it can be written again: the
# log says where it has a hole instead of gluing a torn line to the next one.
GAP_NOTE = (
    b"\n" + PREFIX + b"(output lost here: the log file could not be written; the pod log has it)\n"
)


class LogSink:
    """Use it as a context manager: leaving the block flushes and closes the log file."""

    def __init__(self, *, console_fd: int | None = None, redactor: Redactor | None = None) -> None:
        self.console = Console(sys.stdout.fileno() if console_fd is None else console_fd)
        self._file_fd: int | None = None
        self._early: list[bytes] = []  # what was said before the log file existed
        self._pending = b""  # the unfinished tail of a child's output
        self._redactor = redactor or Redactor()
        self._lock = threading.Lock()
        self._file_gap = False  # a write to the file failed and GAP_NOTE is not written yet

    def __enter__(self) -> LogSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- where it goes -------------------------------------------------------------------
    def open_file(self, path: Path) -> None:
        """Start writing to `path` too; what was said before is written first."""
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        with self._lock:
            self._file_fd = fd
            early, self._early = self._early, []
            for chunk in early:
                self._write_file(fd, (chunk,))

    def close(self) -> None:
        """Flush and close the file; give the pod log a bounded time to catch up."""
        with self._lock:
            self._flush_pending()
            if self._file_fd is not None:
                with contextlib.suppress(OSError):  # nothing to do about it now: the pod log has it
                    os.fsync(self._file_fd)
                os.close(self._file_fd)
                self._file_fd = None
        self.console.drain()

    def console_report(self) -> str | None:
        """What the pod log missed because it was not being read, if anything."""
        if not self.console.dropped:
            return None
        return (
            f"{self.console.dropped} writes ({self.console.dropped_bytes} bytes) were not shown "
            "in the pod log (it was not being read); verification.log has them"
        )

    # -- what goes in --------------------------------------------------------------------
    def say(self, message: str) -> None:
        """A line of the runner's own, prefixed so it stands out from Playwright's output."""
        data = b"".join(
            PREFIX + line.encode("utf-8", "replace") + b"\n"
            for line in (message.splitlines() or [""])
        )
        with self._lock:
            self._flush_pending()  # a child's unfinished line ends before ours starts
            self._emit(self._redactor.bytes(data))

    def feed(self, chunk: bytes) -> None:
        """Bytes from a child: complete lines go out now, the unfinished tail waits.

        The common case (no secrets to mask) writes straight from the chunk through a
        memoryview: copying every chunk would cost more than the tee itself.
        """
        with self._lock:
            cut = chunk.rfind(b"\n") + 1
            if cut == 0:
                self._pending += chunk
                if len(self._pending) >= MAX_PENDING:  # a huge line: write it in pieces
                    data = self._pending
                    cut = self._redactor.safe_cut(data)  # never in the middle of a secret
                    self._pending = data[cut:]
                    self._emit(self._redactor.bytes(data[:cut]))
                return
            if self._redactor.active:
                data = self._pending + chunk[:cut]
                self._pending = chunk[cut:]
                self._emit(self._redactor.bytes(data))
                return
            head, self._pending = self._pending, chunk[cut:]
            self._emit(head, memoryview(chunk)[:cut])  # one writev per descriptor

    def flush(self) -> None:
        with self._lock:
            self._flush_pending()

    def redact(self, text: str) -> str:
        """`text` with the secrets this sink masks masked: for the files written beside it."""
        return self._redactor.text(text)

    @property
    def redactor(self) -> Redactor:
        """What this sink masks: every file written beside the log masks the same values."""
        return self._redactor

    # -- internals (called with the lock held) -------------------------------------------
    def _flush_pending(self) -> None:
        if self._pending:
            data, self._pending = self._pending, b""
            if not data.endswith(b"\n"):
                data += b"\n"
            self._emit(self._redactor.bytes(data))

    def _emit(self, *parts: bytes | memoryview) -> None:
        if self._file_fd is None:
            self._early.append(b"".join(parts))
        else:
            if self._file_gap and self._write_file(self._file_fd, (GAP_NOTE,)):
                self._file_gap = False
            self._write_file(self._file_fd, parts)
        self.console.put(parts)  # never blocks (runner/log/podlog.py)

    def _write_file(self, fd: int, parts: tuple[bytes | memoryview, ...]) -> bool:
        """Write it all; False (never raised) when the file could not be written."""
        buffers: tuple[bytes | memoryview, ...] | None = parts  # first try: one system call
        view = memoryview(b"")
        while buffers is not None or view:
            try:
                if buffers is not None:
                    written = os.writev(fd, buffers)
                    total = 0
                    for part in buffers:
                        total += len(part)
                    if written < total:  # rare: a full disk; finish it piece by piece
                        view = memoryview(b"".join(buffers))[written:]
                    buffers = None
                    continue
                written = os.write(fd, view)
            except InterruptedError:
                continue
            except OSError:  # the console still gets every line
                self._file_gap = True
                return False
            view = view[written:]
        return True
