"""Disk space held back for the verdict, so a full artifact volume cannot cost the evidence.

When the tests (or a neighbour on the shared volume) fill the disk, the runner still has to
write summary.json, the final metadata, the ledger's end line and the verdict line. A file of
RESERVE_BYTES is allocated in the attempt directory when the attempt starts and deleted just
before those are written, which frees exactly that room. A runner killed before it can delete
the file leaves it behind (a dot file: not served, counted in the run's size, removed with it).
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

RESERVE_NAME = ".space-reserve"
RESERVE_BYTES = 1 << 20  # summary and metadata of a run with a thousand failed tests fit


class SpaceReserve:
    def __init__(self, path: Path | None) -> None:
        self.path = path  # None: the space could not be reserved (the volume was already full)

    @classmethod
    def take(cls, directory: Path, size: int = RESERVE_BYTES) -> SpaceReserve:
        path = directory / RESERVE_NAME
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except OSError:
            return cls(None)
        try:
            _allocate(fd, size)
        except OSError:
            os.close(fd)
            with contextlib.suppress(OSError):
                path.unlink()
            return cls(None)
        os.close(fd)
        return cls(path)

    def release(self) -> None:
        """Give the space back (safe to call twice)."""
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            self.path = None


def _allocate(fd: int, size: int) -> None:
    """Blocks that are really allocated: a sparse file would reserve nothing."""
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):  # no fallocate (NFSv3, some FUSE)
            raise
        block = b"\0" * 65536
        for _ in range(size // len(block)):
            os.write(fd, block)
    os.fsync(fd)
