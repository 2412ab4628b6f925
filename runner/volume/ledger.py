"""`<run>/ledger.jsonl`: the append-only record of a run's attempts, refusals and merges.

One JSON line per event, appended under the run's ledger lock (locks.py) and fsynced. Lines
from every shard share the file; a line torn by a crash or a full disk is skipped on reading
and ended before the next append, so it never swallows a later line.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from runner.volume.artifacts import RunLayout
from runner.volume.locks import hold
from runner.volume.regular import check_regular, read_regular_text


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
    # "start" and "refused" of a shard: the SHARD_COUNT it was given. Shards that disagree are
    # not one run (runner/volume/attempts.py refuses the later one; the merge names both).
    shard_count: int | None = None
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


def ledger_lines(run: RunLayout) -> list[LedgerLine]:
    """Every readable ledger line of the run, all shards; torn or foreign lines are skipped."""
    try:
        text = read_regular_text(run.ledger, errors="replace")
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


def shard_counts(lines: list[LedgerLine]) -> dict[int, frozenset[int]]:
    """The SHARD_COUNT values each shard's start and refused lines recorded."""
    counts: dict[int, set[int]] = {}
    for line in lines:
        if line.shard is not None and line.shard_count is not None:
            counts.setdefault(line.shard, set()).add(line.shard_count)
    return {shard: frozenset(seen) for shard, seen in counts.items()}


def last_merge(lines: list[LedgerLine]) -> dict[int, int | None] | None:
    """Which attempt of each shard the latest merge used; None before the first merge."""
    merges = [line.merged for line in lines if line.event == "merged"]
    return merges[-1] if merges else None


def record_merge(run: RunLayout, host: Host, merged: dict[int, int | None]) -> None:
    with hold(run.ledger_lock):
        append_line(run, LedgerLine(event="merged", time=now(), host=host, merged=merged))


def append_line(run: RunLayout, line: LedgerLine) -> None:
    """Append one line (callers hold the ledger lock). A line torn by a crash or a full disk
    is ended first, so it cannot swallow this one (tests/test_fault_matrix.py)."""
    data = (line.model_dump_json() + "\n").encode()
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
    fd = os.open(run.ledger, flags, 0o644)
    try:
        check_regular(fd, run.ledger)  # a FIFO would swallow the line (or block the write)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def now() -> datetime:
    return datetime.now(UTC)
