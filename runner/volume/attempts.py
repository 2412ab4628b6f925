"""Attempts of one run: numbering, the append-only ledger, and the active lock.

* Attempt numbers are assigned under `.ledger.lock`, so they are unique and gapless.
* The running attempt holds `.active.lock` (an flock through filelock) for its whole life. The
  kernel drops an flock when its process dies, however it dies, so a SIGKILLed runner never
  blocks the next attempt. A second process that finds the lock held is a duplicate execution
  (two pods for one run): refused with exit 7, or made to wait with `ON_DUPLICATE=wait`.
* A free lock and earlier attempts on disk mean this is a retry: a restarted pod keeps its Job
  name, a new measurement gets a new one, both keep the AnalysisRun UID (docs/platform-facts.md).
* A sharded run (an Indexed Job) keeps all of this per shard: `<run>/shard-<i>/` holds the
  shard's active lock and attempts, and its ledger lines carry `shard`. Two pods of one shard
  are duplicates; two shards are not. A shard's lock is taken under the ledger lock, so a
  cleanup (which holds the ledger lock while it looks at every shard's lock) cannot miss it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from filelock import FileLock, Timeout
from pydantic import BaseModel, Field, ValidationError

from runner.errors import DeadlineExceeded, DuplicateExecution, InfrastructureError
from runner.exitcodes import ExitCode
from runner.identity import RunIdentity
from runner.volume.artifacts import AttemptLayout, RunLayout, atomic_write_json


class Host(BaseModel):
    """Who runs an attempt: enough to find the pod, or the process on a laptop."""

    pod: str | None = None
    job: str | None = None
    node: str | None = None
    namespace: str | None = None
    pid: int = Field(default_factory=os.getpid)

    def describe(self) -> str:
        where = f"pod {self.pod}" if self.pod else "a local process"
        parts = [where, f"node {self.node or '?'}", f"pid {self.pid}"]
        if self.job:
            parts.insert(1, f"job {self.job}")
        return ", ".join(parts)


class LedgerLine(BaseModel):
    event: Literal["start", "end", "refused", "merged"]
    shard: int | None = None  # None: an unsharded run (and every line written before sharding)
    attempt: int | None = None
    time: datetime
    host: Host
    outcome: str | None = None
    exit_code: int | None = None
    merged: dict[int, int | None] | None = None  # "merged": shard -> attempt merged (None: missing)
    # "end" of an attempt whose tests were fetched from Git (runner/fetching): from where, which
    # commit. A merge of shards that ran different commits is refused (runner/sharding.py).
    tests_repo: str | None = None
    tests_commit: str | None = None


class AttemptRecord(BaseModel):
    """One attempt as folded from its ledger lines. `end` is None when it never finished."""

    attempt: int
    host: Host
    start: datetime
    end: datetime | None = None
    outcome: str = "unfinished (killed, or still running)"
    exit_code: int | None = None
    tests_repo: str | None = None
    tests_commit: str | None = None

    def describe(self) -> str:
        when = self.start.isoformat(timespec="seconds")
        return f"attempt {self.attempt} ({self.host.describe()}, started {when}): {self.outcome}"


class Holder(BaseModel):
    shard: int | None = None
    attempt: int
    host: Host
    start: datetime


def ledger_lines(run: RunLayout) -> list[LedgerLine]:
    """Every readable ledger line of the run, all shards; torn or foreign lines are skipped."""
    try:
        text = run.ledger.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    lines = []
    for raw in text.splitlines():
        try:
            lines.append(LedgerLine.model_validate_json(raw))
        except ValidationError:
            continue
    return lines


def read_ledger(run: RunLayout, lines: list[LedgerLine] | None = None) -> list[AttemptRecord]:
    """Fold the ledger into one record per attempt of `run.shard` (None: unsharded)."""
    records: dict[int, AttemptRecord] = {}
    for line in ledger_lines(run) if lines is None else lines:
        if line.attempt is None or line.shard != run.shard:
            continue
        if line.event == "start":
            records[line.attempt] = AttemptRecord(
                attempt=line.attempt, host=line.host, start=line.time
            )
        elif line.event == "end" and line.attempt in records:
            records[line.attempt] = records[line.attempt].model_copy(
                update={
                    "end": line.time,
                    "outcome": line.outcome,
                    "exit_code": line.exit_code,
                    "tests_repo": line.tests_repo,
                    "tests_commit": line.tests_commit,
                }
            )
    return [records[n] for n in sorted(records)]


def last_merge(lines: list[LedgerLine]) -> dict[int, int | None] | None:
    """Which attempt of each shard the latest merge used; None before the first merge."""
    merges = [line.merged for line in lines if line.event == "merged"]
    return merges[-1] if merges else None


def record_merge(run: RunLayout, host: Host, merged: dict[int, int | None]) -> None:
    with FileLock(run_lock_path(run)):
        _append(run, LedgerLine(event="merged", time=_now(), host=host, merged=merged))


def lock_held(run: RunLayout) -> bool:
    """Whether an attempt holds `run`'s active lock now (a look: never waits, creates nothing).

    Call it under the ledger lock: an attempt of a shard takes its lock only there, so the
    look can never make it believe it is a duplicate.
    """
    try:
        fd = os.open(run.active_lock, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the flock if we got it
    return False


def _append(run: RunLayout, line: LedgerLine) -> None:
    """Append one line (callers hold the ledger lock). A line torn by a crash or a full disk
    is ended first, so it cannot swallow this one (tests/test_fault_matrix.py)."""
    data = (line.model_dump_json() + "\n").encode()
    fd = os.open(run.ledger, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _now() -> datetime:
    return datetime.now(UTC)


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

    def finish(
        self, code: ExitCode, *, tests_repo: str | None = None, tests_commit: str | None = None
    ) -> None:
        """Record the outcome (and the tests' commit, when fetched) and let the next attempt
        in. Safe to call twice."""
        if self.finished:
            return
        self.finished = True
        try:
            with FileLock(run_lock_path(self.run)):
                _append(
                    self.run,
                    LedgerLine(
                        event="end",
                        shard=self.run.shard,
                        attempt=self.number,
                        time=_now(),
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


def run_lock_path(run: RunLayout) -> str:
    return str(run.ledger_lock)


def _prepare_run_dir(run: RunLayout, identity: RunIdentity) -> None:
    try:
        run.root.mkdir(parents=True, exist_ok=True)
        if run.dir.is_symlink():
            raise InfrastructureError(
                f"{run.dir} is a symbolic link; the runner only writes into directories it "
                "created. Remove the link or point ARTIFACT_ROOT elsewhere."
            )
        run.dir.mkdir(exist_ok=True)
        with FileLock(run_lock_path(run)):
            if not run.marker.exists():
                atomic_write_json(
                    run.marker,
                    {
                        "run_name": identity.run_name,
                        "source": identity.source.value,
                        "key_kind": identity.key_kind.value,
                        "original": identity.original,
                        "created": _now().isoformat(),
                    },
                )
            run.home.mkdir(exist_ok=True)  # a shard's directory
    except FileNotFoundError:
        raise _Retired from None  # renamed away while we waited for its lock: start over
    except OSError as exc:
        raise InfrastructureError(
            f"cannot prepare the run directory {run.dir}: {exc.strerror or exc}. Mount a "
            "writable volume at ARTIFACT_ROOT, or set ARTIFACT_ROOT to a writable directory."
        ) from exc


def _holder_sentence(run: RunLayout) -> str:
    try:
        holder = Holder.model_validate_json(run.active_holder.read_text(encoding="utf-8"))
    except (OSError, ValidationError):
        return "another process (it has not said who it is yet)"
    start = holder.start.isoformat(timespec="seconds")
    of_shard = "" if holder.shard is None else f" of shard {holder.shard}"
    return f"attempt {holder.attempt}{of_shard} on {holder.host.describe()}, started {start}"


class _Retired(Exception):
    """A cleanup (cleanup.py) renamed the run directory away while this attempt was starting."""


_START_TRIES = 10


def begin_attempt(
    run: RunLayout,
    *,
    identity: RunIdentity,
    host: Host,
    on_duplicate: Literal["refuse", "wait"],
    wait_seconds: float,
    say: Callable[[str], None],
) -> Attempt:
    """Take the run's active lock and the next attempt number, or refuse a duplicate.

    A cleanup retires an old run by renaming its directory while it holds the ledger lock and
    then the active lock. An attempt that meets one starts over in a fresh run directory and
    never takes the cleanup for a duplicate execution.
    """
    for _ in range(_START_TRIES):
        try:
            _prepare_run_dir(run, identity)
            active = _take_active(run, on_duplicate, wait_seconds, say, host)
        except (_Retired, FileNotFoundError):
            continue
        try:
            return _number_attempt(run, identity=identity, host=host, active=active)
        except BaseException:
            active.release(force=True)
            raise
    raise InfrastructureError(
        f"the run directory {run.dir} kept disappearing while the attempt started (removed "
        "by a cleanup or by hand); start the verification again"
    )


def _take_active(
    run: RunLayout,
    on_duplicate: Literal["refuse", "wait"],
    wait_seconds: float,
    say: Callable[[str], None],
    host: Host,
) -> FileLock:
    # A shard's lock is taken under the ledger lock only (see the module docstring).
    active = _live_lock(run, timeout=0) if run.shard is None else None
    if active is None:
        # A cleanup holds the active lock only inside the ledger lock: once that is free, an
        # active lock still held belongs to a running attempt.
        with FileLock(run_lock_path(run)):
            active = _live_lock(run, timeout=0)
    if active is not None:
        return active
    holder = _holder_sentence(run)
    if on_duplicate == "refuse":
        with FileLock(run_lock_path(run)):
            _append(run, LedgerLine(event="refused", shard=run.shard, time=_now(), host=host))
        what = run.run_name if run.shard is None else f"{run.run_name} shard {run.shard}"
        raise DuplicateExecution(
            f"run {what} is already being verified by {holder}; refusing to run "
            "the tests twice. Set ON_DUPLICATE=wait to wait for it instead."
        )
    say(
        f"run {run.run_name} is being verified by {holder}; waiting up to "
        f"{wait_seconds:.0f}s for it to finish (ON_DUPLICATE=wait)"
    )
    active = _live_lock(run, timeout=max(wait_seconds, 0.0), poll_interval=0.2)
    if active is None:
        raise DeadlineExceeded(
            f"run {run.run_name} was still held by {_holder_sentence(run)} when the "
            f"deadline ({wait_seconds:.0f}s) ran out"
        )
    return active


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
    run: RunLayout, *, identity: RunIdentity, host: Host, active: FileLock
) -> Attempt:
    start = _now()
    with FileLock(run_lock_path(run)):
        previous = read_ledger(run)
        seen = [r.attempt for r in previous] + run.existing_attempts()
        number = max(seen, default=0) + 1
        layout = run.attempt(number)
        layout.dir.mkdir()  # never exist_ok: an earlier attempt's files are never reused
        _append(
            run, LedgerLine(event="start", shard=run.shard, attempt=number, time=start, host=host)
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
