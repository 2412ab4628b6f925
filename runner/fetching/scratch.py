"""Where a fetch writes: `<TMPDIR>/vr-tests-<run name>`, the same path in every shard's pod.

Playwright's merge-reports refuses blob reports recorded with different test directories
(docs/platform-facts.md, "Playwright Test"), so a random temporary directory per pod would make
every sharded run unmergeable. In a pod, /tmp is the pod's own emptyDir and the path is free. On
one machine (a laptop, the tests, pods whose /tmp is shared) another process of the same run
may hold it: a flock on `<path>.lock` says so, and this one waits until that process's attempt
has ended and given the directory back (before its wrap-up and merge, so a shard that merges
never waits on one that waits for the directory), bounded by the run deadline and a stop
request, with a line every WAIT_SAY_EVERY seconds. The lock file goes with the directory; a
taker checks that the file it locked is still the one at the path (the usual guard against a
lock file unlinked between open and flock).

A run gives the directory back by renaming it aside (`set_aside`), and deletes it only after
its verdict is out: an installed Backstage app is 2 GiB in 250,000 files, and unlinking them
took 106 to 271 s on a loaded machine, which once came between the tests and the verdict line
(and past a pod's 60 s grace after SIGTERM). A directory set aside is flocked by the process
that will delete it; one that nobody holds was left by a run that was stopped or killed while
deleting, and the next run under the same TMPDIR deletes it (`orphans`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from runner.files.walk import remove_tree
from runner.processes.bounds import Deadline, StopRequest

WAITING = "waiting for the tests' directory"
PREFIX = "vr-tests-"
ASIDE = ".removing-"  # a checkout set aside, to be deleted after the verdict
WAIT_POLL = 0.5
WAIT_SAY_EVERY = 5.0


class Scratch:
    """A directory for one fetch, and the lock that keeps it ours until `remove`."""

    def __init__(self, path: Path, lock: Path | None = None, lock_fd: int | None = None) -> None:
        self.path, self._lock, self._lock_fd = path, lock, lock_fd

    @classmethod
    def claim(
        cls,
        root: Path,
        run_name: str,
        *,
        say: Callable[[str], None],
        deadline: Deadline,
        stop: StopRequest,
    ) -> Scratch:
        """The run's fixed directory under `root`, emptied, once no other process holds it.
        OSError (no such TMPDIR, no space, read-only) is the caller's to report."""
        name = PREFIX + (re.sub(r"[^0-9A-Za-z._-]", "-", run_name)[:80] or "run")
        fixed, lock = root / name, root / f"{name}.lock"
        fd, waited, next_say = _lock(lock), 0.0, 0.0
        while fd is None:
            stop.check(WAITING)
            deadline.check(WAITING)
            if waited >= next_say:
                say(
                    f"{WAITING}: {fixed} is in use by another process of this run on this "
                    f"machine (a shard whose /tmp is shared); waiting for it ({waited:.0f}s)"
                )
                next_say = waited + WAIT_SAY_EVERY
            time.sleep(WAIT_POLL)
            waited += WAIT_POLL
            fd = _lock(lock)
        remove_tree(fixed)  # left by a run that was killed
        try:
            fixed.mkdir(mode=0o700)
        except OSError:
            cls(fixed, lock, fd).remove()
            raise
        return cls(fixed, lock, fd)

    def remove(self) -> None:
        aside = self.set_aside()
        if aside is not None:
            aside.delete()

    def set_aside(self) -> SetAside | None:
        """Give the directory back at once: rename it to `<path>.removing-<hex>` (one rename in
        its own parent, however big the tree; the next taker then waits for nothing) and
        release the lock. The caller deletes what this returns when it has the time (None:
        nothing was there, or the rename failed and it was removed here)."""
        aside = self.path.with_name(f"{self.path.name}{ASIDE}{secrets.token_hex(6)}")
        try:
            os.rename(self.path, aside)
        except OSError as exc:
            if not isinstance(exc, FileNotFoundError):
                remove_tree(self.path)
            self._release()
            return None
        self._release()
        return SetAside.take(aside)

    def _release(self) -> None:
        if self._lock is not None and self._lock_fd is not None:
            with contextlib.suppress(OSError):
                self._lock.unlink()  # still locked: a taker that opened it re-checks the path
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = None


@dataclass
class SetAside:
    """A directory renamed aside, flocked (its own descriptor) until this process deletes it."""

    path: Path
    fd: int | None

    @classmethod
    def take(cls, path: Path, *, own: bool = True) -> SetAside | None:
        """`path` flocked for deletion by this process; None when another holds it or it is
        gone. This run's own directory is deleted even when it cannot be opened (a mode its
        tests left); an orphan only when it can."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return None
        except OSError:
            return cls(path, None) if own else None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        return cls(path, fd)

    def delete(self, keep_going: Callable[[], bool] | None = None) -> list[str]:
        """Delete it, until `keep_going` says no; what is left stays for the next run."""
        try:
            if keep_going is None:
                return remove_tree(self.path)
            return remove_tree(self.path, keep_going=keep_going)
        finally:
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None


def orphans(root: Path) -> Iterator[SetAside]:
    """The checkouts set aside under `root` that no process holds: left by a run that was
    stopped, or killed, while deleting its own. Each is flocked as it is yielded."""
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return
    for name in names:
        if not (name.startswith(PREFIX) and ASIDE in name):
            continue
        try:
            mine = os.lstat(root / name).st_uid == os.geteuid()  # a shared /tmp: not another's
        except OSError:
            continue
        if mine and (taken := SetAside.take(root / name, own=False)) is not None:
            yield taken


def _lock(path: Path) -> int | None:
    """An exclusive flock on `path` that is still the file at `path`; None when held."""
    for _ in range(5):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)  # unlinked by its holder meanwhile: take the new one
    return None
