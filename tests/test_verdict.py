"""The verdict is a pure function of the results and the policy (Kargo test integration)."""

from __future__ import annotations

from typing import Any

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
    assert allowed.reason == "all 1 tests passed"  # the setup test is not a verification
    assert judge(_tree("central", passed=1), _tree("plugin:x"), allow=True).passed
    # Not judged per tree (`report` on a JUnit file from elsewhere, one shard of a run).
    assert (
        decide(
            RunFacts(results=results, returncode=0), flaky_policy="warn", allow_no_tests=False
        ).reason
        == "all 2 tests passed"
    )
