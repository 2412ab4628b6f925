"""The verdict is a pure function of the results and the policy (Kargo test integration)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.contract.exitcodes import ExitCode
from runner.judging.pertree import TreeCount
from runner.judging.results import FailedTest, Results
from runner.judging.verdict import FlakyPolicy, RunFacts, Verdict, browser_never_started, decide
from tests import strategies as s

returncodes = st.one_of(st.none(), st.sampled_from([0, 1, 130, 143, -9, -11]))


@given(s.results, s.flaky_policies, st.booleans(), returncodes)
def test_any_failed_test_fails_the_run(
    results: Results, policy: FlakyPolicy, allow: bool, rc: int | None
) -> None:
    verdict = decide(
        RunFacts(results=results, returncode=rc, discovered=results.total or None),
        flaky_policy=policy,
        allow_no_tests=allow,
    )
    if results.failed:
        # A browser that cannot start is the runner's infrastructure failing, still never a pass.
        launch = browser_never_started(results)
        assert verdict.code == (ExitCode.INFRASTRUCTURE_ERROR if launch else ExitCode.TESTS_FAILED)
    if verdict.passed:
        assert results.failed == 0 and rc in (None, 0)
        assert policy != "fail" or not results.flaky


@given(s.results, s.flaky_policies)
def test_flaky_policy(results: Results, policy: str) -> None:
    verdict = decide(
        RunFacts(results=results, returncode=0),
        flaky_policy=policy,  # type: ignore[arg-type]
        allow_no_tests=False,
    )
    if results.flaky and not results.failed and results.executed:
        assert verdict.passed == (policy != "fail")
        assert bool(verdict.warnings) == (policy == "warn")


@given(
    st.one_of(st.none(), s.results),
    st.sampled_from(["deadline", "signal"]),
    st.sampled_from([ExitCode.TERMINATED, ExitCode.INTERRUPTED]),
)
def test_a_stopped_run_never_passes(results: Results | None, why: str, code: ExitCode) -> None:
    verdict = decide(
        RunFacts(results=results, returncode=0, stopped_for=why, stop_code=code),
        flaky_policy="pass",
        allow_no_tests=True,
    )
    assert verdict.code == (ExitCode.DEADLINE_EXCEEDED if why == "deadline" else code)


def test_unreadable_results_never_pass() -> None:
    verdict = decide(
        RunFacts(results=None, results_error="junit.xml is empty", returncode=0, discovered=5),
        flaky_policy="pass",
        allow_no_tests=True,
    )
    assert verdict.code == ExitCode.INFRASTRUCTURE_ERROR and "empty" in verdict.reason


def test_no_tests_is_exit_6_unless_allowed() -> None:
    facts = RunFacts(results=None, returncode=1, discovered=0)
    assert decide(facts, flaky_policy="warn", allow_no_tests=False).code == ExitCode.NO_TESTS
    assert decide(facts, flaky_policy="warn", allow_no_tests=True).code == ExitCode.PASSED


def test_results_missing_discovered_tests_never_pass() -> None:
    from runner.judging.results import Results  # noqa: PLC0415

    partial = Results(
        total=3, passed=3, failed=0, skipped=0, failures=(), flaky=(), sources=("junit.xml",)
    )
    verdict = decide(
        RunFacts(results=partial, returncode=0, discovered=5),
        flaky_policy="pass",
        allow_no_tests=True,
    )
    assert verdict.code == ExitCode.INFRASTRUCTURE_ERROR and "3 of the 5" in verdict.reason


def test_a_browser_that_never_started_fails_as_infrastructure_not_as_tests() -> None:
    def failing(*messages: str) -> Results:
        failures = tuple(FailedTest(f"t{i}", "a.spec.ts", "", m) for i, m in enumerate(messages))
        return Results(len(messages), 0, len(messages), 0, failures, (), ("junit.xml",))

    launch = "browserType.launch: Executable doesn't exist at /opt/chromium"
    assert browser_never_started(failing(launch, launch))
    assert not browser_never_started(failing(launch, "expect(received).toBe(expected)"))
    assert not browser_never_started(failing())
    for results, code in (
        (failing(launch), ExitCode.INFRASTRUCTURE_ERROR),
        (failing(launch, "Timed out 5000ms waiting for expect"), ExitCode.TESTS_FAILED),
    ):
        facts = RunFacts(results=results, returncode=1, discovered=results.total)
        assert decide(facts, flaky_policy="warn", allow_no_tests=False).code is code


def _tree(project: str, passed: int = 0, skipped: int = 0, **kw: Any) -> TreeCount:
    return TreeCount(project, f"trees/{project}", passed + skipped, passed, 0, skipped, 0, **kw)


def test_a_tree_that_executed_nothing_is_no_verification() -> None:
    """A setup test passing alone (every tree test skipped) or a tree filtered out: exit 6, the
    trees named; a tree ALLOW_EMPTY_TREES names may be empty; setup tests are not counted."""
    results = Results(4, 2, 0, 2, (), (), ("j",), (("setup", 1, 0, 0), ("central", 1, 0, 0)))

    def judge(*trees: TreeCount, allow: bool = False) -> Verdict:
        facts = RunFacts(results=results, returncode=0, discovered=4, trees=trees)
        return decide(facts, flaky_policy="warn", allow_no_tests=allow)

    empty = judge(_tree("central", passed=1), _tree("plugin:x", skipped=2))
    assert empty.code is ExitCode.NO_TESTS
    assert empty.reason.startswith(
        "1 test tree(s) executed no test: plugin:x (trees/plugin:x): all 2 test(s) skipped."
    )
    filtered = judge(_tree("central", passed=1), TreeCount("plugin:y", "p/y", 0, 0, 0, 0, 0))
    assert "plugin:y (p/y): no test discovered" in filtered.reason
    allowed = judge(_tree("central", passed=1), _tree("plugin:x", skipped=2, may_be_empty=True))
    assert allowed.code is ExitCode.PASSED
    # The setup test is not a verification, and the headline says what the counts hold.
    assert allowed.reason == "all 1 tests passed (1 more in setup or teardown projects)"
    assert judge(_tree("central", passed=1), _tree("plugin:x"), allow=True).passed
    # Not judged per tree (`report` on a JUnit file from elsewhere, one shard of a run).
    assert (
        decide(
            RunFacts(results=results, returncode=0), flaky_policy="warn", allow_no_tests=False
        ).reason
        == "all 2 tests passed"
    )


def _results(
    passed: int = 0, failed: int = 0, skipped: int = 0, flaky: tuple[str, ...] = (), msg: str = "x"
) -> Results:
    failures = tuple(FailedTest(f"t{i}", "a.spec.ts", "", msg) for i in range(failed))
    total = passed + failed + skipped
    return Results(total, passed, failed, skipped, failures, flaky, ("junit.xml",))


LAUNCH = "browserType.launch: Executable doesn't exist"
LAUNCHES = Results(
    2,
    0,
    2,
    0,
    (FailedTest("t0", "a.spec.ts", "", f"{LAUNCH} (first)"), FailedTest("t1", "a", "", LAUNCH)),
    (),
    ("junit.xml",),
)
ROWS = [
    # (facts, flaky policy, allow_no_tests) -> (code, the whole reason)
    (
        RunFacts(results=None, stopped_for="signal", stop_code=ExitCode.INTERRUPTED),
        "pass",
        True,
        ExitCode.INTERRUPTED,
        "interrupted (interrupted); no results were written",
    ),
    (
        RunFacts(results=_results(2, 1), stopped_for="deadline"),
        "pass",
        True,
        ExitCode.DEADLINE_EXCEEDED,
        "the run deadline was exceeded; results so far: 2 passed, 1 failed",
    ),
    (
        RunFacts(results=None, returncode=1, playwright_error="error: unknown option '--x'"),
        "pass",
        False,
        ExitCode.CONFIG_ERROR,
        "Playwright refused the arguments (error: unknown option '--x'); arguments after `run` "
        "go to `playwright test`",
    ),
    (
        RunFacts(
            results=None,
            returncode=1,
            playwright_error='Project(s) "c" not found. Available projects: "central"',
        ),
        "pass",
        False,
        ExitCode.CONFIG_ERROR,
        'Playwright refused the arguments (Project(s) "c" not found. Available projects: '
        '"central"); arguments after `run` go to `playwright test`',
    ),
    (
        RunFacts(
            results=None,
            returncode=1,
            playwright_error="test.only not allowed due to the 'forbidOnly' option",
        ),
        "pass",
        False,
        ExitCode.CONFIG_ERROR,
        "a focused test (test.only / describe.only) would narrow the verification to itself; "
        "remove it: test.only not allowed due to the 'forbidOnly' option",
    ),
    (
        RunFacts(results=_results(), returncode=0, empty_shard=True, discovered=0),
        "pass",
        False,
        ExitCode.PASSED,
        "no test fell to this shard (more shards than files)",
    ),
    (
        RunFacts(results=_results(), returncode=None, empty_shard=True, discovered=0),
        "pass",
        False,
        ExitCode.PASSED,
        "no test fell to this shard (more shards than files)",
    ),
    (  # an empty shard whose Playwright failed is no pass
        RunFacts(results=_results(), returncode=1, empty_shard=True, discovered=0),
        "pass",
        False,
        ExitCode.NO_TESTS,
        "no tests discovered",
    ),
    (
        RunFacts(results=None, returncode=1, discovered=0),
        "pass",
        True,
        ExitCode.PASSED,
        "no tests discovered (allowed by ALLOW_NO_TESTS)",
    ),
    (
        RunFacts(results=_results(), returncode=1, playwright_error="Error: boom", discovered=3),
        "pass",
        False,
        ExitCode.INFRASTRUCTURE_ERROR,
        "Playwright could not run the suite: Error: boom",
    ),
    (
        RunFacts(results=None, returncode=1, playwright_error="Error: boom"),
        "pass",
        False,
        ExitCode.INFRASTRUCTURE_ERROR,
        "Playwright could not run the suite: Error: boom",
    ),
    (
        RunFacts(results=None, returncode=-9),
        "pass",
        False,
        ExitCode.INFRASTRUCTURE_ERROR,
        "the test process was killed by SIGKILL before it wrote results (out of memory?)",
    ),
    (  # the smallest signal number: SIGHUP
        RunFacts(results=None, returncode=-1),
        "pass",
        False,
        ExitCode.INFRASTRUCTURE_ERROR,
        "the test process was killed by SIGHUP before it wrote results",
    ),
    (
        RunFacts(results=None, returncode=-11),
        "pass",
        False,
        ExitCode.INFRASTRUCTURE_ERROR,
        "the test process was killed by SIGSEGV before it wrote results",
    ),
    (
        RunFacts(results=None, returncode=-99),
        "pass",
        False,
        ExitCode.INFRASTRUCTURE_ERROR,
        "the test process was killed by signal 99 before it wrote results",
    ),
    (
        RunFacts(results=None, returncode=0),
        "pass",
        False,
        ExitCode.INFRASTRUCTURE_ERROR,
        "no usable test results: no results",
    ),
    (
        RunFacts(results=None, returncode=1, results_error="junit.xml is empty"),
        "pass",
        False,
        ExitCode.INFRASTRUCTURE_ERROR,
        "no usable test results: junit.xml is empty",
    ),
    (
        RunFacts(results=_results(), returncode=0, discovered=4),
        "pass",
        False,
        ExitCode.INFRASTRUCTURE_ERROR,
        "4 tests were discovered but the JUnit results hold no testcase",
    ),
    (
        RunFacts(results=LAUNCHES, returncode=1, discovered=2),
        "pass",
        False,
        ExitCode.INFRASTRUCTURE_ERROR,
        f"the browser could not be started, so 2 of 2 tests failed without testing anything: "
        f"{LAUNCH} (first)",  # the first failure's message
    ),
    (
        RunFacts(results=_results(3, 1), returncode=1, discovered=4),
        "pass",
        False,
        ExitCode.TESTS_FAILED,
        "1 of 4 tests failed",
    ),
    (  # a failure wins over an exit 0
        RunFacts(results=_results(3, 1), returncode=0, discovered=4),
        "pass",
        True,
        ExitCode.TESTS_FAILED,
        "1 of 4 tests failed",
    ),
    (
        RunFacts(results=_results(3), returncode=0, discovered=4),
        "pass",
        False,
        ExitCode.INFRASTRUCTURE_ERROR,
        "the JUnit results hold 3 of the 4 tests that were discovered: the results are incomplete",
    ),
    (  # exactly what was discovered
        RunFacts(results=_results(4), returncode=0, discovered=4),
        "pass",
        False,
        ExitCode.PASSED,
        "all 4 tests passed",
    ),
    (
        RunFacts(results=_results(4), returncode=-1, discovered=4),
        "pass",
        False,
        ExitCode.INFRASTRUCTURE_ERROR,
        "the test process was killed by SIGHUP; the results are incomplete",
    ),
    (
        RunFacts(results=_results(4), returncode=-6, discovered=4),
        "pass",
        False,
        ExitCode.INFRASTRUCTURE_ERROR,
        "the test process was killed by SIGABRT; the results are incomplete",
    ),
    (
        RunFacts(results=_results(4), returncode=1, discovered=4),
        "pass",
        False,
        ExitCode.TESTS_FAILED,
        "Playwright exited 1 although the JUnit results show no failure; the failing signal "
        "wins: an error outside any test (setup, teardown, webServer)",
    ),
    (
        RunFacts(
            results=_results(1, skipped=1), returncode=1, playwright_error="Error: in teardown"
        ),
        "pass",
        False,
        ExitCode.TESTS_FAILED,
        "Playwright exited 1 although the JUnit results show no failure; the failing signal "
        "wins: Error: in teardown",
    ),
    (
        RunFacts(results=_results(skipped=3), returncode=0, discovered=3),
        "pass",
        False,
        ExitCode.NO_TESTS,
        "all 3 tests were skipped; nothing ran",
    ),
    (
        RunFacts(results=_results(skipped=3), returncode=0, discovered=3),
        "pass",
        True,
        ExitCode.PASSED,
        "every test was skipped (allowed by ALLOW_NO_TESTS)",
    ),
    (
        RunFacts(results=_results(2, skipped=1, flaky=("a", "b")), returncode=0),
        "fail",
        False,
        ExitCode.TESTS_FAILED,
        "2 flaky test(s) passed only on a retry (FLAKY_POLICY=fail)",
    ),
    (
        RunFacts(results=_results(2, skipped=1, flaky=("a",)), returncode=0),
        "pass",
        False,
        ExitCode.PASSED,
        "all 2 tests passed, 1 flaky test(s) passed only on a retry",
    ),
    (
        RunFacts(results=_results(1, skipped=1), returncode=None),
        "pass",
        False,
        ExitCode.PASSED,
        "all 1 tests passed",
    ),
]


def test_every_row_of_the_decision_table() -> None:
    """Each row's code and whole reason: a changed condition or sentence fails here."""
    for facts, policy, allow, code, reason in ROWS:
        verdict = decide(facts, flaky_policy=policy, allow_no_tests=allow)  # type: ignore[arg-type]
        assert (verdict.code, verdict.reason) == (code, reason), facts
        assert verdict.passed is (code is ExitCode.PASSED)
        assert verdict.warnings == ()


def test_flaky_warnings_name_each_flaky_test() -> None:
    facts = RunFacts(results=_results(2, flaky=("a › one", "b › two")), returncode=0)
    assert decide(facts, flaky_policy="pass", allow_no_tests=False).warnings == ()
    warned = decide(facts, flaky_policy="warn", allow_no_tests=False)
    assert warned.code is ExitCode.PASSED
    assert warned.warnings == ("WARNING: 2 flaky test(s) passed only on a retry: a › one; b › two",)


def test_facts_results_and_verdicts_are_values() -> None:
    """Frozen: a phase that holds one cannot change what another phase judged."""
    values = (
        Verdict(ExitCode.PASSED, "all 1 tests passed"),
        RunFacts(results=None),
        _results(1),
        FailedTest("t", "a.spec.ts", "", "x"),
    )
    for value in values:
        field = dataclasses.fields(value)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, field, None)
