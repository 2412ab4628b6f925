"""After the verdict: what people read is written first, then the attempt is recorded, then a
sharded run may merge and old runs are pruned. Each step survives the others' failures, and
the summary line stays the last line of the log (a shard that merged ends with the merged
one, whose verdict is then its exit code and its termination message).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from runner import readiness, sharding, target
from runner.config.derived import retention_policy
from runner.context import RunContext
from runner.contract.exitcodes import ExitCode
from runner.fetch import mismatch_warning
from runner.judging.pertree import TreeCount
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
    ctx: RunContext,
    verdict: Verdict,
    results: Results | None,
    metadata: ExecutionMetadata,
    trees: Sequence[TreeCount] = (),
) -> ExitCode:
    """Write everything people read, then record the outcome. Each step survives the others.
    Returns the exit code: the verdict's, or the merged verdict's when this shard merged.

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
        trees=trees,
        target=target.label(ctx.settings),
        deployment=readiness.deployment_label(
            metadata.readiness,
            configured=bool(ctx.settings.prove_workload or ctx.settings.prove_version_url),
        ),
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
    merged: Summary | None = None
    code = verdict.code
    try:
        ctx.attempt.finish(
            verdict.code,
            tests_repo=tests["tests_repo"] if tests else None,
            tests_commit=tests["tests_commit"] if tests else None,
        )
        try:
            merged = _merge_shards(ctx)
        except Exception as exc:  # no merged verdict is never a pass
            code = code or ExitCode.INFRASTRUCTURE_ERROR
            sink.say(f"merge failed: {exc!r}; this shard exits {int(code)}")
        if merged is not None:
            code = ExitCode(merged.exit_code)
            try:
                _termination(ctx, merged)  # the pod's message: the verdict it exits with
            except OSError as exc:
                sink.say(f"could not write the termination message: {exc}")
        _retention(ctx)
    finally:
        if missed := sink.console_report():
            sink.say(missed)
        sink.say(summary_line(summary))  # the verdict stays the last line of the log
        if merged is not None:
            sink.say(f"[merged, the exit code] {summary_line(merged)}")
    return code


def _scrub(ctx: RunContext) -> None:
    """Mask secrets in what Playwright wrote (runner/log/scrub.py) before anything is published."""
    layout = ctx.attempt.layout
    try:
        report = scrub_tree(layout.dir, ctx.sink.redactor, skip=frozenset({layout.log}))
    except Exception as exc:  # the verdict must survive whatever the files are
        ctx.sink.say(f"WARNING: could not mask secrets in Playwright's reports: {exc!r}")
        return
    for failed in report.failed:
        ctx.sink.say(f"WARNING: could not mask secrets in {failed}")


def _merge_shards(ctx: RunContext) -> Summary | None:
    """A sharded run's shard merges every shard's results once none is running
    (runner/sharding.py); the merged summary when this shard merged, else None."""
    settings = ctx.settings
    if settings.shard is None:
        return None
    merge = sharding.MergeContext(
        run=ctx.attempt.run,
        count=settings.shard_count,
        host=ctx.attempt.host,
        home=settings.playwright_home,
        base_env=ctx.base_env,
        deadline=ctx.deadline,
        start_wait=settings.shard_start_wait_seconds,
        stop=ctx.stop,
        termination_grace=settings.termination_grace_seconds,
        grace=settings.kill_grace_seconds,
        flaky_policy=settings.flaky_policy,
        allow_no_tests=settings.allow_no_tests,
        allow_empty_trees=settings.allow_empty_trees,
        target=target.label(settings),
        redactor=ctx.sink.redactor,
    )
    return sharding.merge_when_done(merge, ctx.sink.say)


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
