"""One verification sharded across an Indexed Job: who merges, and the merged verdict.

Every shard is an ordinary attempt (its own lock, ledger lines, log, JUnit and exit code)
that also writes a Playwright blob report. After its ledger end line, a shard calls
`merge_when_last`:

* Mergers are serialised by `<run>/.merge.lock`. The holder looks at every shard under the
  ledger lock: its latest attempt, whether that attempt's active lock is held, its blob.
* While another shard is still running or has not started (a pending pod), the holder waits
  (bounded by its own run deadline; a stop request ends the wait): the last shard to finish
  merges, decided by the locks and the ledger's order, not by index. A shard killed however
  (SIGKILL, OOM) drops its flock, so a waiter sees it gone and merges in its place.
* The merge covers the latest attempt of every shard; a shard with no blob (killed, crashed
  before its blob, never started, still running at the deadline) is named as missing and
  fails the merged verdict. Each merge is a ledger "merged" line saying which attempt of each
  shard it used; a shard that ends later (a retry, a late pod) merges again, so `merged/`
  converges on the latest attempt of every shard. A merger that finds nothing new does nothing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from runner import playwright
from runner.contract.exitcodes import ExitCode
from runner.judging.judge import read_results
from runner.judging.report import Summary, build_summary, summary_line, write_summary
from runner.judging.results import Results
from runner.judging.verdict import FlakyPolicy, RunFacts, Verdict, decide
from runner.log.masking import Redactor
from runner.log.scrub import scrub_tree
from runner.log.tee import LogSink
from runner.processes.bounds import Deadline, StopRequest
from runner.processes.child import Supervision, run_streaming
from runner.volume.artifacts import SHARD_PREFIX, MergedLayout, RunLayout, publish_job_log
from runner.volume.ledger import (
    AttemptRecord,
    Host,
    last_merge,
    ledger_lines,
    read_ledger,
    record_merge,
)
from runner.volume.locks import hold, is_held

WAIT_POLL = 0.5  # seconds between looks at the running shards' locks


@dataclass(frozen=True)
class ShardState:
    index: int
    latest: AttemptRecord | None  # None: never started
    running: bool
    blob: Path | None  # the latest attempt's blob report, when it exists
    ended_at_line: int | None = None  # where its end line is in the ledger (clocks may skew)

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


class ShardSummary(Summary):
    """`merged/summary.json`: the run's one summary, plus what each shard contributed."""

    shard_count: int
    shards: list[dict[str, object]]
    missing_shards: list[int]


def survey(run: RunLayout, count: int) -> tuple[list[ShardState], dict[int, int | None] | None]:
    """Every shard's state and the previous merge, read under the ledger lock: a shard's
    attempt takes its active lock only there, so looking at it (an flock taken and dropped at
    once) can never make that attempt believe it is a duplicate."""
    with hold(run.ledger_lock):
        lines = ledger_lines(run)
        ends = {(ln.shard, ln.attempt): n for n, ln in enumerate(lines) if ln.event == "end"}
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
                    ended_at_line=ends.get((index, latest.attempt)) if latest else None,
                )
            )
        return states, last_merge(lines)


@dataclass(frozen=True)
class MergeContext:
    run: RunLayout  # the run (any shard's layout: only the run's paths are used)
    shard: int  # the shard that asks
    count: int
    host: Host
    home: Path  # PLAYWRIGHT_HOME
    base_env: Mapping[str, str]
    deadline: Deadline
    stop: StopRequest
    grace: float
    flaky_policy: FlakyPolicy
    allow_no_tests: bool
    namespace: str | None
    job_name: str | None
    redactor: Redactor  # the run's: merged/ masks what the shard's own files mask


def merge_when_last(ctx: MergeContext, say: Callable[[str], None]) -> ShardSummary | None:
    """Merge every shard's results if this shard is the last one running; None when another
    merger got there first, or there is nothing new to merge."""
    lock = FileLock(str(ctx.run.merge_lock))
    try:
        lock.acquire(timeout=ctx.deadline.remaining(), poll_interval=WAIT_POLL)
    except Timeout:
        say("not merging: another shard held the merge lock until the deadline")
        return None
    try:
        states, previous = _wait_for_running(ctx, say)
        if ctx.stop.requested:
            say("not merging: stopping (SIGTERM/SIGINT)")
            return None
        last = max(states, key=lambda s: -1 if s.ended_at_line is None else s.ended_at_line)
        if (
            last.index != ctx.shard
            and last.ended_at_line is not None
            and not any(s.running or s.latest is None for s in states)
        ):
            # It ended after us and is waiting for this lock: the last to finish merges.
            say(f"shard {last.index} finished last and merges")
            return None
        plan = {s.index: (s.latest.attempt if s.latest else None) for s in states}
        if plan == previous:
            say("the shards were merged already (nothing new since)")
            return None
        summary = _merge(ctx, states, say)
        record_merge(ctx.run, ctx.host, plan)
        return summary
    finally:
        lock.release()


def _wait_for_running(
    ctx: MergeContext, say: Callable[[str], None]
) -> tuple[list[ShardState], dict[int, int | None] | None]:
    said: set[int] = set()
    while True:
        states, previous = survey(ctx.run, ctx.count)
        # A shard that has not started yet is a pod still pending (scheduling, image pull):
        # the Job is not done without it either, so it is waited for like a running one.
        pending = [s.index for s in states if s.running or s.latest is None]
        if not pending or ctx.deadline.expired() or ctx.stop.requested:
            return states, previous
        if set(pending) != said:
            said = set(pending)
            say(f"waiting for shard(s) {_names(pending)} to start or finish, then merging")
        time.sleep(min(WAIT_POLL, ctx.deadline.remaining()))


def _merge(ctx: MergeContext, states: list[ShardState], say: Callable[[str], None]) -> ShardSummary:
    """Build `merged/` aside, then swap it in, so readers see the old report or the new."""
    run = ctx.run
    staging = run.merge_staging("new")
    shutil.rmtree(staging.dir, ignore_errors=True)
    staging.dir.mkdir()
    with LogSink(redactor=ctx.redactor) as sink:
        sink.open_file(staging.log)
        started = time.monotonic()
        results, error = _merge_reports(ctx, states, staging, sink)
        seconds = time.monotonic() - started
        verdict = merged_verdict(
            results, error, states, flaky_policy=ctx.flaky_policy, allow_no_tests=ctx.allow_no_tests
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
            ).model_dump(),
            shard_count=ctx.count,
            shards=[_shard_entry(run, s) for s in states],
            missing_shards=[s.index for s in states if s.missing_why],
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
    if ctx.namespace and ctx.job_name:  # the Job's own name shows the merged log
        try:
            publish_job_log(run.root, ctx.namespace, ctx.job_name, final.log)
        except OSError as exc:  # a symlink planted in the index: refused, the merge stands
            say(f"not indexing the merged log of job {ctx.job_name!r}: {exc}")
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
            playwright.merge_command(scratch),
            env={**ctx.base_env, **playwright.merge_env(out)},
            cwd=ctx.home,
            under=Supervision(
                sink, Deadline(max(ctx.deadline.remaining(), 60.0)), ctx.stop, ctx.grace
            ),
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return read_results(out)


def merged_verdict(
    results: Results | None,
    results_error: str | None,
    states: list[ShardState],
    *,
    flaky_policy: FlakyPolicy,
    allow_no_tests: bool,
) -> Verdict:
    """The single run's verdict over the merged JUnit, then the shards that are missing or
    ended badly: a test failure stays exit 1, a shard without results makes an otherwise
    clean merge exit 3 (the results are incomplete), and a shard that ended in any other
    non-zero way (deadline, not ready, ...) lends its code to an otherwise passing merge."""
    base = decide(
        RunFacts(results=results, results_error=results_error),
        flaky_policy=flaky_policy,
        allow_no_tests=allow_no_tests,
    )
    mixed = _mixed_commits(states)
    if mixed:
        return Verdict(ExitCode.INFRASTRUCTURE_ERROR, mixed)
    missing = [f"shard {s.index} ({s.missing_why})" for s in states if s.missing_why]
    ended_badly = [
        (s.index, s.latest.outcome, s.latest.exit_code)
        for s in states
        if s.latest and not s.missing_why and s.latest.exit_code not in (None, 0)
    ]
    named = "; ".join(
        [f"missing results: {', '.join(missing)}"] * bool(missing)
        + [f"shard {i} ended {outcome} (exit {code})" for i, outcome, code in ended_badly]
    )
    if missing and base.code is not ExitCode.TESTS_FAILED:
        return Verdict(ExitCode.INFRASTRUCTURE_ERROR, f"{named}; the others: {base.reason}")
    if base.passed and ended_badly:
        return Verdict(_exit_code(ended_badly[0][2]), named, base.warnings)
    if named:
        return Verdict(base.code, f"{base.reason}; {named}", base.warnings)
    return base


def _mixed_commits(states: list[ShardState]) -> str | None:
    """Shards whose tests came from different commits (TESTS_REPO) are not one run: the
    merged results would mix two suites. None when they agree (or nothing was fetched)."""
    ran = {s.index: s.latest.tests_commit for s in states if s.latest and not s.missing_why}
    if len(set(ran.values())) <= 1 or not any(ran.values()):
        return None
    named = ", ".join(
        f"shard {index} at {commit[:12] if commit else '(tests not fetched)'}"
        for index, commit in sorted(ran.items())
    )
    return (
        f"the shards ran different test commits ({named}): the merged results would mix "
        "suites; give every shard the same TESTS_REVISION (a full commit id) and verify again"
    )


def _exit_code(code: int) -> ExitCode:
    try:
        return ExitCode(code)
    except ValueError:
        return ExitCode.INFRASTRUCTURE_ERROR


def _describe(state: ShardState) -> str:
    if state.missing_why or state.latest is None:
        return f"MISSING: {state.missing_why}"
    retry = " (a retry)" if state.latest.attempt > 1 else ""
    return f"attempt {state.latest.attempt}{retry}, {state.latest.outcome}"


def _shard_entry(run: RunLayout, state: ShardState) -> dict[str, object]:
    latest = state.latest
    return {
        "shard": state.index,
        "attempt": latest.attempt if latest else None,
        "outcome": latest.outcome if latest else "never started",
        "exit_code": latest.exit_code if latest else None,
        "tests_commit": latest.tests_commit if latest else None,
        "missing": state.missing_why,
        "log": str(run.for_shard(state.index).attempt(latest.attempt).log) if latest else None,
    }


def _swap_in(new: Path, final: Path, *, aside: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        final.rename(aside)
    new.rename(final)
    shutil.rmtree(aside, ignore_errors=True)


def _names(indexes: list[int]) -> str:
    return ", ".join(str(i) for i in indexes)
