"""After the verdict: what people read is written first, then the attempt is recorded, then a
sharded run may merge and old runs are pruned. Each step survives the others' failures, and
the summary line stays the last line of the log.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from runner import sharding
from runner.config.derived import retention_policy
from runner.context import RunContext
from runner.fetch import mismatch_warning
from runner.judging.report import (
    Summary,
    build_summary,
    summary_line,
    write_summary,
    write_termination_message,
)
from runner.judging.results import Results
from runner.judging.verdict import Verdict
from runner.log.scrub import scrub_tree
from runner.metadata import ExecutionMetadata, write_metadata
from runner.volume.cleanup import cleanup


def finish(
    ctx: RunContext, verdict: Verdict, results: Results | None, metadata: ExecutionMetadata
) -> None:
    """Write everything people read, then record the outcome. Each step survives the others.

    The caller closes the sink after this: the summary line is the last thing said."""
    layout, sink, now = ctx.attempt.layout, ctx.sink, datetime.now(UTC)
    _scrub(ctx)
    tests = metadata.tests_provenance()  # the tests fetched from Git (runner/fetching)
    if tests is not None:
        warning = mismatch_warning(metadata.freight_commit, tests["tests_commit"])
        if warning:
            verdict = replace(verdict, warnings=(warning, *verdict.warnings))
    html = layout.html_report if (layout.html_report / "index.html").exists() else None
    summary = build_summary(
        verdict=verdict,
        results=results,
        run_name=ctx.attempt.run.run_name,
        attempt=ctx.attempt.number,
        html_report=html,
        log=layout.log,
        finished_at=now,
        tests=tests,
    )
    try:
        write_summary(layout.summary, summary, sink.redactor)
    except OSError as exc:
        sink.say(f"could not write summary.json: {exc}")
    try:
        _termination(ctx, summary)
    except OSError as exc:
        sink.say(f"could not write the termination message: {exc}")
    try:
        write_metadata(layout.metadata, metadata.ended(verdict, now), sink.redactor)
    except OSError as exc:
        sink.say(f"could not write the metadata: {exc}")
    for warning in verdict.warnings:
        sink.say(warning)
    try:
        ctx.attempt.finish(
            verdict.code,
            tests_repo=tests["tests_repo"] if tests else None,
            tests_commit=tests["tests_commit"] if tests else None,
        )
        _merge_shards(ctx)
        _retention(ctx)
    finally:
        if missed := sink.console_report():
            sink.say(missed)
        sink.say(summary_line(summary))  # the verdict stays the last line of the log


def _scrub(ctx: RunContext) -> None:
    """Mask secrets in what Playwright wrote (runner/log/scrub.py) before anything is published."""
    layout = ctx.attempt.layout
    try:
        report = scrub_tree(layout.dir, ctx.sink.redactor, skip=frozenset({layout.log}))
    except OSError as exc:
        ctx.sink.say(f"WARNING: could not mask secrets in Playwright's reports: {exc}")
        return
    for failed in report.failed:
        ctx.sink.say(f"WARNING: could not mask secrets in {failed}")


def _merge_shards(ctx: RunContext) -> None:
    """A sharded run's last shard merges every shard's results (runner/sharding.py). Only
    logged: this shard's own verdict and exit code are already decided."""
    settings = ctx.settings
    if settings.shard is None:
        return
    merge = sharding.MergeContext(
        run=ctx.attempt.run,
        shard=settings.shard,
        count=settings.shard_count,
        host=ctx.attempt.host,
        home=settings.playwright_home,
        base_env=ctx.base_env,
        deadline=ctx.deadline,
        stop=ctx.stop,
        grace=settings.kill_grace_seconds,
        flaky_policy=settings.flaky_policy,
        allow_no_tests=settings.allow_no_tests,
        namespace=settings.pod_namespace,
        # Only a Job that all shards share shows the merged log under its name; a shard that is
        # its own Job keeps its own log there (the merge result is at its end, too).
        job_name=settings.job_name if settings.shards_share_the_job else None,
        redactor=ctx.sink.redactor,
    )
    try:
        sharding.merge_when_last(merge, ctx.sink.say)
    except Exception as exc:  # the merge must never change a shard's verdict
        ctx.sink.say(f"merge failed: {exc!r}")


def _retention(ctx: RunContext) -> None:
    """Prune old runs once this one's results and ledger end line are on disk. Whatever
    happens here is only logged: the verdict is on disk before it starts, and it never
    changes the exit code."""
    if not ctx.settings.retention_enabled:
        return
    try:
        report = cleanup(
            ctx.settings.artifact_root,
            retention_policy(ctx.settings),
            current=ctx.attempt.run.run_name,
            # A SIGTERM or the run deadline ends retention between two runs: the verdict is
            # already on disk, and a Job killed at activeDeadlineSeconds would be Failed.
            should_stop=lambda: ctx.stop.requested or ctx.deadline.expired(),
        )
        busy = report.outcomes or report.failures or report.stopped_early
        lines = report.lines(verbose=False) if busy else []
    except Exception as exc:  # retention must never fail a verification
        lines = [f"retention skipped: {exc}"]
    for line in lines:
        ctx.sink.say(line)


def _termination(ctx: RunContext, summary: Summary) -> None:
    # Kubernetes creates the file in a pod; elsewhere /dev/termination-log must not be made.
    path = ctx.settings.termination_message_path
    explicit = "termination_message_path" in ctx.settings.model_fields_set
    if explicit or path.exists():
        write_termination_message(path, summary, ctx.sink.redactor)
