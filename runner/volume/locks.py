"""Taking and testing the volume's flocks, in one place.

Every lock on the volume is a kernel flock on a lock file (names in artifacts.py). The kernel
drops an flock when the descriptor is closed or its process dies, however it dies, so a lock
never outlives its holder. Two ways in, the same locks underneath:

* `FileLock` (filelock) where a path is enough: `hold` for the ledger lock, and the active
  and merge locks in attempts.py and sharding.py.
* Descriptors where a path is not safe: the cleanup reaches runs through directory
  descriptors opened with O_NOFOLLOW (tombstones.py) and tests and takes their locks there.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from pathlib import Path

from filelock import FileLock

POLL = 0.01  # seconds between tries while waiting for a lock held by someone else


def hold(path: Path) -> FileLock:
    """A blocking lock on `path`, for `with hold(run.ledger_lock): ...`."""
    return FileLock(str(path))


def open_lock(name: str | Path, *, dir_fd: int | None = None, create: bool) -> int:
    """A descriptor of the lock file, never through a symlink; FileNotFoundError when it does
    not exist and `create` is False (a look must not make lock files)."""
    flags = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_CREAT if create else 0)
    return os.open(name, flags, 0o644, dir_fd=dir_fd)


def try_flock(fd: int) -> bool:
    """Take the flock on `fd` if it is free; False when another descriptor holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def flock_within(fd: int, seconds: float) -> bool:
    """Take the flock on `fd`, waiting up to `seconds`; False when it stayed held."""
    deadline = time.monotonic() + seconds
    while not try_flock(fd):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL)
    return True


def is_held(path: Path) -> bool:
    """Whether someone holds the lock at `path` now: a look that never waits and creates
    nothing (a lock file nobody made is free)."""
    try:
        fd = open_lock(path, create=False)
    except FileNotFoundError:
        return False
    try:
        return not try_flock(fd)
    finally:
        os.close(fd)  # closing drops the flock if we got it
