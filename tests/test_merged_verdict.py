"""The merged verdict of a sharded run (runner/judging/merged.py), rule by rule: which fact
wins when several shards say different things. The merge itself, through the real CLI, is
tests/test_sharding.py."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from runner.contract.exitcodes import ExitCode
from runner.judging.merged import ShardOutcome, merged_verdict
from runner.judging.results import FailedTest, Results
from runner.judging.verdict import Verdict

PASSED = Results(
    total=4, passed=4, failed=0, skipped=0, failures=(), flaky=(), sources=("junit.xml",)
)
FAILED = Results(
    total=4,
    passed=3,
    failed=1,
    skipped=0,
    failures=(FailedTest("fails", "a.spec.ts", "central", "boom"),),
    flaky=(),
    sources=("junit.xml",),
)


def shard(
    index: int,
    code: int | None = 0,
    *,
    missing: str | None = None,
    cut_short: bool = False,
    tests_commit: str | None = None,
) -> ShardOutcome:
    return ShardOutcome(
        index=index,
        missing=missing,
        cut_short=cut_short,
        outcome=None if code is None else ExitCode(code).outcome,
        exit_code=code,
        tests_commit=tests_commit,
    )


def judge(
    results: Results | None,
    shards: list[ShardOutcome],
    counts: Mapping[int, frozenset[int]] | None = None,
) -> Verdict:
    return merged_verdict(
        results,
        None if results else "no shard wrote a blob report",
        shards,
        count=2,
        counts=counts if counts is not None else {0: frozenset({2}), 1: frozenset({2})},
        flaky_policy="warn",
        allow_no_tests=False,
    )


def test_every_shard_passing_passes() -> None:
    assert judge(PASSED, [shard(0), shard(1)]).code is ExitCode.PASSED


@pytest.mark.parametrize(
    ("results", "shards", "code", "says"),
    [
        (PASSED, [shard(0), shard(1, None, missing="never started")], 3, "shard 1 (never started)"),
        (FAILED, [shard(0, 1), shard(1, None, missing="never started")], 1, "never started"),
        (PASSED, [shard(0), shard(1, 143, cut_short=True)], 143, "cut short, results partial"),
        (
            PASSED,
            [shard(0), shard(1, None, cut_short=True)],
            3,
            "cut short, results partial: shard 1",
        ),
        (PASSED, [shard(0), shard(1, 4)], 4, "shard 1 ended target not ready (exit 4)"),
        (FAILED, [shard(0, 1), shard(1, 143, cut_short=True)], 1, "cut short"),
    ],
)
def test_a_shard_that_did_not_finish_well_is_never_a_pass(
    results: Results, shards: list[ShardOutcome], code: int, says: str
) -> None:
    verdict = judge(results, shards)
    assert (int(verdict.code), says in verdict.reason) == (code, True), verdict


def test_a_shard_count_disagreement_wins_over_everything() -> None:
    verdict = judge(FAILED, [shard(0, 1), shard(1)], {0: frozenset({2}), 1: frozenset({3})})
    assert verdict.code is ExitCode.INFRASTRUCTURE_ERROR
    assert "disagree on SHARD_COUNT: this merge has SHARD_COUNT=2, but shard 1 SHARD_COUNT=3" in (
        verdict.reason
    )


def test_shards_at_different_commits_are_not_one_run() -> None:
    verdict = judge(PASSED, [shard(0, tests_commit="a" * 40), shard(1, tests_commit="b" * 40)])
    assert verdict.code is ExitCode.INFRASTRUCTURE_ERROR and "different test commits" in (
        verdict.reason
    )
