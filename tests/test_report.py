"""Failure reporting: every failed test is named, and the termination message fits."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given

from runner.judging.pertree import TreeCount
from runner.judging.report import (
    NAME_LIMIT,
    TERMINATION_LIMIT,
    build_summary,
    one_line,
    summary_line,
    termination_message,
)
from runner.judging.results import FailedTest, Results
from runner.judging.verdict import RunFacts, decide
from tests import strategies as s


def _summary(results: Results):  # type: ignore[no-untyped-def]
    verdict = decide(
        RunFacts(results=results, returncode=0), flaky_policy="warn", allow_no_tests=False
    )
    return build_summary(
        verdict=verdict,
        results=results,
        run_name="r",
        attempt=1,
        html_report=Path("/a/html-report"),
        log=Path("/a/verification.log"),
        finished_at=datetime.now(UTC),
    )


@given(s.results)
def test_every_failed_test_is_named(results: Results) -> None:
    summary = _summary(results)
    line = summary_line(summary)
    assert "\n" not in line
    message = termination_message(summary)
    assert len(message.encode()) <= TERMINATION_LIMIT
    shown = 0
    for failure in results.failures:
        assert one_line(failure.name, NAME_LIMIT) in line
        assert failure.name in [f.name for f in summary.failures]
        shown += one_line(failure.name, NAME_LIMIT) in message
    if shown < len(results.failures):
        assert f"and {len(results.failures) - shown} more failed test(s)" in message


def test_one_line_escapes_control_characters() -> None:
    assert one_line("a\nb\x1b[31m") == "a\\x0ab\\x1b[31m"
    assert len(one_line("x" * 1000)) == 300


def test_the_readmes_summary_line_is_the_real_one() -> None:
    """README "What `run` does", step 7: the example line is what summary_line writes for those
    results (before: it showed a failure message the real line does not have)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    (example,) = [
        line.strip()
        for line in readme.splitlines()
        if line.strip().startswith("[verification-runner] VERIFICATION FAILED (exit 1) run=3f2b")
    ]
    failed = FailedTest(
        "home page \u203a should have Events link",
        "apps/backstage/tests/acceptance/home.spec.ts",
        "central",
        "Error: expect(locator).toBeVisible() failed",
    )
    results = Results(
        12,
        11,
        1,
        0,
        (failed,),
        (),
        ("junit.xml",),
        (("central", 7, 1, 0), ("plugin:catalog", 4, 0, 0)),
    )
    verdict = decide(
        RunFacts(results=results, returncode=1), flaky_policy="warn", allow_no_tests=False
    )
    trees = [
        TreeCount("central", "apps/backstage/tests/acceptance", 8, 7, 1, 0, 0),
        TreeCount(
            "plugin:catalog", "apps/backstage/plugins/catalog/tests/acceptance", 4, 4, 0, 0, 0
        ),
    ]
    summary = build_summary(
        verdict=verdict,
        results=results,
        run_name="3f2b1c4d5e6f",
        attempt=1,
        html_report=Path("/artifacts/3f2b1c4d5e6f/attempt-1/html-report"),
        log=Path("/artifacts/3f2b1c4d5e6f/attempt-1/verification.log"),
        finished_at=datetime.now(UTC),
        trees=trees,
        target="https://backstage.example.com",
    )
    assert example == "[verification-runner] " + summary_line(summary)
