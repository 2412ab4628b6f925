"""Carry out a retention plan on the artifact volume, safely next to other cleanups and runs.

* Candidates are only directories the runner made: a safe run name (identity.SAFE_RUN_NAME)
  holding a regular run.json. Symlinks are never followed: entries are read with lstat, run
  directories are opened with O_NOFOLLOW and everything below is reached through them.
* A run is retired under its two locks, in the order every attempt takes them: the ledger
  lock (waited for briefly), then the active lock without waiting. A held active lock means
  an attempt is running: the run is skipped. Holding both, the directory is checked to be
  the one planned (same inode, same ledger) and renamed into `.tombstones/`, where it no
  longer looks like a run and the artifact server does not serve it (dot-directory).
* Then the `_jobs` index links into the tombstone are removed (hard links: same inode as an
  attempt's verification.log), and only then the tombstone is deleted. A deletion that fails
  half-way leaves a tombstone, never a half-run; the next cleanup retries it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
import shutil
import stat
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner.artifacts import ATTEMPT_PREFIX, JOBS_INDEX, RUN_MARKER
from runner.errors import InfrastructureError
from runner.identity import SAFE_RUN_NAME
from runner.retention import Plan, Policy, RunInfo, human_size, select

TOMBSTONES = ".tombstones"
ACTIVE_LOCK, LEDGER_LOCK, LEDGER = ".active.lock", ".ledger.lock", "ledger.jsonl"
LEDGER_LOCK_WAIT = 5.0  # the ledger lock is held for milliseconds by anyone who takes it
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class _Busy(Exception):
    """The run's locks could not be taken now: it is running, or being handled by another."""


@dataclass(frozen=True)
class Ignored:
    name: str
    why: str


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


@dataclass(frozen=True)
class CleanupReport:
    policy: Policy
    plan: Plan
    ignored: tuple[Ignored, ...]
    outcomes: tuple[Outcome, ...]  # one per planned removal; empty on a dry run
    failures: tuple[str, ...]  # every deletion step that failed, one sentence each
    index_links_removed: int
    dry_run: bool

    @property
    def removed(self) -> int:
        return sum(o.removed for o in self.outcomes)

    def lines(self, *, verbose: bool = True) -> list[str]:
        """What was (or would be) removed and kept, and why: one line each (kept runs and
        ignored entries only when `verbose`)."""
        verb = "would remove" if self.dry_run else "remove"
        out = [f"retention: {self.policy.describe()}"]
        for d in self.plan.decisions:
            if not (verbose or d.remove):
                continue
            what = f"{verb} ({d.reason})" if d.remove else f"keep ({d.reason})"
            out.append(f"  {what:<20} {d.run.name}  {human_size(d.run.size):>9}  {d.detail}")
        if verbose:
            out += [f"  {'ignore':<20} {i.name}  {i.why}" for i in self.ignored]
        out += [f"  {o.name}: {o.note}" for o in self.outcomes if not o.removed]
        out += [f"  FAILED: {f}" for f in self.failures]
        if self.plan.over_cap:
            out.append("  the kept runs are still over the size cap (they are protected)")
        done = f"{len(self.plan.remove)} to remove" if self.dry_run else f"{self.removed} removed"
        out.append(
            f"retention: {done}, {len(self.plan.keep)} kept, "
            f"{human_size(self.plan.kept_bytes)} kept, {len(self.failures)} failures"
        )
        return out


def cleanup(
    root: Path,
    policy: Policy,
    *,
    current: str | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> CleanupReport:
    """Plan and (unless `dry_run`) carry out retention under `root`.

    Never raises for one run's trouble (that is a failure in the report); raises
    InfrastructureError only when the root itself cannot be read.
    """
    try:
        root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        return CleanupReport(policy, select([], policy, now=_now(now)), (), (), (), 0, dry_run)
    except OSError as exc:
        raise InfrastructureError(
            f"cannot read the artifact root {root}: {exc.strerror or exc}"
        ) from exc
    try:
        found, ignored = scan(root_fd, current=current, lock_probe=True)
        plan = select([f.info for f in found], policy, now=_now(now))
        if dry_run:
            return CleanupReport(policy, plan, ignored, (), (), 0, dry_run)
        failures: list[str] = []
        by_name = {f.info.name: f for f in found}
        outcomes = tuple(_retire(root_fd, by_name[d.run.name], failures) for d in plan.remove)
        links = _clear_tombstones(root_fd, root, failures)
        return CleanupReport(policy, plan, ignored, outcomes, tuple(failures), links, dry_run)
    finally:
        os.close(root_fd)


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


# -- finding runs ---------------------------------------------------------------------------
def scan(
    root_fd: int, *, current: str | None, lock_probe: bool
) -> tuple[list[Found], tuple[Ignored, ...]]:
    """Every run directory under the root, as values; everything else is ignored with a why."""
    found: list[Found] = []
    ignored: list[Ignored] = []
    with os.scandir(root_fd) as entries:
        names = sorted(e.name for e in entries)
    for name in names:
        if name.startswith((".", "_")):
            continue  # runner state, the job index and tombstones: never runs (contract)
        if not SAFE_RUN_NAME.fullmatch(name):
            ignored.append(Ignored(name, "not a run name"))
            continue
        try:
            run = _inspect(root_fd, name, current=current, lock_probe=lock_probe)
        except FileNotFoundError:
            continue  # removed meanwhile (another cleanup): nothing to decide
        except OSError as exc:
            ignored.append(Ignored(name, f"unreadable: {exc.strerror or exc}"))
            continue
        if isinstance(run, str):
            ignored.append(Ignored(name, run))
        else:
            found.append(run)
    return found, tuple(ignored)


def _inspect(root_fd: int, name: str, *, current: str | None, lock_probe: bool) -> Found | str:
    st = os.lstat(name, dir_fd=root_fd)
    if stat.S_ISLNK(st.st_mode):
        return "a symbolic link (never followed)"
    if not stat.S_ISDIR(st.st_mode):
        return "not a directory"
    fd = os.open(name, _DIR_FLAGS, dir_fd=root_fd)
    try:
        created = _created(fd)
        if created is None:
            return f"no readable {RUN_MARKER}: not made by the runner, or still being made"
        ledger = _stamp(fd, LEDGER)
        active = created
        if ledger is not None:
            active = max(created, datetime.fromtimestamp(ledger[0] / 1e9, UTC))
        locked = lock_probe and name != current and _is_locked(fd)
        info = RunInfo(name, active, _size(fd), locked=locked, current=name == current)
        return Found(info, (st.st_dev, st.st_ino), ledger)
    finally:
        os.close(fd)


def _created(dir_fd: int) -> datetime | None:
    try:
        fd = os.open(RUN_MARKER, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data: Any = json.loads(handle.read(1 << 16))
        created = datetime.fromisoformat(data["created"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    finally:
        os.close(fd)
    return created if created.tzinfo else created.replace(tzinfo=UTC)


def _stamp(dir_fd: int, name: str) -> tuple[int, int] | None:
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _size(dir_fd: int) -> int:
    """Bytes of every entry below the directory, symlinks counted as links, never followed."""
    total = 0
    stack = [os.dup(dir_fd)]
    while stack:
        fd = stack.pop()
        try:
            with os.scandir(fd) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        with contextlib.suppress(OSError):
                            stack.append(os.open(entry.name, _DIR_FLAGS, dir_fd=fd))
                    else:
                        with contextlib.suppress(OSError):
                            total += entry.stat(follow_symlinks=False).st_size
        except OSError:
            pass  # vanished or unreadable: counted as what could be read
        finally:
            os.close(fd)
    return total


# -- the run's locks --------------------------------------------------------------------------
def _open_lock(dir_fd: int, name: str, *, create: bool) -> int:
    flags = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_CREAT if create else 0)
    return os.open(name, flags, 0o644, dir_fd=dir_fd)


@contextlib.contextmanager
def run_locks(dir_fd: int, *, create: bool = True) -> Iterator[None]:
    """Hold the run's ledger lock, then its active lock; `_Busy` when either is held.

    The same kernel flocks that attempts.py takes through filelock. An attempt that finds the
    active lock held waits for the ledger lock and looks again, so a cleanup holding both for
    a moment is never mistaken for a duplicate execution.
    """
    ledger = _open_lock(dir_fd, LEDGER_LOCK, create=create)
    try:
        deadline = time.monotonic() + LEDGER_LOCK_WAIT
        while not _try_flock(ledger):
            if time.monotonic() > deadline:
                raise _Busy("its ledger lock stayed held")
            time.sleep(0.01)
        active = _open_lock(dir_fd, ACTIVE_LOCK, create=create)
        try:
            if not _try_flock(active):
                raise _Busy("an attempt started meanwhile (active lock held)")
            yield
        finally:
            os.close(active)  # closing the descriptor drops the flock
    finally:
        os.close(ledger)


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def _is_locked(dir_fd: int) -> bool:
    """A look at the locks for the plan (the removal looks again); creates no lock file."""
    try:
        with run_locks(dir_fd, create=False):
            return False
    except _Busy:
        return True
    except FileNotFoundError:
        return False  # a lock file nobody ever made is not held


# -- retiring a run ---------------------------------------------------------------------------
def _retire(root_fd: int, run: Found, failures: list[str]) -> Outcome:
    name = run.info.name
    gone = Outcome(name, False, "already gone (another cleanup removed it)")
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=root_fd)
        try:
            skipped = _rename_to_tombstone(root_fd, fd, run)
        finally:
            os.close(fd)
    except _Busy as busy:
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
        if _stamp(fd, LEDGER) != run.ledger:
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
    return os.open(TOMBSTONES, _DIR_FLAGS, dir_fd=root_fd)  # a symlink here fails: ELOOP


def _clear_tombstones(root_fd: int, root: Path, failures: list[str]) -> int:
    """Unlink the index links into every tombstone, then delete it: ours, and any that an
    earlier cleanup left behind (it failed half-way or was killed). Returns links removed."""
    try:
        tombs = os.open(TOMBSTONES, _DIR_FLAGS, dir_fd=root_fd)
    except FileNotFoundError:
        return 0
    except OSError as exc:
        failures.append(f"{TOMBSTONES}: cannot open: {exc.strerror or exc}")
        return 0
    try:
        with os.scandir(tombs) as entries:
            names = [e.name for e in entries if e.is_dir(follow_symlinks=False)]
        removed = unlink_index_links(root_fd, tombs, names)
        for name in names:
            _delete_tree(root / TOMBSTONES / name, failures)
    finally:
        os.close(tombs)
    return removed


def _delete_tree(path: Path, failures: list[str]) -> None:
    errors: list[str] = []

    def record(_func: Callable[..., Any], where: str, exc: BaseException) -> None:
        if not isinstance(exc, FileNotFoundError):  # another cleanup got there first
            errors.append(f"{where}: {getattr(exc, 'strerror', None) or exc}")

    # shutil.rmtree works through directory descriptors on Linux and never follows a link
    # (rmtree.avoids_symlink_attacks).
    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=record)
    else:
        shutil.rmtree(path, onerror=lambda f, p, info: record(f, p, info[1]))
    if errors:
        failures.append(
            f"{path.name}: {len(errors)} entries not deleted (first: {errors[0]}); "
            "the tombstone is retried by the next cleanup"
        )


# -- the _jobs index --------------------------------------------------------------------------
def unlink_index_links(root_fd: int, tombs_fd: int, tombstones: list[str]) -> int:
    """Remove every `_jobs/<ns>/<job>.log` that is a hard link to a log in a tombstone, and
    every one whose log is gone (link count 1), so nothing in the index points at a run that
    is no longer there. Returns how many were removed."""
    index = _index_links(root_fd)
    if not index:
        return 0
    doomed: set[tuple[int, int]] = set()
    for tomb in tombstones:
        doomed |= _attempt_logs(tombs_fd, tomb)
    removed = 0
    for (dev_ino, nlink), (ns_fd_path, link) in index.items():
        if dev_ino in doomed or nlink == 1:
            removed += _unlink_if_same(root_fd, ns_fd_path, link, dev_ino)
    return removed


def _index_links(root_fd: int) -> dict[tuple[tuple[int, int], int], tuple[str, str]]:
    links: dict[tuple[tuple[int, int], int], tuple[str, str]] = {}
    try:
        jobs = os.open(JOBS_INDEX, _DIR_FLAGS, dir_fd=root_fd)
    except OSError:
        return links
    try:
        with os.scandir(jobs) as namespaces:
            dirs = [n.name for n in namespaces if n.is_dir(follow_symlinks=False)]
        for ns in dirs:
            with contextlib.suppress(OSError):
                ns_fd = os.open(ns, _DIR_FLAGS, dir_fd=jobs)
                try:
                    with os.scandir(ns_fd) as entries:
                        for e in entries:
                            if e.name.endswith(".log") and not e.name.startswith("."):
                                st = e.stat(follow_symlinks=False)
                                if stat.S_ISREG(st.st_mode):
                                    key = ((st.st_dev, st.st_ino), st.st_nlink)
                                    links[key] = (f"{JOBS_INDEX}/{ns}", e.name)
                finally:
                    os.close(ns_fd)
    finally:
        os.close(jobs)
    return links


def _attempt_logs(tombs_fd: int, tomb: str) -> set[tuple[int, int]]:
    found: set[tuple[int, int]] = set()
    with contextlib.suppress(OSError):
        fd = os.open(tomb, _DIR_FLAGS, dir_fd=tombs_fd)
        try:
            with os.scandir(fd) as entries:
                attempts = [e.name for e in entries if e.name.startswith(ATTEMPT_PREFIX)]
            for attempt in attempts:
                with contextlib.suppress(OSError):
                    st = os.stat(f"{attempt}/verification.log", dir_fd=fd, follow_symlinks=False)
                    found.add((st.st_dev, st.st_ino))
        finally:
            os.close(fd)
    return found


def _unlink_if_same(root_fd: int, ns_dir: str, link: str, dev_ino: tuple[int, int]) -> int:
    """Unlink `link` only if it is still that inode: a running attempt may have just pointed
    the same job name at its own log (publish_job_log replaces the link atomically). Moved
    aside first, so the check and the removal see the same file; a newer link is put back."""
    try:
        ns_fd = os.open(ns_dir, _DIR_FLAGS, dir_fd=root_fd)
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
