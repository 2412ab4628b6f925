"""`verification-runner run`: one attempt of a verification, from identity to verdict.

This module only orders the phases; each lives in the module that owns its subject and
returns what it learned (the metadata is rebuilt from those values, never edited in place):

1. identity (identity.py), then the attempt: active lock, number, ledger line (volume/)
2. the log file, the space reserve, the Job's log index entry, the retry warning
3. the promotion behind the Job (kube.py); the first metadata file (metadata.py)
4. the tests' workspace: fetched from Git or mounted, its trees checked (workspace.py)
5. Playwright's config, environment and installation (playwright.py)
6. the readiness gate (readiness.py)
7. Playwright itself, through the tee (processes/child.py, log/tee.py)
8. the verdict from what it left behind (judging/judge.py)

Whatever happens, no child process survives, then summary, metadata, termination message,
ledger end line, merge and retention are written (wrapup.py) and the log is closed. A fetched
checkout is only renamed aside before that, and deleted after it (workspace.discard).
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path

from runner import __version__, kube, playwright, readiness, target, wrapup
from runner import workspace as workspace_of
from runner.config import settings_view
from runner.config.derived import identity_of, redactor_for
from runner.config.settings import Settings
from runner.context import RunContext
from runner.contract.errors import Failure, failure_of
from runner.contract.exitcodes import ExitCode
from runner.fetch import Provenance
from runner.fetching.scratch import SetAside
from runner.identity import RunIdentity, analysis_run_uid, rollouts_warning
from runner.judging.judge import judge_attempt
from runner.judging.pertree import TreeCount
from runner.judging.results import Results
from runner.judging.verdict import Verdict
from runner.log.tee import LogSink
from runner.metadata import ResourceUsage, Versions, initial_metadata, write_metadata
from runner.processes.bounds import Deadline, StopRequest
from runner.processes.child import ProcessOutcome, become_subreaper, kill_descendants, run_streaming
from runner.volume.artifacts import RunLayout, ignore_in_git, publish_job_log
from runner.volume.attempts import Attempt, begin_attempt
from runner.volume.ledger import Host
from runner.volume.reserve import SpaceReserve

VOLUME_FAILED = "the artifact volume failed"  # what an OSError means once the run has begun


def run_verification(
    settings: Settings,
    *,
    playwright_args: Sequence[str],
    base_env: Mapping[str, str],
    sink: LogSink | None = None,
) -> ExitCode:
    stop, deadline = StopRequest(), Deadline(settings.run_deadline_seconds)
    become_subreaper()
    sink = sink or LogSink(redactor=redactor_for(settings, base_env))
    with stop.installed(), sink:
        identity = identity_of(settings)
        sink.say(
            f"verification-runner {__version__}: run {identity.run_name} "
            f"(identity from {identity.source.value}"
            + (f": {identity.original!r})" if identity.original else ")")
        )
        settings_view.say_in_effect(settings, sink.say)
        try:
            attempt = _begin(settings, identity, deadline, stop, sink)
        except Exception as exc:
            failure = _failure(exc, sink)
            sink.say(f"VERIFICATION NOT RUN (exit {int(failure.code)}): {failure.reason}")
            return failure.code
        if settings.local_default_root:
            with contextlib.suppress(OSError):  # a convenience; never a reason to fail
                ignore_in_git(settings.artifact_root)
        return _run_attempt(
            RunContext(settings, attempt, sink, deadline, stop, base_env), playwright_args
        )


def _run_attempt(ctx: RunContext, playwright_args: Sequence[str]) -> ExitCode:
    settings, layout, sink = ctx.settings, ctx.attempt.layout, ctx.sink
    verdict = Verdict(ExitCode.INFRASTRUCTURE_ERROR, "the runner stopped unexpectedly")
    results: Results | None = None
    tree_counts: tuple[TreeCount, ...] = ()
    metadata = initial_metadata(settings, ctx.attempt)
    reserve = SpaceReserve(None)
    undo = contextlib.ExitStack()  # what the phases leave to undo once no child is left
    aside: list[SetAside] = []  # fetched checkouts set aside, deleted after the verdict
    try:
        sink.open_file(layout.log)
        # Room for the summary, metadata, ledger end line and verdict line, should the tests
        # fill the volume (runner/volume/reserve.py); given back just before they are written.
        reserve = SpaceReserve.take(layout.dir)
        _publish_log(ctx)
        sink.say(ctx.attempt.announcement(settings.shard_count))
        warning = rollouts_warning(analysis_run_uid(settings.analysis_run_uid, settings.job_name))
        if warning:
            sink.say(warning)
        found = kube.from_the_api(settings, sink.say)
        metadata = metadata.with_kargo(found.kargo)
        kube.bound_by_the_job(
            ctx.deadline, found.job_time_left, settings.kill_grace_seconds, sink.say
        )
        write_metadata(layout.metadata, metadata, sink.redactor)
        target.check_target(settings)  # before the fetch: a Kargo run must name its target
        fetched = workspace_of.fetch_tests(ctx, undo, aside)
        if fetched is not None:
            metadata = metadata.learned(**asdict(Provenance.of(fetched)))
            write_metadata(layout.metadata, metadata, sink.redactor)
        workspace, trees, settings = workspace_of.tests_workspace(ctx, fetched)
        ctx = replace(ctx, settings=settings)  # the trees it runs (a Backstage app's layout)
        env, node, version = playwright.prepare(
            settings,
            layout,
            workspace=workspace,
            base=ctx.base_env,
            kargo=ctx.attempt.identity.is_kargo_execution,
            args=playwright_args,
            say=sink.say,
        )
        metadata = metadata.learned(versions=Versions(node=node, playwright=version))
        playwright.check_installed(settings.playwright_home, version, env.get("PATH"))
        ctx.stop.check("start-up")
        ctx.deadline.check("start-up")
        gate = readiness.gate(settings, overall=ctx.deadline, stop=ctx.stop, say=sink.say)
        metadata = metadata.learned(readiness=gate.as_metadata())
        outcome = _run_playwright(ctx, env, playwright_args, workspace)
        metadata = metadata.learned(resources=ResourceUsage.of(outcome))
        verdict, results, tree_counts = judge_attempt(
            layout,
            outcome,
            settings,
            workspace=workspace,
            trees=trees,
            stop_code=ctx.stop.exit_code,
            say=sink.say,
        )
    except Exception as exc:
        if isinstance(exc, readiness.NotReady):  # what the gate saw is evidence too
            metadata = metadata.learned(readiness=exc.report.as_metadata())
        failure = _failure(exc, sink)
        verdict = Verdict(failure.code, failure.reason)
    finally:
        kill_descendants(grace=settings.kill_grace_seconds)
        undo.close()
        verdict = _unless_stopped(ctx.stop, verdict)
        reserve.release()
        code = wrapup.finish(ctx, verdict, results, metadata, tree_counts)
        workspace_of.discard(aside, ctx)
    return code


def _run_playwright(
    ctx: RunContext, env: dict[str, str], playwright_args: Sequence[str], workspace: Path
) -> ProcessOutcome:
    settings, home = ctx.settings, ctx.settings.playwright_home
    shard, count = settings.shard, settings.shard_count
    return run_streaming(
        playwright.command(home, playwright_args, shard=shard, shards=count),
        env=env,
        # Relative paths in specs and the workspace config mean what their authors meant.
        cwd=workspace,
        under=ctx.supervision,
    )


def _unless_stopped(stop: StopRequest, verdict: Verdict) -> Verdict:
    """A SIGTERM or SIGINT during the attempt decides the exit code, whatever else failed."""
    if not stop.requested or verdict.code in (ExitCode.INTERRUPTED, ExitCode.TERMINATED):
        return verdict
    code = stop.exit_code
    return Verdict(code, f"interrupted ({code.outcome}) after: {verdict.reason}")


def _failure(exc: Exception, sink: LogSink) -> Failure:
    failure = failure_of(exc, os_error=VOLUME_FAILED)
    if failure.internal:  # a bug of ours: keep the evidence, report exit 3, never a pass
        sink.say("internal error:\n" + traceback.format_exc())
    return failure


def _begin(
    settings: Settings, identity: RunIdentity, deadline: Deadline, stop: StopRequest, sink: LogSink
) -> Attempt:
    return begin_attempt(
        RunLayout(settings.artifact_root, identity.run_name, settings.shard),
        identity=identity,
        host=Host(
            pod=settings.pod_name,
            job=settings.job_name,
            node=settings.node_name,
            namespace=settings.pod_namespace,
        ),
        on_duplicate=settings.on_duplicate,
        wait_seconds=deadline.remaining(),
        say=sink.say,
        check_stop=stop.check,
        shard_count=settings.shard_count if settings.shard is not None else None,
    )


def _publish_log(ctx: RunContext) -> None:
    settings = ctx.settings
    if settings.pod_namespace and settings.job_name:
        # A shard (one metric each) is its own Job: its log goes under that name too, which
        # Kargo's urlTemplate asks for.
        try:
            link = publish_job_log(
                settings.artifact_root,
                settings.pod_namespace,
                settings.job_name,
                ctx.attempt.layout.log,
            )
        except OSError as exc:  # the index is a convenience; the run goes on without it
            ctx.sink.say(f"not indexing the log of job {settings.job_name!r}: {exc}")
            return
        if link is None:
            ctx.sink.say(f"not indexing the log of job {settings.job_name!r}: not a valid name")
