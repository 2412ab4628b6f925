"""Judge what Playwright left in a report directory: the facts verdict.py decides on.

An attempt's facts come from its JUnit and JSON reports, the discovery file, Playwright's
exit and the log's first error line; a sharded run's merge reads the same reports.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from runner.contract.exitcodes import ExitCode
from runner.judging.discovery import discovered, first_error, read_discovery
from runner.judging.pertree import ConfiguredTree, TreeCount, count_trees
from runner.judging.results import (
    Results,
    ResultsBroken,
    read_flaky_from_json,
    read_junit,
    with_flaky,
)
from runner.judging.verdict import RunFacts, Verdict, decide
from runner.processes.child import ProcessOutcome
from runner.volume.artifacts import AttemptLayout, MergedLayout

if TYPE_CHECKING:
    from runner.config.settings import Settings


def no_tests_hint(settings: Settings) -> str | None:
    """In a pod without TESTS_REPO, the tests were expected in the workspace: the shipped Job
    fetches them, and an empty tests-repo arg means the image has no source annotation."""
    if not settings.kubernetes_service_host or settings.tests_repo:
        return None
    return (
        "TESTS_REPO is empty, so the tests were expected in the workspace: pass the repository "
        "(tests-repo, the image's org.opencontainers.image.source annotation), mount the tests "
        "at TESTS_WORKSPACE, or build them into a derived image"
    )


def read_results(reports: AttemptLayout | MergedLayout) -> tuple[Results | None, str | None]:
    """The results of a report directory, or why they cannot be trusted."""
    try:
        return with_flaky(
            read_junit([reports.junit]), read_flaky_from_json(reports.json_results)
        ), None
    except ResultsBroken as exc:
        return None, str(exc)


def judge_attempt(
    layout: AttemptLayout,
    outcome: ProcessOutcome,
    settings: Settings,
    *,
    workspace: Path,
    trees: Sequence[ConfiguredTree],
    stop_code: ExitCode,
    say: Callable[[str], None],
) -> tuple[Verdict, Results | None, tuple[TreeCount, ...]]:
    """The attempt's verdict, results and what each tree executed; says where it looked when
    no test was found. One shard of a sharded run is not judged per tree (a tree may have no
    test in this shard): the merge judges the whole run's trees."""
    discovery = read_discovery(layout.discovery)
    results, results_error = read_results(layout)
    counts = count_trees(trees, discovery, results, may_be_empty=settings.allow_empty_trees)
    facts = RunFacts(
        results=results,
        results_error=results_error,
        returncode=outcome.returncode,
        stopped_for=outcome.stopped_for,
        stop_code=stop_code,
        discovered=discovered(discovery),
        playwright_error=discovery.first_error if discovery else first_error(layout.log),
        # Playwright gives its first shard a test whenever the suite has one (docs/platform-
        # facts.md): an empty first shard is an empty suite, however the others were emptied
        # (--pass-with-no-tests, --test-list, shard weights), and is judged as one.
        empty_shard=settings.shard not in (None, 0)
        and discovery is not None
        and discovery.total == 0
        and not discovery.errors,
        trees=counts if settings.shard is None else None,
    )
    if facts.discovered == 0:
        say(
            f"no tests found in {workspace} under {settings.central_tests_dir} and "
            f"{settings.plugin_tests_glob} matching "
            f"{settings.test_match or '*.spec.* or *.test.* (ts, js, mjs, cjs)'}"
        )
        if hint := no_tests_hint(settings):
            say(hint)
    verdict = decide(
        facts, flaky_policy=settings.flaky_policy, allow_no_tests=settings.allow_no_tests
    )
    return verdict, results, counts
