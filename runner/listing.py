"""`verification-runner list`: what a run would execute, per tree and project, without running
it: no run directory, no attempt, no ledger line, no browser and no webServer.

It asks the real Playwright with the run's own config and environment (`playwright test
--list --reporter=json`), so the answer is the run's: the workspace config, TEST_MATCH, the
plugin globs, the suite's @local rule and any `--grep` given.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from runner import playwright
from runner.config.derived import identity_of, redactor_for
from runner.config.settings import Settings
from runner.contract import jsontext
from runner.contract.errors import ConfigError, DeadlineExceeded, InfrastructureError
from runner.contract.exitcodes import ExitCode
from runner.judging.discovery import NO_TESTS_ERROR
from runner.log.tee import LogSink
from runner.processes.bounds import Deadline, StopRequest
from runner.processes.child import Captured, Supervision, become_subreaper, run_streaming
from runner.volume.artifacts import AttemptLayout
from runner.workspace import check_configured_trees, trees_settings


@dataclass(frozen=True)
class ListedTest:
    project: str
    file: str  # relative to the workspace
    line: int
    title: str  # describe blocks and the test's title, joined by Playwright's separator


def _tests(suite: Mapping[str, Any], titles: tuple[str, ...] = ()) -> Iterator[ListedTest]:
    for spec in suite.get("specs") or ():
        title = " \u203a ".join([*titles, str(spec["title"])])
        for test in spec.get("tests") or ():
            yield ListedTest(str(test["projectName"]), str(spec["file"]), int(spec["line"]), title)
    for child in suite.get("suites") or ():
        yield from _tests(child, (*titles, str(child["title"])))


def parse(report: Mapping[str, Any]) -> tuple[list[ListedTest], list[str], dict[str, str]]:
    """The tests, the load errors and each project's test directory from Playwright's JSON."""
    tests = [test for suite in report.get("suites") or () for test in _tests(suite)]
    errors = [str(e.get("message", e)).split("\n")[0] for e in report.get("errors") or ()]
    root = str(report.get("config", {}).get("rootDir", "."))
    dirs = {
        str(p["name"]): os.path.relpath(str(p["testDir"]), root)
        for p in report.get("config", {}).get("projects") or ()
    }
    return tests, errors, dirs


def _first_error(stderr: str) -> str:
    for line in stderr.splitlines():
        if line.strip().lower().startswith("error"):
            return line.strip()[:500]
    return stderr.strip().splitlines()[-1][:500] if stderr.strip() else "no output"


def _ask_playwright(
    settings: Settings,
    workspace: Path,
    args: Sequence[str],
    base_env: Mapping[str, str],
    suite: str,
) -> tuple[str, str]:
    """Playwright's JSON listing (its text, possibly empty) and what it printed (the JSON goes
    to a file, so that is its warnings and errors)."""
    home = settings.playwright_home
    with tempfile.TemporaryDirectory(prefix="verification-runner-list-") as scratch:
        # The report locations point into a scratch directory: nothing is written anywhere
        # else. The JSON reporter writes to PLAYWRIGHT_JSON_OUTPUT_NAME, inside it.
        layout = AttemptLayout(Path(scratch), 0)
        env = playwright.environment(
            settings, layout, workspace=workspace, base=base_env, suite=suite
        )
        command = playwright.command(home, ["--list", "--reporter=json", *args])
        # Under the one wrapper, as `run` starts Playwright: the reaper, the deadline, SIGINT to
        # the tree on a signal. What it prints goes to a scratch log, not to the console.
        said, stop = Captured(), StopRequest()
        become_subreaper()  # a descendant that detaches still comes back to be stopped
        with (
            open(os.devnull, "wb") as console,
            LogSink(console_fd=console.fileno()) as sink,
            stop.installed(),
        ):
            sink.open_file(Path(scratch) / "list.log")
            under = Supervision(
                sink, Deadline(settings.run_deadline_seconds), stop, settings.kill_grace_seconds
            )
            outcome = run_streaming(command, env=env, cwd=workspace, under=under, observe=said)
        stop.check("listing the tests")
        if outcome.stopped_for == "deadline":
            raise DeadlineExceeded(
                f"listing took longer than RUN_DEADLINE_SECONDS={settings.run_deadline_seconds:g}"
            )
        try:
            return layout.json_results.read_text(encoding="utf-8"), said.text()
        except OSError:
            return "", said.text()


def list_tests(
    settings: Settings,
    *,
    playwright_args: Sequence[str],
    base_env: Mapping[str, str],
    as_json: bool,
    echo: Callable[[str], None],
    warn: Callable[[str], None],
) -> ExitCode:
    # What `run` refuses changes what `list` would show as well (--reporter, --config ...).
    playwright.check_arguments(playwright_args, kargo=False)
    if settings.tests_repo is not None:
        # What `run` would fetch and install, at the same revision, in a scratch directory of
        # its own (no run directory, no attempt); its progress goes to stderr, the listing to
        # stdout.
        with _fetched(settings, base_env) as workspace:
            return _list_in(settings, workspace, playwright_args, base_env, as_json, echo, warn)
    if not settings.tests_workspace.is_dir():
        raise ConfigError(f"TESTS_WORKSPACE={settings.tests_workspace} is not a directory")
    return _list_in(
        settings, settings.tests_workspace, playwright_args, base_env, as_json, echo, warn
    )


@contextlib.contextmanager
def _fetched(settings: Settings, base_env: Mapping[str, str]) -> Iterator[Path]:
    from runner import fetch  # noqa: PLC0415 - only `list` with TESTS_REPO needs git

    deadline, stop = Deadline(settings.run_deadline_seconds), StopRequest()
    with stop.installed(), LogSink(console_fd=2, redactor=redactor_for(settings, base_env)) as sink:
        fetched = fetch.fetch_and_install(
            settings,
            name=f"list-{os.getpid()}",
            base_env=base_env,
            under=Supervision(sink, deadline, stop, settings.kill_grace_seconds),
        )
        if fetched is None:
            raise ConfigError("TESTS_REPO is set but no revision: set TESTS_REVISION")
        try:
            yield fetched.workspace
        finally:
            fetched.remove()


def _list_in(  # noqa: PLR0917 - list_tests' own arguments, handed on
    settings: Settings,
    workspace: Path,
    playwright_args: Sequence[str],
    base_env: Mapping[str, str],
    as_json: bool,
    echo: Callable[[str], None],
    warn: Callable[[str], None],
) -> ExitCode:
    playwright.check_home(settings.playwright_home)
    # The trees as `run` checks them: a missing one is the same exit-2 line here.
    settings = trees_settings(settings, workspace, warn)
    check_configured_trees(settings, workspace, warn)
    playwright.check_workspace_config(settings, workspace)
    identity = identity_of(settings)
    suite = settings.suite or ("kargo" if identity.is_kargo_execution else "local")
    report, stderr = _ask_playwright(settings, workspace, playwright_args, base_env, suite)
    for line in stderr.splitlines():
        warn(line)  # the config's warnings: runner-owned keys, files that match nothing
    if "error: unknown option" in stderr:  # Playwright's usage error: ours to report as such
        raise ConfigError(f"playwright test refused the arguments: {_first_error(stderr)}")
    try:
        tests, errors, dirs = parse(jsontext.loads(report))
    except ValueError as exc:
        raise InfrastructureError(
            f"Playwright could not list the tests: {_first_error(stderr)}"
        ) from exc
    real_errors = [e for e in errors if not e.startswith(NO_TESTS_ERROR)]
    if real_errors:
        raise InfrastructureError(f"Playwright could not load the tests: {real_errors[0]}")
    if as_json:
        echo(json.dumps({"suite": suite, "tests": [asdict(t) for t in tests]}, indent=2))
    else:
        _print(tests, dirs, suite, echo)
    if not tests and not settings.allow_no_tests:
        return ExitCode.NO_TESTS
    return ExitCode.PASSED


def _print(
    tests: list[ListedTest], dirs: Mapping[str, str], suite: str, echo: Callable[[str], None]
) -> None:
    projects: dict[str, list[ListedTest]] = {}
    for test in tests:
        projects.setdefault(test.project, []).append(test)
    for project, listed in projects.items():
        echo(f"{project} ({dirs.get(project, '?')}): {len(listed)} test(s)")
        for test in listed:
            echo(f"  {test.file}:{test.line} \u203a {test.title}")
    counts = ", ".join(f"{p} {len(t)}" for p, t in projects.items()) or "none"
    echo(f"{len(tests)} test(s) would run (suite {suite}): {counts}")
