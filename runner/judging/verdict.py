"""The verdict: a pure function of what happened and the policy, so it can be proved.

Whatever Playwright's exit code says, a failed test fails the run; results that cannot be read
never pass; and when Playwright and the JUnit file disagree, the failing signal wins.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from typing import Literal

from runner.contract.exitcodes import ExitCode
from runner.judging.pertree import TreeCount, describe_empty, empty_trees
from runner.judging.results import Results

FlakyPolicy = Literal["pass", "warn", "fail"]
# Playwright's message when Chromium cannot start (a broken or foreign BROWSER_EXECUTABLE, no
# shared memory, a sandbox refused): every test fails with it, and the deployment is not at fault.
LAUNCH_ERROR = "browserType.launch:"
# Playwright's command-line parser (commander) says "error: unknown option '--x'", "error:
# option '--grep <grep>' argument missing" and exits 1 before running anything.
USAGE_ERROR = "error: "
# forbidOnly (always on in playwright.config.ts): a focused test would narrow the suite to itself.
FOCUSED_ERROR = "not allowed due to the 'forbidOnly' option"
# `--project centrall`: Playwright names the projects there are ("central", "plugin:<name>").
PROJECT_ERROR = "not found. Available projects:"


def browser_never_started(results: Results) -> bool:
    """Every failure is Chromium failing to start: nothing was tested (exit 3, not 1)."""
    return bool(results.failed) and all(
        f.message.startswith(LAUNCH_ERROR) for f in results.failures
    )


@dataclass(frozen=True)
class Verdict:
    code: ExitCode
    reason: str
    warnings: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.code is ExitCode.PASSED


@dataclass(frozen=True)
class RunFacts:
    """What the run produced. `results` is None when they could not be read (`results_error`)."""

    results: Results | None
    results_error: str | None = None
    returncode: int | None = None  # Playwright's; negative = killed by that signal
    stopped_for: str | None = None  # "deadline" or "signal"
    stop_code: ExitCode = ExitCode.TERMINATED
    discovered: int | None = None  # tests Playwright found; 0 = "No tests found"; None = unknown
    playwright_error: str | None = None  # first error line Playwright printed, if any
    empty_shard: bool = False  # a shard after the first that no test fell to, nothing went wrong
    # What each configured tree executed (judging/pertree.py); None: not judged per tree (a
    # JUnit file from elsewhere, or one shard of a sharded run, whose merge judges the trees).
    trees: tuple[TreeCount, ...] | None = None


def decide(  # noqa: PLR0911, PLR0912 - a decision table reads best as one return per row
    facts: RunFacts, *, flaky_policy: FlakyPolicy, allow_no_tests: bool
) -> Verdict:
    results = facts.results
    if facts.stopped_for == "signal":
        return Verdict(
            facts.stop_code, f"interrupted ({facts.stop_code.outcome}); {_partial(results)}"
        )
    if facts.stopped_for == "deadline":
        return Verdict(
            ExitCode.DEADLINE_EXCEEDED, f"the run deadline was exceeded; {_partial(results)}"
        )
    usage = _usage_error(facts.playwright_error)
    if usage:
        return Verdict(ExitCode.CONFIG_ERROR, usage)
    if facts.empty_shard and facts.returncode in (None, 0):
        # More shards than test groups: Playwright passes the empty ones (docs/platform-facts.md).
        return Verdict(ExitCode.PASSED, "no test fell to this shard (more shards than files)")
    if facts.discovered == 0:
        if allow_no_tests:
            return Verdict(ExitCode.PASSED, "no tests discovered (allowed by ALLOW_NO_TESTS)")
        return Verdict(ExitCode.NO_TESTS, "no tests discovered")
    if facts.playwright_error and (results is None or results.total == 0):
        return Verdict(
            ExitCode.INFRASTRUCTURE_ERROR,
            f"Playwright could not run the suite: {facts.playwright_error}",
        )
    if results is None and facts.returncode is not None and facts.returncode < 0:
        name = _signal_name(-facts.returncode)
        return Verdict(
            ExitCode.INFRASTRUCTURE_ERROR,
            f"the test process was killed by {name} before it wrote results"
            + (" (out of memory?)" if name == "SIGKILL" else ""),
        )
    if results is None:
        detail = facts.playwright_error or facts.results_error or "no results"
        return Verdict(ExitCode.INFRASTRUCTURE_ERROR, f"no usable test results: {detail}")
    if results.total == 0 and facts.discovered:
        return Verdict(
            ExitCode.INFRASTRUCTURE_ERROR,
            f"{facts.discovered} tests were discovered but the JUnit results hold no testcase",
        )
    if browser_never_started(results):
        return Verdict(
            ExitCode.INFRASTRUCTURE_ERROR,
            f"the browser could not be started, so {results.failed} of {results.total} tests "
            f"failed without testing anything: {results.failures[0].message}",
        )
    if results.failed:
        return Verdict(ExitCode.TESTS_FAILED, f"{results.failed} of {results.total} tests failed")
    if facts.discovered and results.total < facts.discovered:
        return Verdict(
            ExitCode.INFRASTRUCTURE_ERROR,
            f"the JUnit results hold {results.total} of the {facts.discovered} tests that were "
            "discovered: the results are incomplete",
        )
    if facts.returncode is not None and facts.returncode < 0:
        name = _signal_name(-facts.returncode)
        return Verdict(
            ExitCode.INFRASTRUCTURE_ERROR,
            f"the test process was killed by {name}; the results are incomplete",
        )
    if facts.returncode not in (None, 0):
        why = facts.playwright_error or "an error outside any test (setup, teardown, webServer)"
        return Verdict(
            ExitCode.TESTS_FAILED,
            f"Playwright exited {facts.returncode} although the JUnit results show no "
            f"failure; the failing signal wins: {why}",
        )
    if results.total == 0:  # `report`, or a run whose discovery is unknown: the file says none
        if allow_no_tests:
            return Verdict(
                ExitCode.PASSED, "the JUnit results hold no testcase (allowed by ALLOW_NO_TESTS)"
            )
        return Verdict(ExitCode.NO_TESTS, "no tests discovered: the JUnit results hold no testcase")
    if results.executed == 0:
        if allow_no_tests:
            return Verdict(ExitCode.PASSED, "every test was skipped (allowed by ALLOW_NO_TESTS)")
        return Verdict(ExitCode.NO_TESTS, f"all {results.total} tests were skipped; nothing ran")
    # Setup and teardown projects never count as verification: every configured tree must have
    # executed a test of its own (a sign-in setup test passing alone is not a verified deployment).
    empty = empty_trees(facts.trees or ())
    if empty:
        if allow_no_tests:
            return Verdict(ExitCode.PASSED, describe_empty(empty) + " (allowed by ALLOW_NO_TESTS)")
        return Verdict(ExitCode.NO_TESTS, describe_empty(empty))
    passed = f"all {results.executed} tests passed"
    if facts.trees is not None:
        executed = sum(tree.executed for tree in facts.trees)
        passed = f"all {executed} tests passed"
        if results.executed > executed:  # the counts beside it hold them: say which they are
            passed += f" ({results.executed - executed} more in setup or teardown projects)"
    if results.flaky:
        flaky = f"{len(results.flaky)} flaky test(s) passed only on a retry"
        if flaky_policy == "fail":
            return Verdict(ExitCode.TESTS_FAILED, f"{flaky} (FLAKY_POLICY=fail)")
        warnings = (
            (f"WARNING: {flaky}: " + "; ".join(results.flaky),) if flaky_policy == "warn" else ()
        )
        return Verdict(ExitCode.PASSED, f"{passed}, {flaky}", warnings)
    return Verdict(ExitCode.PASSED, passed)


def _usage_error(error: str | None) -> str | None:
    """The suite was not run because of how it was asked for: wrong arguments or a focused test."""
    if error is None:
        return None
    if error.startswith(USAGE_ERROR) or PROJECT_ERROR in error:
        return (
            f"Playwright refused the arguments ({error}); "
            "arguments after `run` go to `playwright test`"
        )
    if FOCUSED_ERROR in error:
        return (
            "a focused test (test.only / describe.only) would narrow the verification to "
            f"itself; remove it: {error}"
        )
    return None


def _partial(results: Results | None) -> str:
    if results is None:
        return "no results were written"
    return f"results so far: {results.passed} passed, {results.failed} failed"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
