"""Reading files from the volume (or that a test run wrote) without ever hanging on one.

Anyone who can write the volume, and any test, can put a FIFO, a socket or a device where
the runner expects a file (`run.json`, `ledger.jsonl`, `results.json`): opening a FIFO for
reading waits for a writer for ever, so one such name hung every cleanup and every later
attempt. Files are opened with O_NONBLOCK (a FIFO opens at once) and O_NOFOLLOW, and anything
that fstat does not call a regular file is refused with an OSError, as an unreadable file is.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
NOT_REGULAR = "not a regular file (a FIFO, socket or device: refused, never read)"


def check_regular(fd: int, name: str | Path) -> None:
    """Raise OSError unless `fd` is a regular file."""
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        raise OSError(errno.EINVAL, NOT_REGULAR, str(name))


def read_regular(name: str | Path, *, dir_fd: int | None = None, limit: int = 1 << 30) -> bytes:
    """At most `limit` bytes of the regular file `name`; OSError for anything else."""
    fd = os.open(name, READ_FLAGS, dir_fd=dir_fd)
    try:
        check_regular(fd, name)
        chunks: list[bytes] = []
        size = 0
        while size < limit:
            chunk = os.read(fd, min(1 << 20, limit - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_regular_text(name: str | Path, *, errors: str = "strict") -> str:
    return read_regular(name).decode("utf-8", errors)
