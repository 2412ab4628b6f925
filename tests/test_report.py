"""Failure reporting: every failed test is named, and the termination message fits."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given

from runner.judging.report import (
    NAME_LIMIT,
    TERMINATION_LIMIT,
    build_summary,
    one_line,
    summary_line,
    termination_message,
)
from runner.judging.results import Results
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
