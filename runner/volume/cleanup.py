"""Carry out a retention plan on the artifact volume, next to other cleanups and runs.

Survey: candidates are only directories the runner made, a safe run name
(identity.SAFE_RUN_NAME) holding a regular run.json; symlinks are never followed (lstat,
O_NOFOLLOW, descriptors). Plan: retention.select, pure. Carry out: tombstones.retire re-checks
each run under its locks before it moves it aside; tombstones.clear_tombstones unlinks the
index links into the tombstones and deletes them. Dry runs stop after the plan.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner.contract import jsontext
from runner.contract.errors import InfrastructureError
from runner.identity import SAFE_RUN_NAME
from runner.volume.artifacts import LEDGER, RUN_MARKER
from runner.volume.regular import read_regular
from runner.volume.retention import Plan, Policy, RunInfo, human_size, select
from runner.volume.tombstones import (
    DIR_FLAGS,
    Found,
    Outcome,
    clear_tombstones,
    is_locked,
    retire,
    stamp,
)


@dataclass(frozen=True)
class Ignored:
    name: str
    why: str


@dataclass(frozen=True)
class CleanupReport:
    policy: Policy
    plan: Plan
    ignored: tuple[Ignored, ...]
    outcomes: tuple[Outcome, ...]  # one per planned removal; empty on a dry run
    failures: tuple[str, ...]  # every deletion step that failed, one sentence each
    index_links_removed: int
    dry_run: bool
    stopped_early: bool = False  # should_stop said so before every planned run was retired

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
        if self.stopped_early:
            out.append("  stopped early (asked to stop); the next cleanup carries on")
        done = f"{len(self.plan.remove)} to remove" if self.dry_run else f"{self.removed} removed"
        out.append(
            f"retention: {done}, {len(self.plan.keep)} kept, "
            f"{human_size(self.plan.kept_bytes)} kept, {len(self.failures)} failures"
        )
        return out


@dataclass(frozen=True)
class Survey:
    """The runs under a root and the plan for them, before anything is removed."""

    root: Path
    policy: Policy
    found: tuple[Found, ...]
    ignored: tuple[Ignored, ...]
    plan: Plan


def cleanup(
    root: Path,
    policy: Policy,
    *,
    current: str | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> CleanupReport:
    """Plan and (unless `dry_run`) carry out retention under `root`.

    Never raises for one run's trouble (that is a failure in the report); raises
    InfrastructureError only when the root itself cannot be read.
    """
    planned = survey(root, policy, current=current, now=now)
    if dry_run:
        return CleanupReport(policy, planned.plan, planned.ignored, (), (), 0, dry_run=True)
    return carry_out(planned, should_stop=should_stop)


def survey(
    root: Path, policy: Policy, *, current: str | None = None, now: datetime | None = None
) -> Survey:
    """Find the runs (a missing root has none) and plan; removes nothing."""
    try:
        root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        return Survey(root, policy, (), (), select([], policy, now=_now(now)))
    except OSError as exc:
        raise InfrastructureError(
            f"cannot read the artifact root {root}: {exc.strerror or exc}"
        ) from exc
    try:
        found, ignored = scan(root_fd, current=current, lock_probe=True)
    finally:
        os.close(root_fd)
    plan = select([f.info for f in found], policy, now=_now(now))
    return Survey(root, policy, tuple(found), ignored, plan)


def carry_out(planned: Survey, *, should_stop: Callable[[], bool] = lambda: False) -> CleanupReport:
    """Remove what the plan selected, re-checking each run under its locks first; then
    finish every tombstone on the volume (ours and ones an earlier cleanup left).

    `should_stop` is asked before each run: a run is retired whole or not at all, so
    stopping leaves at most the tombstones a later cleanup finishes."""
    failures: list[str] = []
    stopped = False

    def stop() -> bool:  # remembers that it said yes: then something was left undone
        nonlocal stopped
        stopped = stopped or should_stop()
        return stopped

    try:
        root_fd = os.open(planned.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:  # no root, no runs: nothing to do
        return CleanupReport(planned.policy, planned.plan, planned.ignored, (), (), 0, False)
    except OSError as exc:
        raise InfrastructureError(
            f"cannot read the artifact root {planned.root}: {exc.strerror or exc}"
        ) from exc
    try:
        by_name = {f.info.name: f for f in planned.found}
        retired: list[Outcome] = []
        for decision in planned.plan.remove:
            if stop():
                break
            retired.append(retire(root_fd, by_name[decision.run.name], failures))
        links = clear_tombstones(root_fd, planned.root, failures, should_stop=stop)
    finally:
        os.close(root_fd)
    return CleanupReport(
        planned.policy,
        planned.plan,
        planned.ignored,
        tuple(retired),
        tuple(failures),
        links,
        False,
        stopped_early=stopped,
    )


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
    fd = os.open(name, DIR_FLAGS, dir_fd=root_fd)
    try:
        created = _created(fd)
        if created is None:
            return f"no readable {RUN_MARKER}: not made by the runner, or still being made"
        ledger = stamp(fd, LEDGER)
        active = created
        if ledger is not None:
            active = max(created, datetime.fromtimestamp(ledger[0] / 1e9, UTC))
        locked = lock_probe and name != current and is_locked(fd)
        info = RunInfo(name, active, _size(fd), locked=locked, current=name == current)
        return Found(info, (st.st_dev, st.st_ino), ledger)
    finally:
        os.close(fd)


def _created(dir_fd: int) -> datetime | None:
    try:  # a FIFO named run.json would hang every cleanup (runner/volume/regular.py)
        data: Any = jsontext.loads(read_regular(RUN_MARKER, dir_fd=dir_fd, limit=1 << 16))
        created = datetime.fromisoformat(data["created"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return created if created.tzinfo else created.replace(tzinfo=UTC)


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
                            stack.append(os.open(entry.name, DIR_FLAGS, dir_fd=fd))
                    else:
                        with contextlib.suppress(OSError):
                            total += entry.stat(follow_symlinks=False).st_size
        except OSError:
            pass  # vanished or unreadable: counted as what could be read
        finally:
            os.close(fd)
    return total
