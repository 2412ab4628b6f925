"""One verification sharded across parallel metrics (one Job per shard): who merges, when,
and into what. The merged verdict is runner/judging/merged.py's.

Every shard is an ordinary attempt (its own lock, ledger lines, log, JUnit and exit code)
that also writes a Playwright blob report. After its ledger end line, a shard calls
`merge_when_done`:

* Mergers are serialised by `<run>/.merge.lock`. The holder looks at every shard under the
  ledger lock: its latest attempt, whether that attempt's active lock is held, its blob, the
  SHARD_COUNT its ledger lines recorded.
* While another shard is running, the holder waits for it (bounded by its own run deadline;
  a shard killed however, SIGKILL or OOM, drops its flock, so the holder sees it gone). A
  shard that has not started (a pending pod, a metric nobody runs) is waited for until
  SHARD_START_WAIT_SECONDS after this shard started, then named as never started; shards
  that disagree on SHARD_COUNT end the wait at once.
* Once no shard is running, the holder merges and exits with the merged verdict; the shards
  queued on the lock find nothing new and exit with their own. So no shard exits before the
  merge is written: under Argo Rollouts the first shard Job to fail makes the AnalysisRun
  terminate every other shard's Job (docs/platform-facts.md, "Sharded runs are terminated").
* A stopped shard (SIGTERM: its Job deleted; SIGINT) does not wait: it merges what exists at
  once, and the merge, its lock wait included, ends TERMINATION_GRACE_SECONDS after the
  signal less FLUSH_MARGIN (a stop no longer ends merge-reports; that bound does). merged/ is
  swapped in whole, so a merger SIGKILLed half-way leaves the previous merge. Shards that
  were stopped, killed or still running are named as cut short.
* The merge covers the latest attempt of every shard; a shard with no blob is named as
  missing. Each merge is a ledger "merged" line saying which ended attempt of each shard it
  used (None: none yet); a shard that ends later (a retry, a late pod, one that was still
  running) merges again, so `merged/` converges on the latest attempt of every shard.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout
from pydantic import Field

from runner import playwright
from runner.contract import jsontext
from runner.contract.exitcodes import ExitCode
from runner.files.walk import remove_tree
from runner.judging.judge import read_results
from runner.judging.merged import ShardOutcome, merged_verdict
from runner.judging.pertree import merge_counts
from runner.judging.report import Summary, build_summary, summary_line, write_summary
from runner.judging.results import Results
from runner.judging.verdict import FlakyPolicy
from runner.log.masking import Redactor
from runner.log.scrub import scrub_tree
from runner.log.tee import LogSink
from runner.processes.bounds import Deadline, StopRequest
from runner.processes.child import Supervision, run_streaming
from runner.volume.artifacts import SHARD_PREFIX, MergedLayout, RunLayout
from runner.volume.ledger import (
    AttemptRecord,
    Host,
    last_merge,
    ledger_lines,
    read_ledger,
    record_merge,
    shard_counts,
)
from runner.volume.locks import hold, is_held
from runner.volume.regular import read_regular

WAIT_POLL = 0.5  # seconds between looks at the running shards' locks
FLUSH_MARGIN = 5.0  # seconds of the termination grace left for the exit itself
MERGE_FLOOR = 60.0  # seconds merge-reports gets even when the run deadline is (nearly) spent
_CUT_SHORT = (ExitCode.INTERRUPTED, ExitCode.TERMINATED)

Plan = dict[int, int | None]  # shard -> the ended attempt a merge used (None: none yet)


@dataclass(frozen=True)
class ShardState:
    index: int
    latest: AttemptRecord | None  # None: never started
    running: bool
    blob: Path | None  # the latest attempt's blob report, when it exists

    @property
    def missing_why(self) -> str | None:
        """Why this shard contributes no results, or None when it does."""
        if self.blob is not None:
            return None
        if self.latest is None:
            return "never started"
        if self.running:
            return f"attempt {self.latest.attempt} still running at the merge"
        if self.latest.end is None:
            return f"attempt {self.latest.attempt} killed before it finished"
        return f"attempt {self.latest.attempt} ended {self.latest.outcome} without a blob report"

    @property
    def cut_short(self) -> bool:
        """Stopped by a signal, killed, or not finished when the merge was made."""
        if self.latest is None:
            return False
        return self.running or self.latest.end is None or self.latest.exit_code in _CUT_SHORT

    @property
    def planned(self) -> int | None:
        """The attempt a merge now covers: the latest one once it is no longer running."""
        return None if self.latest is None or self.running else self.latest.attempt

    def outcome(self) -> ShardOutcome:
        latest = self.latest
        return ShardOutcome(
            index=self.index,
            missing=self.missing_why,
            cut_short=self.cut_short,
            outcome=latest.outcome if latest else None,
            exit_code=latest.exit_code if latest else None,
            tests_commit=latest.tests_commit if latest else None,
        )


class ShardSummary(Summary):
    """`merged/summary.json`: the run's one summary, plus what each shard contributed."""

    shard_count: int
    shards: list[dict[str, object]]
    missing_shards: list[int]
    cut_short_shards: list[int] = Field(default_factory=list)


@dataclass(frozen=True)
class Survey:
    states: list[ShardState]
    previous: Plan | None  # the last merge's plan; None before the first merge
    counts: dict[int, frozenset[int]]  # shard -> the SHARD_COUNT values its lines recorded

    @property
    def disagree(self) -> bool:
        """Two shards of the run were given different SHARD_COUNT values."""
        return len({c for seen in self.counts.values() for c in seen}) > 1


def survey(run: RunLayout, count: int) -> Survey:
    """Every shard's state and the previous merge, read under the ledger lock: a shard's
    attempt takes its active lock only there, so looking at it (an flock taken and dropped at
    once) can never make that attempt believe it is a duplicate."""
    with hold(run.ledger_lock):
        lines = ledger_lines(run)
        states = []
        for index in range(count):
            shard = run.for_shard(index)
            records = read_ledger(shard, lines)
            latest = records[-1] if records else None
            blob = shard.attempt(latest.attempt).blob if latest else None
            states.append(
                ShardState(
                    index,
                    latest,
                    running=is_held(shard.active_lock),
                    blob=blob if blob is not None and blob.is_file() else None,
                )
            )
        return Survey(states, last_merge(lines), shard_counts(lines))


@dataclass(frozen=True)
class MergeContext:
    run: RunLayout  # the run (any shard's layout: only the run's paths are used)
    count: int
    host: Host
    home: Path  # PLAYWRIGHT_HOME
    base_env: Mapping[str, str]
    deadline: Deadline  # this shard's run deadline (its start is this shard's start)
    start_wait: float  # SHARD_START_WAIT_SECONDS
    stop: StopRequest
    termination_grace: float  # TERMINATION_GRACE_SECONDS
    grace: float  # KILL_GRACE_SECONDS, for merge-reports' tree
    flaky_policy: FlakyPolicy
    allow_no_tests: bool
    redactor: Redactor  # the run's: merged/ masks what the shard's own files mask
    allow_empty_trees: tuple[str, ...] = ()  # ALLOW_EMPTY_TREES: judged over the whole run
    target: str | None = None  # what the run tested (runner/target.py), for the summary

    def time_left(self) -> float:
        """What the merge may still spend: the run deadline and, once stopped, what is left
        of the termination grace from the signal on, less FLUSH_MARGIN."""
        left = self.deadline.remaining()
        if self.stop.requested:
            at = self.stop.at if self.stop.at is not None else time.monotonic()
            flush_end = at + self.termination_grace - FLUSH_MARGIN
            left = min(left, flush_end - time.monotonic())
        return max(0.0, left)


class _MergeDeadline(Deadline):
    """merge-reports' deadline: at least MERGE_FLOOR from its start, but once this shard is
    stopped (even half-way through the merge) no later than its termination grace allows."""

    def __init__(self, ctx: MergeContext) -> None:
        super().__init__(max(ctx.deadline.remaining(), MERGE_FLOOR))
        self._ctx = ctx

    def remaining(self) -> float:
        left = super().remaining()
        return min(left, self._ctx.time_left()) if self._ctx.stop.requested else left

    def expired(self) -> bool:
        return self.remaining() <= 0


def merge_when_done(ctx: MergeContext, say: Callable[[str], None]) -> ShardSummary | None:
    """Merge every shard's results once no shard is running (or at once when stopped); None
    when another shard merged them already, or the merge lock could not be had in time."""
    lock = FileLock(str(ctx.run.merge_lock))
    if not _acquire(lock, ctx):
        until = "the termination grace ran out" if ctx.stop.requested else "the deadline"
        say(f"not merging: another shard held the merge lock until {until}")
        return None
    try:
        seen = _wait_for_shards(ctx, say)
        plan = {s.index: s.planned for s in seen.states}
        if plan == seen.previous:
            say("the shards were merged already (nothing new since)")
            return None
        if ctx.stop.requested:
            say(
                "stopping (signal received): merging what exists now, within the "
                f"termination grace ({ctx.time_left():.0f}s left)"
            )
        summary = _merge(ctx, seen, say)
        record_merge(ctx.run, ctx.host, plan)
        return summary
    finally:
        lock.release()


def _acquire(lock: FileLock, ctx: MergeContext) -> bool:
    """Take the merge lock within the time left, in slices, so that a stop shortens the wait."""
    while True:
        left = ctx.time_left()
        try:
            lock.acquire(timeout=min(left, WAIT_POLL), poll_interval=0.1)
        except Timeout:
            if left <= WAIT_POLL:
                return False
        else:
            return True


def _wait_for_shards(ctx: MergeContext, say: Callable[[str], None]) -> Survey:
    said: tuple[list[int], list[int]] | None = None
    while True:
        seen = survey(ctx.run, ctx.count)
        running = [s.index for s in seen.states if s.running]
        unstarted = [s.index for s in seen.states if s.latest is None]
        disagree = seen.disagree
        waited = time.monotonic() - ctx.deadline.started
        start_left = ctx.start_wait - waited
        pending = running + (unstarted if start_left > 0 and not disagree else [])
        if not pending or ctx.time_left() <= 0 or ctx.stop.requested:
            if unstarted and not ctx.stop.requested:
                why = (
                    "the shards disagree on SHARD_COUNT"
                    if disagree
                    else f"none started within SHARD_START_WAIT_SECONDS={ctx.start_wait:g} "
                    "of this shard's start"
                )
                say(f"not waiting for shard(s) {_names(unstarted)} to start: {why}")
            return seen
        if said != (running, unstarted):
            said = (running, unstarted)
            waiting_to_start = set(unstarted) & set(pending)
            given_up = f" (not started: given up in {start_left:.0f}s)" if waiting_to_start else ""
            say(
                f"waiting for shard(s) {_names(pending)} to start or finish, then merging{given_up}"
            )
        time.sleep(min(WAIT_POLL, ctx.time_left()))


def _merge(ctx: MergeContext, seen: Survey, say: Callable[[str], None]) -> ShardSummary:
    """Build `merged/` aside, then swap it in, so readers see the old report or the new."""
    run, states = ctx.run, seen.states
    staging = run.merge_staging("new")
    remove_tree(staging.dir)
    staging.dir.mkdir()
    with LogSink(redactor=ctx.redactor) as sink:
        sink.open_file(staging.log)
        started = time.monotonic()
        results, error = _merge_reports(ctx, states, staging, sink)
        seconds = time.monotonic() - started
        trees = merge_counts(
            [_shard_trees(run, s) for s in states], results, may_be_empty=ctx.allow_empty_trees
        )
        verdict = merged_verdict(
            results,
            error,
            [s.outcome() for s in states],
            count=ctx.count,
            counts=seen.counts,
            flaky_policy=ctx.flaky_policy,
            allow_no_tests=ctx.allow_no_tests,
            trees=trees,
        )
        final = run.merged
        html = final.html_report if (staging.html_report / "index.html").exists() else None
        summary = ShardSummary(
            **build_summary(
                verdict=verdict,
                results=results,
                run_name=run.run_name,
                attempt=0,
                html_report=html,
                log=final.log,
                finished_at=datetime.now(UTC),
                trees=trees or (),
                target=ctx.target,
            ).model_dump(),
            shard_count=ctx.count,
            shards=[_shard_entry(run, s) for s in states],
            missing_shards=[s.index for s in states if s.missing_why],
            cut_short_shards=[s.index for s in states if s.cut_short],
        )
        scrub = scrub_tree(staging.dir, ctx.redactor, skip=frozenset({staging.log}))
        for failed in scrub.failed:
            sink.say(f"WARNING: could not mask secrets in {failed}")
        write_summary(staging.summary, summary, ctx.redactor)
        for warning in verdict.warnings:
            sink.say(warning)
        line = f"[merged {ctx.count} shards in {seconds:.1f}s] {summary_line(summary)}"
        sink.say(line)
    _swap_in(staging.dir, final.dir, aside=run.merge_staging("old").dir)
    say(f"merged report: {final.dir}")
    say(line)
    return summary


def _merge_reports(
    ctx: MergeContext, states: list[ShardState], out: MergedLayout, sink: LogSink
) -> tuple[Results | None, str | None]:
    for state in states:
        sink.say(f"shard {state.index}: {_describe(state)}")
    blobs = {s.index: s.blob for s in states if s.blob is not None}
    if not blobs:
        return None, "no shard wrote a blob report"
    scratch = out.dir / ".blobs"  # merge-reports extracts into this directory: a scratch copy
    scratch.mkdir()
    for index, blob in blobs.items():
        os.link(blob, scratch / f"{SHARD_PREFIX}{index}.zip")
    try:
        run_streaming(
            playwright.merge_command(ctx.home, scratch),
            env={**ctx.base_env, **playwright.merge_env(out)},
            cwd=ctx.home,
            under=Supervision(  # a stop ends it through _MergeDeadline, not at once
                sink, _MergeDeadline(ctx), StopRequest(), min(ctx.grace, FLUSH_MARGIN)
            ),
        )
    finally:
        remove_tree(scratch)
    return read_results(out)


def _describe(state: ShardState) -> str:
    if state.missing_why or state.latest is None:
        return f"MISSING: {state.missing_why}"
    retry = " (a retry)" if state.latest.attempt > 1 else ""
    return f"attempt {state.latest.attempt}{retry}, {state.latest.outcome}"


def _shard_trees(run: RunLayout, state: ShardState) -> list[dict[str, object]]:
    """What the shard's summary.json says each tree ran in it ([] when it does not say)."""
    if state.latest is None or state.missing_why:
        return []
    path = run.for_shard(state.index).attempt(state.latest.attempt).summary
    try:
        trees = jsontext.loads(read_regular(path)).get("trees")
    except (OSError, ValueError, AttributeError):
        return []
    return [t for t in trees if isinstance(t, dict)] if isinstance(trees, list) else []


def _shard_entry(run: RunLayout, state: ShardState) -> dict[str, object]:
    latest = state.latest
    return {
        "shard": state.index,
        "attempt": latest.attempt if latest else None,
        "outcome": latest.outcome if latest else "never started",
        "exit_code": latest.exit_code if latest else None,
        "tests_commit": latest.tests_commit if latest else None,
        "missing": state.missing_why,
        "cut_short": state.cut_short,
        "log": str(run.for_shard(state.index).attempt(latest.attempt).log) if latest else None,
    }


def _swap_in(new: Path, final: Path, *, aside: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        final.rename(aside)
    new.rename(final)
    remove_tree(aside)


def _names(indexes: list[int]) -> str:
    return ", ".join(str(i) for i in indexes)
