"""Attempts of one run: the lock protocol that numbers them and keeps them apart.

The ledger they are recorded in is ledger.py; the locks are flocks (locks.py).

* Attempt numbers are assigned under `.ledger.lock`, so they are unique and gapless.
* The running attempt holds `.active.lock` (an flock through filelock) for its whole life. The
  kernel drops an flock when its process dies, however it dies, so a SIGKILLed runner never
  blocks the next attempt. A second process that finds the lock held is a duplicate execution
  (two pods for one run): refused with exit 7, or made to wait with `ON_DUPLICATE=wait`.
* A free lock and earlier attempts on disk mean this is a retry: a restarted pod keeps its Job
  name, a new measurement gets a new one, both keep the AnalysisRun UID (docs/platform-facts.md).
* A sharded run (one metric, so one Job, per shard: README "Sharding") keeps all of this per
  shard: `<run>/shard-<i>/` holds the shard's active lock and attempts, and its ledger lines
  carry `shard` and the `shard_count` it was given. Two pods of one shard are duplicates; two
  shards are not. A shard's lock is taken under the ledger lock, so a cleanup (which holds
  the ledger lock while it looks at every shard's lock) cannot miss it.
* A shard whose SHARD_COUNT differs from one that another shard of the run recorded is refused
  (exit 3, naming both counts) and says so in a ledger line, so the merge names it too.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from filelock import FileLock, Timeout
from pydantic import BaseModel, ValidationError

from runner.contract.errors import DeadlineExceeded, DuplicateExecution, InfrastructureError
from runner.contract.exitcodes import ExitCode
from runner.identity import RunIdentity
from runner.volume.artifacts import AttemptLayout, RunLayout, atomic_write_json
from runner.volume.ledger import (
    AttemptRecord,
    Host,
    LedgerLine,
    append_line,
    ledger_lines,
    now,
    read_ledger,
    shard_counts,
)
from runner.volume.locks import hold
from runner.volume.regular import read_regular


class Holder(BaseModel):
    shard: int | None = None
    attempt: int
    host: Host
    start: datetime


@dataclass
class Attempt:
    run: RunLayout
    layout: AttemptLayout
    identity: RunIdentity
    host: Host
    start: datetime
    previous: list[AttemptRecord]
    _lock: FileLock
    finished: bool = False

    @property
    def number(self) -> int:
        return self.layout.number

    @property
    def is_retry(self) -> bool:
        return self.number > 1

    def announcement(self, shard_count: int) -> str:
        """What the log says first about this attempt; a retry says so loudly."""
        shard = self.run.shard
        of_shard = "" if shard is None else f" of shard {shard} ({shard + 1}/{shard_count})"
        lines = [f"attempt {self.number}{of_shard} in {self.layout.dir}"]
        if self.previous:
            lines.append("WARNING: this is a RETRY of a run that was started before:")
            lines += [f"  - {record.describe()}" for record in self.previous]
        return "\n".join(lines)

    def finish(
        self, code: ExitCode, *, tests_repo: str | None = None, tests_commit: str | None = None
    ) -> None:
        """Record the outcome (and the tests' commit, when fetched) and let the next attempt
        in. Safe to call twice."""
        if self.finished:
            return
        self.finished = True
        try:
            with hold(self.run.ledger_lock):
                append_line(
                    self.run,
                    LedgerLine(
                        event="end",
                        shard=self.run.shard,
                        attempt=self.number,
                        time=now(),
                        host=self.host,
                        outcome=code.outcome,
                        exit_code=int(code),
                        tests_repo=tests_repo,
                        tests_commit=tests_commit,
                    ),
                )
            with contextlib.suppress(FileNotFoundError):
                self.run.active_holder.unlink()
        finally:
            self._lock.release(force=True)


def _prepare_run_dir(run: RunLayout, identity: RunIdentity) -> None:
    try:
        run.root.mkdir(parents=True, exist_ok=True)
        if run.dir.is_symlink():
            raise InfrastructureError(
                f"{run.dir} is a symbolic link; the runner only writes into directories it "
                "created. Remove the link or point ARTIFACT_ROOT elsewhere."
            )
        run.dir.mkdir(exist_ok=True)
        with hold(run.ledger_lock):
            if not run.marker.exists():
                atomic_write_json(
                    run.marker,
                    {
                        "run_name": identity.run_name,
                        "source": identity.source.value,
                        "key_kind": identity.key_kind.value,
                        "original": identity.original,
                        "created": now().isoformat(),
                    },
                )
            run.home.mkdir(exist_ok=True)  # a shard's directory
            if run.home.is_symlink():  # mkdir(exist_ok) accepts a link to a directory
                raise InfrastructureError(
                    f"{run.home} is a symbolic link; the runner only writes into directories "
                    "it created. Remove the link."
                )
    except FileNotFoundError:
        raise _Retired from None  # renamed away while we waited for its lock: start over
    except OSError as exc:
        raise InfrastructureError(
            f"cannot prepare the run directory {run.dir}: {exc.strerror or exc}. Mount a "
            "writable volume at ARTIFACT_ROOT, or set ARTIFACT_ROOT to a writable directory."
        ) from exc


def _holder_sentence(run: RunLayout) -> str:
    try:
        holder = Holder.model_validate_json(read_regular(run.active_holder, limit=1 << 16))
    except (OSError, ValidationError):
        return "another process (it has not said who it is yet)"
    start = holder.start.isoformat(timespec="seconds")
    of_shard = "" if holder.shard is None else f" of shard {holder.shard}"
    return f"attempt {holder.attempt}{of_shard} on {holder.host.describe()}, started {start}"


class _Retired(Exception):
    """A cleanup (cleanup.py) renamed the run directory away while this attempt was starting."""


_START_TRIES = 10
WAIT_SLICE = 0.5  # seconds of waiting for a duplicate between two looks at the stop request


def begin_attempt(
    run: RunLayout,
    *,
    identity: RunIdentity,
    host: Host,
    on_duplicate: Literal["refuse", "wait"],
    wait_seconds: float,
    say: Callable[[str], None],
    check_stop: Callable[[str], None] = lambda _phase: None,
    shard_count: int | None = None,
) -> Attempt:
    """Take the run's active lock and the next attempt number, or refuse a duplicate.

    A cleanup retires an old run by renaming its directory while it holds the ledger lock and
    then the active lock. An attempt that meets one starts over in a fresh run directory and
    never takes the cleanup for a duplicate execution.
    """
    for _ in range(_START_TRIES):
        try:
            _prepare_run_dir(run, identity)
            active = _take_active(run, on_duplicate, wait_seconds, say, host, check_stop)
        except (_Retired, FileNotFoundError):
            continue
        try:
            return _number_attempt(
                run, identity=identity, host=host, active=active, shard_count=shard_count
            )
        except BaseException:
            active.release(force=True)
            raise
    raise InfrastructureError(
        f"the run directory {run.dir} kept disappearing while the attempt started (removed "
        "by a cleanup or by hand); start the verification again"
    )


def _take_active(  # noqa: PLR0917 - one caller, the values begin_attempt was given
    run: RunLayout,
    on_duplicate: Literal["refuse", "wait"],
    wait_seconds: float,
    say: Callable[[str], None],
    host: Host,
    check_stop: Callable[[str], None],
) -> FileLock:
    # A shard's lock is taken under the ledger lock only (see the module docstring).
    active = _live_lock(run, timeout=0) if run.shard is None else None
    if active is None:
        # A cleanup holds the active lock only inside the ledger lock: once that is free, an
        # active lock still held belongs to a running attempt.
        with hold(run.ledger_lock):
            active = _live_lock(run, timeout=0)
    if active is not None:
        return active
    holder = _holder_sentence(run)
    if on_duplicate == "refuse":
        with hold(run.ledger_lock):
            append_line(run, LedgerLine(event="refused", shard=run.shard, time=now(), host=host))
        what = run.run_name if run.shard is None else f"{run.run_name} shard {run.shard}"
        raise DuplicateExecution(
            f"run {what} is already being verified by {holder}; refusing to run "
            "the tests twice. Set ON_DUPLICATE=wait to wait for it instead."
        )
    say(
        f"run {run.run_name} is being verified by {holder}; waiting up to "
        f"{wait_seconds:.0f}s for it to finish (ON_DUPLICATE=wait)"
    )
    # In slices, so that SIGTERM (a deleted pod, an aborted verification) ends the wait
    # within a slice instead of when the other execution ends.
    end = time.monotonic() + max(wait_seconds, 0.0)
    while True:
        check_stop("the wait for the run's other execution (ON_DUPLICATE=wait)")
        left = end - time.monotonic()
        active = _live_lock(run, timeout=max(min(left, WAIT_SLICE), 0.0), poll_interval=0.2)
        if active is not None:
            return active
        if left <= WAIT_SLICE:
            raise DeadlineExceeded(
                f"run {run.run_name} was still held by {_holder_sentence(run)} when the "
                f"deadline ({wait_seconds:.0f}s) ran out"
            )


def _live_lock(run: RunLayout, *, timeout: float, poll_interval: float = 0.05) -> FileLock | None:
    """The active lock of the directory now at `run.dir`, or None when it stayed held.

    Raises _Retired when the locked file is no longer that directory's (renamed away).
    """
    locked: list[os.stat_result] = []
    lock = FileLock(str(run.active_lock), on_acquired=lambda fd: locked.append(os.fstat(fd)))
    try:
        lock.acquire(timeout=timeout, poll_interval=poll_interval)
    except Timeout:
        return None
    try:
        live = os.path.samestat(os.stat(run.active_lock), locked[-1]) and run.marker.is_file()
    except FileNotFoundError:
        live = False
    if not live:
        lock.release(force=True)
        raise _Retired
    return lock


def _number_attempt(
    run: RunLayout, *, identity: RunIdentity, host: Host, active: FileLock, shard_count: int | None
) -> Attempt:
    start = now()
    with hold(run.ledger_lock):
        lines = ledger_lines(run)
        _check_shard_count(run, lines, host, shard_count)
        previous = read_ledger(run, lines)
        seen = [r.attempt for r in previous] + run.existing_attempts()
        number = max(seen, default=0) + 1
        layout = run.attempt(number)
        layout.dir.mkdir()  # never exist_ok: an earlier attempt's files are never reused
        append_line(
            run,
            LedgerLine(
                event="start",
                shard=run.shard,
                shard_count=shard_count,
                attempt=number,
                time=start,
                host=host,
            ),
        )
    holder = Holder(shard=run.shard, attempt=number, host=host, start=start)
    atomic_write_json(run.active_holder, json.loads(holder.model_dump_json()))
    return Attempt(
        run=run,
        layout=layout,
        identity=identity,
        host=host,
        start=start,
        previous=previous,
        _lock=active,
    )


def _check_shard_count(
    run: RunLayout, lines: list[LedgerLine], host: Host, shard_count: int | None
) -> None:
    """Refuse a shard told a different SHARD_COUNT than a shard that started before it (the
    caller holds the ledger lock): the two ran different slices, so some tests ran nowhere.
    The refusal is a ledger line with this shard's count, for the merge to name."""
    if run.shard is None or shard_count is None:
        return
    others = sorted(
        {
            (c, shard)
            for shard, seen in shard_counts(lines).items()
            for c in seen
            if c != shard_count
        }
    )
    if not others:
        return
    append_line(
        run,
        LedgerLine(
            event="refused", shard=run.shard, shard_count=shard_count, time=now(), host=host
        ),
    )
    named = ", ".join(f"shard {shard} was given SHARD_COUNT={c}" for c, shard in others)
    raise InfrastructureError(
        f"this shard (SHARD_INDEX={run.shard}) has SHARD_COUNT={shard_count}, but {named}: "
        "the shards of one run must agree, or some tests run in no shard. Set one SHARD_COUNT "
        "for every shard (kustomize/components/sharding/shards.yaml) and verify again"
    )
