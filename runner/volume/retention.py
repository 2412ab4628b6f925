"""Which runs a cleanup removes: a pure function from runs and a policy to a plan.

The policy, in order (README, "Artifact retention"):

1. The current run (the one this process just verified) and every run whose active lock is
   held (an attempt is running) are kept, whatever else the policy says.
2. The newest `keep_runs` runs are kept ("count"). Newest means the latest activity: the
   later of run.json's `created` and the last ledger line, so a retry of an old promotion
   makes its run new again. Protected runs count towards these K.
3. Beyond them, a run is removed when its last activity is more than `max_age` ago ("age").
   `max_age` of zero keeps nothing beyond the newest K: those runs go for "count".
4. Then, while the runs that are left total more than `max_total_bytes`, the oldest of the
   unprotected runs beyond the newest K is removed ("size"). Protected and newest-K runs are
   never removed for size, so the cap can stay exceeded; the plan says so.

Executing a plan (taking locks, renaming to a tombstone, deleting) is `cleanup.py`'s job.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


class Reason(enum.StrEnum):
    CURRENT = "current"  # kept: the run this process is verifying
    LOCKED = "locked"  # kept: an attempt holds the run's active lock
    COUNT = "count"  # kept: among the newest K; removed: beyond them with max age 0
    AGE = "age"  # kept: not older than the max age; removed: older than it
    SIZE = "size"  # removed: the total was over the cap


@dataclass(frozen=True)
class RunInfo:
    name: str
    last_active: datetime  # aware (UTC)
    size: int  # bytes of its files, links not followed
    locked: bool = False
    current: bool = False


@dataclass(frozen=True)
class Policy:
    keep_runs: int
    max_age: timedelta  # zero: nothing beyond the newest `keep_runs` is kept for its age
    max_total_bytes: int | None = None  # None: no cap

    def describe(self) -> str:
        age = f"{self.max_age.total_seconds() / 86400:g} days" if self.max_age else "0 days"
        cap = f"cap {human_size(self.max_total_bytes)}" if self.max_total_bytes else "no size cap"
        return f"keep the newest {self.keep_runs}, remove older than {age}, {cap}"


@dataclass(frozen=True)
class Decision:
    run: RunInfo
    remove: bool
    reason: Reason
    detail: str  # the human sentence behind the reason


@dataclass(frozen=True)
class Plan:
    decisions: tuple[Decision, ...]  # newest run first
    total_bytes: int  # all runs, before removal
    kept_bytes: int  # what is left after the plan
    over_cap: bool  # kept_bytes is still above the cap (protected runs alone exceed it)

    @property
    def remove(self) -> tuple[Decision, ...]:
        return tuple(d for d in self.decisions if d.remove)

    @property
    def keep(self) -> tuple[Decision, ...]:
        return tuple(d for d in self.decisions if not d.remove)


def human_size(size: float) -> str:
    for unit in ("B", "kB", "MB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def newest_first(runs: Iterable[RunInfo]) -> list[RunInfo]:
    # The name breaks ties so that every cleanup on the volume orders runs the same way.
    return sorted(runs, key=lambda r: (r.last_active, r.name), reverse=True)


def _age_days(run: RunInfo, now: datetime) -> str:
    return f"{(now - run.last_active).total_seconds() / 86400:.1f} days"


def _first_pass(run: RunInfo, index: int, policy: Policy, now: datetime) -> Decision:
    if run.current:
        return Decision(run, False, Reason.CURRENT, "the run being verified now")
    if run.locked:
        return Decision(run, False, Reason.LOCKED, "an attempt is running (active lock held)")
    if index < policy.keep_runs:
        return Decision(run, False, Reason.COUNT, f"one of the newest {policy.keep_runs}")
    if not policy.max_age:
        return Decision(run, True, Reason.COUNT, f"beyond the newest {policy.keep_runs}")
    age = _age_days(run, now)
    if now - run.last_active > policy.max_age:
        return Decision(run, True, Reason.AGE, f"last active {age} ago")
    return Decision(run, False, Reason.AGE, f"last active {age} ago, within the max age")


def select(runs: Iterable[RunInfo], policy: Policy, *, now: datetime) -> Plan:
    """The plan for `runs` under `policy` at `now`; deterministic and free of side effects."""
    ordered = newest_first(runs)
    decisions = [_first_pass(run, i, policy, now) for i, run in enumerate(ordered)]
    total = sum(run.size for run in ordered)
    kept = sum(d.run.size for d in decisions if not d.remove)
    cap = policy.max_total_bytes
    if cap is not None:
        for i in reversed(range(len(decisions))):  # oldest first
            if kept <= cap:
                break
            decision = decisions[i]
            if not decision.remove and decision.reason is Reason.AGE:
                decisions[i] = Decision(
                    decision.run,
                    True,
                    Reason.SIZE,
                    f"total {human_size(kept)} over the cap of {human_size(cap)}",
                )
                kept -= decision.run.size
    return Plan(
        decisions=tuple(decisions),
        total_bytes=total,
        kept_bytes=kept,
        over_cap=cap is not None and kept > cap,
    )
