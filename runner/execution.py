"""`verification-runner run`: one attempt of a verification, from identity to verdict.

identity -> attempt (lock, ledger) -> log file -> Playwright (discovery is its first
reporter event, so it costs no second start) -> JUnit verdict -> summary, metadata,
termination message -> exit code. Whatever happens, the log is flushed, the metadata is
rewritten with the outcome, the ledger gets its end line and no child process survives.
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

from runner import __version__, kube, playwright, readiness, wrapup
from runner.commands import identity_of
from runner.context import RunContext
from runner.control import Deadline, StopRequest
from runner.errors import ConfigError, InfrastructureError, RunnerError
from runner.exitcodes import ExitCode
from runner.fetching import phase as fetching
from runner.judging.results import (
    Results,
    ResultsBroken,
    read_flaky_from_json,
    read_junit,
    with_flaky,
)
from runner.judging.verdict import RunFacts, Verdict, decide
from runner.metadata import ResourceUsage, initial_metadata, write_metadata
from runner.process import ProcessOutcome, become_subreaper, kill_descendants, run_streaming
from runner.secrets import Redactor, is_secret_name
from runner.settings import Settings
from runner.tee import LogSink
from runner.trees import check_trees
from runner.volume.artifacts import RunLayout, publish_job_log
from runner.volume.attempts import Host, begin_attempt
from runner.volume.reserve import SpaceReserve

TAIL_BYTES = 64 * 1024


def run_verification(
    settings: Settings,
    *,
    playwright_args: Sequence[str],
    base_env: Mapping[str, str],
    sink: LogSink | None = None,
) -> ExitCode:
    sink = sink or LogSink(redactor=_redactor(settings, base_env))
    stop, deadline = StopRequest(), Deadline(settings.run_deadline_seconds)
    become_subreaper()
    with stop.installed():
        identity = identity_of(settings)
        sink.say(
            f"verification-runner {__version__}: run {identity.run_name} "
            f"(identity from {identity.source.value}"
            + (f": {identity.original!r})" if identity.original else ")")
        )
        try:
            attempt = begin_attempt(
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
            )
        except RunnerError as exc:
            sink.say(f"VERIFICATION NOT RUN (exit {int(exc.exit_code)}): {exc}")
            sink.close()
            return exc.exit_code
        except OSError as exc:  # the volume failed between the run directory and the attempt
            sink.say(f"VERIFICATION NOT RUN (exit 3): the artifact volume failed: {exc}")
            sink.close()
            return ExitCode.INFRASTRUCTURE_ERROR
        ctx = RunContext(
            settings, attempt, sink, deadline, stop, initial_metadata(settings, attempt), base_env
        )
        return _run_attempt(ctx, playwright_args)


def _redactor(settings: Settings, base_env: Mapping[str, str]) -> Redactor:
    """Mask secret-looking variables and every readiness header value, whatever its
    variable is called: a test that prints one must not put it into the evidence."""
    values = [v for k, v in base_env.items() if is_secret_name(k)]
    for check in settings.ready_checks or ():
        for header in check.headers:
            if header.secret is not None:
                values.append(header.secret.get_secret_value())
            elif header.value_from_file is not None:
                with contextlib.suppress(OSError):
                    values.append(header.value_from_file.read_text(encoding="utf-8").strip())
    if settings.git_credentials_dir is not None:  # git's password, should anything print it
        with contextlib.suppress(OSError, UnicodeDecodeError):
            values.append((settings.git_credentials_dir / "password").read_text("utf-8").strip())
    return Redactor(values)


def _run_attempt(ctx: RunContext, playwright_args: Sequence[str]) -> ExitCode:
    attempt, sink = ctx.attempt, ctx.sink
    verdict = Verdict(ExitCode.INFRASTRUCTURE_ERROR, "the runner stopped unexpectedly")
    results: Results | None = None
    reserve = SpaceReserve(None)
    try:
        sink.open_file(attempt.layout.log)
        # Room for the summary, metadata, ledger end line and verdict line, should the tests
        # fill the volume (runner/volume/reserve.py); given back just before they are written.
        reserve = SpaceReserve.take(attempt.layout.dir)
        _publish_log(ctx)
        _announce(ctx)
        _lookup_promotion(ctx)
        write_metadata(attempt.layout.metadata, ctx.metadata, sink.redactor)
        verdict, results = _verify(ctx, playwright_args)
    except RunnerError as exc:
        verdict = Verdict(exc.exit_code, str(exc))
    except OSError as exc:  # the artifact volume failed under us (full, read-only, gone)
        verdict = Verdict(ExitCode.INFRASTRUCTURE_ERROR, f"the artifact volume failed: {exc}")
    except Exception:  # a bug of ours: keep the evidence, report exit 3, never a pass
        sink.say("internal error:\n" + traceback.format_exc())
        verdict = Verdict(ExitCode.INFRASTRUCTURE_ERROR, "internal error in the runner (see log)")
    finally:
        kill_descendants(grace=ctx.settings.kill_grace_seconds)
        if ctx.fetched is not None:
            ctx.fetched.remove()
        if ctx.stop.requested and verdict.code not in (ExitCode.INTERRUPTED, ExitCode.TERMINATED):
            verdict = Verdict(
                ctx.stop.exit_code,
                f"interrupted ({ctx.stop.exit_code.outcome}) after: {verdict.reason}",
            )
        reserve.release()
        wrapup.finish(ctx, verdict, results)
    return verdict.code


def _lookup_promotion(ctx: RunContext) -> None:
    """Learn the promotion behind this Job from the API; log, never fail, on any problem."""
    settings = ctx.settings
    if not (
        settings.lookup_promotion
        and settings.kubernetes_service_host
        and settings.pod_namespace
        and settings.job_name
    ):
        return
    try:
        client = kube.ApiClient.in_cluster(
            settings.kubernetes_service_host,
            settings.kubernetes_service_port,
            settings.service_account_dir,
        )
        found = kube.lookup(client, settings.pod_namespace, settings.job_name)
    except kube.LookupFailed as exc:
        ctx.sink.say(f"promotion lookup skipped: {exc} (LOOKUP_PROMOTION=false silences this)")
        return
    ctx.sink.say(
        f"verifying promotion {found.promotion or '(none: a reverification)'} of stage "
        f"{found.stage or '?'} (AnalysisRun {found.analysis_run})"
    )
    ctx.metadata = ctx.metadata.model_copy(
        update={
            "analysis_run_name": found.analysis_run,
            "freight_collection": found.freight_collection,
            "promotion": ctx.metadata.promotion or found.promotion,
            "stage": ctx.metadata.stage or found.stage,
        }
    )


def _announce(ctx: RunContext) -> None:
    attempt, sink = ctx.attempt, ctx.sink
    shard, count = ctx.settings.shard, ctx.settings.shard_count
    of_shard = "" if shard is None else f" of shard {shard} ({shard + 1}/{count})"
    sink.say(f"attempt {attempt.number}{of_shard} in {attempt.layout.dir}")
    if attempt.previous:
        sink.say(
            "WARNING: this is a RETRY of a run that was started before:\n"
            + "\n".join(f"  - {record.describe()}" for record in attempt.previous)
        )


def _publish_log(ctx: RunContext) -> None:
    settings = ctx.settings
    if settings.pod_namespace and settings.job_name:
        # A shard of parallel metrics (SHARD_INDEX) is its own Job: its log goes under that
        # name, which Kargo's urlTemplate asks for. The pods of an Indexed Job share the Job's
        # name: each shard gets its own entry, and the merge points the Job's name at the
        # merged log (runner/sharding.py).
        name = settings.job_name
        if settings.shards_share_the_job:
            name = f"{name}.shard-{settings.shard}"
        link = publish_job_log(
            settings.artifact_root, settings.pod_namespace, name, ctx.attempt.layout.log
        )
        if link is None:
            ctx.sink.say(f"not indexing the log of job {settings.job_name!r}: not a valid name")


def _verify(ctx: RunContext, playwright_args: Sequence[str]) -> tuple[Verdict, Results | None]:
    fetched = fetching.fetch(ctx)
    if fetched:  # TESTS_REPO: the workspace is the fetched checkout, removed when the run ends
        ctx.fetched = fetched
        ctx.metadata = ctx.metadata.model_copy(update=asdict(fetching.Provenance.of(fetched)))
        write_metadata(ctx.attempt.layout.metadata, ctx.metadata, ctx.sink.redactor)
        fetching.install(ctx, fetched)
        ctx.settings = ctx.settings.model_copy(update={"tests_workspace": fetched.workspace})
    settings, layout = ctx.settings, ctx.attempt.layout
    if not settings.tests_workspace.is_dir():
        raise ConfigError(f"TESTS_WORKSPACE={settings.tests_workspace} is not a directory")
    if not (settings.playwright_home / playwright.CONFIG_FILE).is_file():
        raise ConfigError(
            f"PLAYWRIGHT_HOME={settings.playwright_home} holds no "
            f"{playwright.CONFIG_FILE}; point it at the runner's Node side"
        )
    suite = settings.suite or ("kargo" if ctx.attempt.identity.is_kargo_execution else "local")
    playwright.check_arguments(playwright_args, kargo=suite == "kargo")
    try:
        check_trees(
            settings.tests_workspace,
            settings.central_tests_dir,
            settings.plugin_tests_glob,
            glob_is_explicit="plugin_tests_glob" in settings.model_fields_set,
            allow_no_tests=settings.allow_no_tests,
            say=ctx.sink.say,
        )
    except ConfigError:
        hint = fetching.no_tests_hint(settings)
        if hint:
            ctx.sink.say(hint)
        raise
    env = playwright.environment(settings, layout, base=ctx.base_env, suite=suite)
    node, pw = playwright.versions(settings.playwright_home, env)
    ctx.metadata.versions.node, ctx.metadata.versions.playwright = node, pw
    if pw is None:  # else npx fails with an npm message and the verdict blames the JUnit file
        raise InfrastructureError(
            f"@playwright/test is not installed in PLAYWRIGHT_HOME={settings.playwright_home} "
            "(no node_modules/@playwright/test): run `npm ci` there, or use the runner's image"
        )
    ctx.sink.say(
        f"suite {suite}; workspace {settings.tests_workspace}; target "
        f"{settings.base_url or 'local webServer on ' + env['LOCAL_SITE_DIR']}"
    )
    ctx.stop.check("start-up")
    ctx.deadline.check("start-up")
    _wait_for_target(ctx)
    outcome = run_streaming(
        playwright.command(
            settings.playwright_home,
            playwright_args,
            shard=settings.shard,
            shards=settings.shard_count,
        ),
        env=env,
        cwd=settings.playwright_home,
        sink=ctx.sink,
        deadline=ctx.deadline,
        stop=ctx.stop,
        grace=settings.kill_grace_seconds,
    )
    ctx.metadata.resources = ResourceUsage(
        peak_rss_bytes=outcome.peak_rss_bytes,
        cpu_seconds=outcome.cpu_seconds,
        samples=outcome.samples,
    )
    return _judge(ctx, outcome)


def _wait_for_target(ctx: RunContext) -> None:
    """The readiness gate; its report goes into the metadata whether the target came up or not."""
    try:
        report = readiness.gate(ctx.settings, overall=ctx.deadline, stop=ctx.stop, say=ctx.sink.say)
    except readiness.NotReady as exc:
        ctx.metadata.readiness = exc.report.as_metadata()
        raise
    ctx.metadata.readiness = report.as_metadata()


def _judge(ctx: RunContext, outcome: ProcessOutcome) -> tuple[Verdict, Results | None]:
    layout = ctx.attempt.layout
    discovery = playwright.read_discovery(playwright.discovery_file(layout))
    results: Results | None = None
    results_error = None
    try:
        results = with_flaky(read_junit([layout.junit]), read_flaky_from_json(layout.json_results))
    except ResultsBroken as exc:
        results_error = str(exc)
    facts = RunFacts(
        results=results,
        results_error=results_error,
        returncode=outcome.returncode,
        stopped_for=outcome.stopped_for,
        stop_code=ctx.stop.exit_code,
        discovered=_discovered(discovery),
        playwright_error=discovery.first_error if discovery else _first_error(layout.log),
        empty_shard=ctx.settings.shard is not None
        and discovery is not None
        and discovery.total == 0
        and not discovery.errors,
    )
    if facts.discovered == 0:
        ctx.sink.say(
            f"no tests found in {ctx.settings.tests_workspace} under "
            f"{ctx.settings.central_tests_dir} and {ctx.settings.plugin_tests_glob} "
            "(*.spec.ts, *.spec.js, *.spec.mjs)"
        )
        hint = fetching.no_tests_hint(ctx.settings)
        if hint:
            ctx.sink.say(hint)
    return decide(
        facts, flaky_policy=ctx.settings.flaky_policy, allow_no_tests=ctx.settings.allow_no_tests
    ), results


def _discovered(discovery: playwright.Discovery | None) -> int | None:
    """0 only for a clean "No tests found"; None when a load error hid the real count."""
    if discovery is None:
        return None
    if discovery.no_tests:
        return 0
    return discovery.total or None


def _first_error(log: Path) -> str | None:
    """The first `Error:` line Playwright printed, when it failed before any reporter ran
    (a config that throws, a missing browser, a broken install)."""
    try:
        with log.open("rb") as handle:
            handle.seek(max(0, log.stat().st_size - TAIL_BYTES))
            tail = handle.read().decode("utf-8", "replace")
    except OSError:
        return None
    for line in tail.splitlines():
        stripped = line.strip()
        # "error: " is commander's usage error (an unknown option, a missing value).
        if stripped.startswith(("Error:", "Error [", "error: ")):
            return stripped[:500]
    return None
