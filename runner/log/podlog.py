"""The pod log side of the tee: written by a thread of its own, so that a reader that stops
reading (a blocked stdout pipe: a stalled log agent, `kubectl logs` paused) never blocks the
tee, the log file, the deadline or the verdict.

The tee hands lines over without waiting; they queue up to BACKLOG bytes. Beyond that a line
is dropped and counted, and when the pod log takes data again a note says how much it missed
(verification.log has all of it). At the end the sink waits at most DRAIN_SECONDS for the
queue to empty: the verdict line reaches a pod log that is read, and a stuck one cannot hold
the runner.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections import deque

BACKLOG = 16 << 20  # bytes the pod log may fall behind before lines are dropped
DRAIN_SECONDS = 2.0  # how long the end of a run waits for a slow pod log
Parts = tuple[bytes | memoryview, ...]
IOV_MAX = 512  # buffers per writev (Linux allows 1024)


def drop_note(count: int, size: int) -> bytes:
    return (
        f"[verification-runner] ({count} writes, {size} bytes of output not shown here: the "
        "pod log was not being read; verification.log has them)\n"
    ).encode()


class Console:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.ok = True  # False once the pod log is gone (EPIPE, EBADF): nothing more is tried
        self.dropped = 0  # writes dropped because the backlog was full, in all
        self.dropped_bytes = 0
        self._unnoted = (0, 0)  # drops since the last note: (writes, bytes)
        self._queue: deque[Parts] = deque()
        self._size = 0  # queued bytes, and those being written
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._idle = False
        self._generation = 0  # a writer whose generation is not the current one ends

    def put(self, parts: Parts) -> None:
        """Queue `parts` for the pod log, or drop them when it is too far behind; never blocks."""
        size = sum(len(p) for p in parts)
        with self._cond:
            if not self.ok:
                return
            if self._size + size > BACKLOG:
                self.dropped += 1
                self.dropped_bytes += size
                self._unnoted = (self._unnoted[0] + 1, self._unnoted[1] + size)
                return
            self._note_drops()
            self._queue.append(parts)
            self._size += size
            self._wake()

    def drain(self, timeout: float = DRAIN_SECONDS) -> bool:
        """Wait up to `timeout` for everything queued to be written; True when it was."""
        end = time.monotonic() + timeout
        with self._cond:
            self._note_drops(force=True)
            self._wake()
            while self.ok and self._size and (left := end - time.monotonic()) > 0:
                self._cond.wait(left)
            if self._size:
                return False  # the writer stays, blocked on the pod log
            self._generation += 1  # nothing left: the writer ends (the next put starts one)
            self._thread = None
            self._cond.notify_all()
            return True

    # -- internals ----------------------------------------------------------------------
    def _wake(self) -> None:
        """Start the writer, or wake it when it waits for work (the lock held)."""
        if self._thread is None:
            self._generation += 1
            self._thread = threading.Thread(
                target=self._run, args=(self._generation,), name="console", daemon=True
            )
            self._thread.start()
        elif self._idle:
            self._cond.notify_all()  # the writer, and nobody else, waits while idle

    def _note_drops(self, *, force: bool = False) -> None:
        """Queue the note about dropped lines (the lock held), once there is room for it."""
        count, size = self._unnoted
        if count and (force or self._size + 200 <= BACKLOG):
            note = drop_note(count, size)
            self._queue.append((note,))
            self._size += len(note)
            self._unnoted = (0, 0)

    def _run(self, generation: int) -> None:
        # Everything queued goes out in one writev (up to IOV_MAX buffers): a hand-over per
        # chunk would cost the tee more than the write itself.
        while True:
            with self._cond:
                while not self._queue:
                    if generation != self._generation:
                        return
                    self._idle = True
                    self._cond.wait()
                    self._idle = False
                if generation != self._generation:
                    return  # a newer writer has the queue
                batch: list[bytes | memoryview] = []
                while self._queue and len(batch) < IOV_MAX:
                    batch.extend(self._queue.popleft())
            written = self._write(tuple(batch))
            with self._cond:
                self._size -= sum(len(p) for p in batch)
                if not written:
                    self.ok = False
                    self._queue.clear()
                    self._size = 0
                self._cond.notify_all()
                if not written:
                    return

    def _write(self, parts: Parts) -> bool:
        """Write it all (blocking: this thread is the one that may wait); False when the pod
        log is gone."""
        buffers: Parts | None = parts
        view = memoryview(b"")
        while buffers is not None or view:
            try:
                if buffers is not None:
                    written = os.writev(self.fd, buffers)
                    total = sum(len(p) for p in buffers)
                    if written < total:
                        view = memoryview(b"".join(buffers))[written:]
                    buffers = None
                    continue
                written = os.write(self.fd, view)
            except InterruptedError:
                continue
            except BlockingIOError:  # a non-blocking descriptor that is full: wait a little
                time.sleep(0.01)
                continue
            except OSError as exc:  # a pod log that is gone is not tried again
                return exc.errno not in (errno.EPIPE, errno.EBADF)
            view = view[written:]
        return True
