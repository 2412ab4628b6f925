"""Retiring one run and finishing tombstones: the destructive half of a cleanup.

* A run is retired under its two locks, in the order every attempt takes them: the ledger
  lock (waited for briefly), then the active lock without waiting. A held active lock means
  an attempt is running: the run is skipped. Holding both, the directory is checked to be
  the one planned (same inode, same ledger) and renamed into `.tombstones/`, where it no
  longer looks like a run and the artifact server does not serve it (dot-directory).
* Then the `_jobs` index links into the tombstone are removed (hard links: same inode as an
  attempt's verification.log), and only then the tombstone is deleted. A deletion that fails
  half-way leaves a tombstone, never a half-run; the next cleanup retries it.
* Everything is reached through directory descriptors opened with O_NOFOLLOW: a symlink is
  never followed out of the root.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from runner.files.walk import remove_tree
from runner.volume.artifacts import (
    ACTIVE_LOCK,
    ATTEMPT_PREFIX,
    JOBS_INDEX,
    LEDGER,
    LEDGER_LOCK,
    LOG,
    MERGE_LOCK,
    MERGED_DIR,
    SHARD_DIR,
    TOMBSTONES,
)
from runner.volume.locks import flock_within, open_lock
from runner.volume.retention import RunInfo, human_size

LEDGER_LOCK_WAIT = 5.0  # the ledger lock is held for milliseconds by anyone who takes it
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class Busy(Exception):
    """The run's locks could not be taken now: it is running, or being handled by another."""


@dataclass(frozen=True)
class Found:
    info: RunInfo
    dev_ino: tuple[int, int]  # the directory that was planned
    ledger: tuple[int, int] | None  # (mtime_ns, size) of ledger.jsonl when planned


@dataclass(frozen=True)
class Outcome:
    name: str
    removed: bool
    note: str


def stamp(dir_fd: int, name: str) -> tuple[int, int] | None:
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size)


# -- the run's locks --------------------------------------------------------------------------
@contextlib.contextmanager
def run_locks(dir_fd: int, *, create: bool = True) -> Iterator[None]:
    """Hold the run's ledger lock, then its active lock; `Busy` when either is held.

    The same kernel flocks that attempts.py takes through filelock, in the same order. An
    attempt that finds the active lock held waits for the ledger lock and looks again, so a
    cleanup holding both for a moment is never mistaken for a duplicate execution. With
    `create=False` (a look, not a removal) a lock file nobody made counts as free.
    """
    fds: list[int] = []
    try:
        for name, wait, busy in (
            (LEDGER_LOCK, LEDGER_LOCK_WAIT, "its ledger lock stayed held"),
            (ACTIVE_LOCK, 0.0, "an attempt is running (active lock held)"),
        ):
            try:
                fds.append(open_lock(name, dir_fd=dir_fd, create=create))
            except FileNotFoundError:
                if create:
                    raise
                continue
            if not flock_within(fds[-1], wait):
                raise Busy(busy)
        # A sharded run is live while any shard's attempt runs or a shard merges after its
        # end line (runner/sharding.py); those lock files exist only in sharded runs.
        for opened, busy in _sharded_locks(dir_fd):
            fds.append(opened)
            if not flock_within(opened, 0.0):
                raise Busy(busy)
        yield
    finally:
        for fd in fds:
            os.close(fd)  # closing the descriptor drops its flock


def _sharded_locks(dir_fd: int) -> Iterator[tuple[int, str]]:
    """Open descriptors of the merge lock and every shard's active lock that exist."""
    with contextlib.suppress(FileNotFoundError):
        yield open_lock(MERGE_LOCK, dir_fd=dir_fd, create=False), "a shard is merging the results"
    with os.scandir(dir_fd) as entries:
        shards = [e.name for e in entries if SHARD_DIR.fullmatch(e.name)]
    for shard in sorted(shards):
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            shard_fd = os.open(shard, DIR_FLAGS, dir_fd=dir_fd)  # never a symlink (ELOOP)
            try:
                lock = open_lock(ACTIVE_LOCK, dir_fd=shard_fd, create=False)
            finally:
                os.close(shard_fd)
            yield lock, f"an attempt of {shard} is running (its active lock is held)"


def is_locked(dir_fd: int) -> bool:
    """A look at the locks for the plan (the removal looks again); creates no lock file."""
    try:
        with run_locks(dir_fd, create=False):
            return False
    except Busy:
        return True


# -- retiring a run ---------------------------------------------------------------------------
def retire(root_fd: int, run: Found, failures: list[str]) -> Outcome:
    name = run.info.name
    gone = Outcome(name, False, "already gone (another cleanup removed it)")
    try:
        fd = os.open(name, DIR_FLAGS, dir_fd=root_fd)
        try:
            skipped = _rename_to_tombstone(root_fd, fd, run)
        finally:
            os.close(fd)
    except Busy as busy:
        return Outcome(name, False, f"skipped: {busy}")
    except FileNotFoundError:
        return gone
    except OSError as exc:
        failures.append(f"{name}: cannot retire: {exc.strerror or exc}; retried next cleanup")
        return Outcome(name, False, "failed")
    if skipped:
        return Outcome(name, False, f"skipped: {skipped}")
    return Outcome(name, True, f"removed ({human_size(run.info.size)})")


def _rename_to_tombstone(root_fd: int, fd: int, run: Found) -> str | None:
    """Under the run's locks, move the planned directory aside; else say why it stays."""
    name = run.info.name
    with run_locks(fd):
        now_st = os.lstat(name, dir_fd=root_fd)
        if (now_st.st_dev, now_st.st_ino) != run.dev_ino:
            return "replaced by a new run directory meanwhile"
        if stamp(fd, LEDGER) != run.ledger:
            return "an attempt started or ended meanwhile"
        tombs = _tombstones_fd(root_fd)
        try:
            tomb = f"{name}.{os.getpid()}.{secrets.token_hex(4)}"
            os.rename(name, tomb, src_dir_fd=root_fd, dst_dir_fd=tombs)
        finally:
            os.close(tombs)
    return None


def _tombstones_fd(root_fd: int) -> int:
    with contextlib.suppress(FileExistsError):
        os.mkdir(TOMBSTONES, 0o755, dir_fd=root_fd)
    return os.open(TOMBSTONES, DIR_FLAGS, dir_fd=root_fd)  # a symlink here fails: ELOOP


def clear_tombstones(
    root_fd: int, root: Path, failures: list[str], *, should_stop: Callable[[], bool] = bool
) -> int:
    """Unlink the index links into every tombstone, then delete it: ours, and any that an
    earlier cleanup left behind (it failed half-way or was killed). Returns links removed.
    `should_stop` is asked before each deletion; what it leaves, the next cleanup deletes."""
    try:
        tombs: int | None = os.open(TOMBSTONES, DIR_FLAGS, dir_fd=root_fd)
    except FileNotFoundError:
        tombs = None
    except OSError as exc:
        failures.append(f"{TOMBSTONES}: cannot open: {exc.strerror or exc}")
        return 0
    names: list[str] = []
    try:
        if tombs is not None:
            with os.scandir(tombs) as entries:
                names = [e.name for e in entries if e.is_dir(follow_symlinks=False)]
        doomed: set[tuple[int, int]] = set()
        for name in names:
            doomed |= _attempt_logs(tombs, name) if tombs is not None else set()
        removed = unlink_index_links(root_fd, doomed)
        for name in names:
            if should_stop():
                break
            try:
                _delete_tree(root / TOMBSTONES / name, failures)
            except Exception as exc:  # one tombstone must never stop the rest, nor retention
                failures.append(f"{name}: skipped, cannot delete it: {exc!r}")
    finally:
        if tombs is not None:
            os.close(tombs)
    return removed


def _delete_tree(path: Path, failures: list[str]) -> None:
    # Through directory descriptors, never following a link, and without recursion: rmtree
    # raised RecursionError on a 1,500-level tree, and every later cleanup crashed on the
    # tombstone it left (runner/files/walk.py). What cannot be deleted is reported; the other
    # tombstones are deleted all the same.
    errors = remove_tree(path)
    if errors:
        failures.append(
            f"{path.name}: {len(errors)} entries not deleted (first: {errors[0]}); "
            "the tombstone is retried by the next cleanup"
        )


# -- the _jobs index --------------------------------------------------------------------------
def unlink_index_links(root_fd: int, doomed: set[tuple[int, int]]) -> int:
    """Remove every `_jobs/<ns>/<job>.log` that is a hard link to a `doomed` log (one in a
    tombstone), and every one whose log is gone already (link count 1: its run was deleted by
    other means), so nothing in the index points at a run that is not there. Returns how
    many were removed."""
    removed = 0
    for (ns_dir, link), (dev_ino, nlink) in _index_links(root_fd).items():
        if dev_ino in doomed or nlink == 1:
            removed += _unlink_if_same(root_fd, ns_dir, link, dev_ino)
    return removed


def _index_links(root_fd: int) -> dict[tuple[str, str], tuple[tuple[int, int], int]]:
    links: dict[tuple[str, str], tuple[tuple[int, int], int]] = {}
    try:
        jobs = os.open(JOBS_INDEX, DIR_FLAGS, dir_fd=root_fd)
    except OSError:
        return links
    try:
        with os.scandir(jobs) as namespaces:
            dirs = [n.name for n in namespaces if n.is_dir(follow_symlinks=False)]
        for ns in dirs:
            with contextlib.suppress(OSError):
                ns_fd = os.open(ns, DIR_FLAGS, dir_fd=jobs)
                try:
                    with os.scandir(ns_fd) as entries:
                        for e in entries:
                            if e.name.endswith(".log") and not e.name.startswith("."):
                                st = e.stat(follow_symlinks=False)
                                if stat.S_ISREG(st.st_mode):
                                    key = (f"{JOBS_INDEX}/{ns}", e.name)
                                    links[key] = ((st.st_dev, st.st_ino), st.st_nlink)
                finally:
                    os.close(ns_fd)
    finally:
        os.close(jobs)
    return links


def _attempt_logs(tombs_fd: int, tomb: str) -> set[tuple[int, int]]:
    found: set[tuple[int, int]] = set()
    with contextlib.suppress(OSError):
        fd = os.open(tomb, DIR_FLAGS, dir_fd=tombs_fd)
        try:
            with os.scandir(fd) as entries:
                names = [e.name for e in entries if e.is_dir(follow_symlinks=False)]
            logs = [f"{n}/{LOG}" for n in names if n.startswith(ATTEMPT_PREFIX)]
            if MERGED_DIR in names:  # a sharded run: the Job's name points at the merged log
                logs.append(f"{MERGED_DIR}/{LOG}")
            for shard in (n for n in names if SHARD_DIR.fullmatch(n)):
                logs += [f"{shard}/{a}/{LOG}" for a in _attempts_of(fd, shard)]
            for log in logs:
                with contextlib.suppress(OSError):
                    st = os.stat(log, dir_fd=fd, follow_symlinks=False)
                    found.add((st.st_dev, st.st_ino))
        finally:
            os.close(fd)
    return found


def _attempts_of(run_fd: int, shard: str) -> list[str]:
    """The attempt directories of one shard of a sharded run (symlinks never followed)."""
    try:
        shard_fd = os.open(shard, DIR_FLAGS, dir_fd=run_fd)
    except OSError:
        return []
    try:
        with os.scandir(shard_fd) as entries:
            return [e.name for e in entries if e.name.startswith(ATTEMPT_PREFIX)]
    finally:
        os.close(shard_fd)


def _unlink_if_same(root_fd: int, ns_dir: str, link: str, dev_ino: tuple[int, int]) -> int:
    """Unlink `link` only if it is still that inode: a running attempt may have just pointed
    the same job name at its own log (publish_job_log replaces the link atomically). Moved
    aside first, so the check and the removal see the same file; a newer link is put back."""
    try:
        ns_fd = os.open(ns_dir, DIR_FLAGS, dir_fd=root_fd)
    except OSError:
        return 0
    aside = f".{link}.{os.getpid()}.{secrets.token_hex(4)}.rm"
    try:
        os.rename(link, aside, src_dir_fd=ns_fd, dst_dir_fd=ns_fd)
        st = os.stat(aside, dir_fd=ns_fd, follow_symlinks=False)
        if (st.st_dev, st.st_ino) != dev_ino:
            with contextlib.suppress(FileExistsError):  # an even newer link won: keep that
                os.link(aside, link, src_dir_fd=ns_fd, dst_dir_fd=ns_fd)
        os.unlink(aside, dir_fd=ns_fd)
        return int((st.st_dev, st.st_ino) == dev_ino)
    except OSError:
        return 0  # gone already (another cleanup) or replaced: nothing of ours to remove
    finally:
        os.close(ns_fd)
