"""The merged verdict of a sharded run: the single run's verdict over the merged results,
then what the shards themselves say (missing, cut short, ended badly, disagreeing).

Who merges and when is runner/sharding.py; this module only judges what it is given, so a
merged run is judged by the same rules (`decide`) as a single one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from runner.contract.exitcodes import ExitCode
from runner.judging.pertree import TreeCount
from runner.judging.results import Results
from runner.judging.verdict import FlakyPolicy, RunFacts, Verdict, decide


@dataclass(frozen=True)
class ShardOutcome:
    """What one shard contributed, as the merge saw it."""

    index: int
    missing: str | None  # why it has no results (no blob report), None when it has
    cut_short: bool  # stopped (SIGTERM), killed, or still running when the merge was made
    outcome: str | None  # its latest attempt's outcome word; None: never started
    exit_code: int | None
    tests_commit: str | None


def merged_verdict(
    results: Results | None,
    results_error: str | None,
    shards: Sequence[ShardOutcome],
    *,
    count: int,
    counts: Mapping[int, frozenset[int]],
    flaky_policy: FlakyPolicy,
    allow_no_tests: bool,
    trees: tuple[TreeCount, ...] | None = None,
) -> Verdict:
    """A disagreement on SHARD_COUNT or on the tests' commit is exit 3 (not one run); a test
    failure stays exit 1; a shard without results makes an otherwise clean merge exit 3 (the
    results are incomplete); a shard that ended in any other non-zero way (deadline, not
    ready, terminated) lends its code to an otherwise passing merge. Every such shard is named."""
    disagreement = _count_disagreement(count, counts) or _mixed_commits(shards)
    if disagreement:
        return Verdict(ExitCode.INFRASTRUCTURE_ERROR, disagreement)
    base = decide(
        # Every tree over all shards (judging/pertree.py): one shard may hold none of a tree.
        RunFacts(results=results, results_error=results_error, trees=trees),
        flaky_policy=flaky_policy,
        allow_no_tests=allow_no_tests,
    )
    missing = [f"shard {s.index} ({s.missing})" for s in shards if s.missing]
    cut = [s.index for s in shards if s.cut_short and not s.missing]
    ended_badly = [
        (s.index, s.outcome, s.exit_code)
        for s in shards
        if not s.missing and s.exit_code not in (None, 0)
    ]
    named = "; ".join(
        [f"missing results: {', '.join(missing)}"] * bool(missing)
        + [f"shard {i} ended {outcome} (exit {code})" for i, outcome, code in ended_badly]
        + [f"cut short, results partial: shard {', '.join(map(str, cut))}"] * bool(cut)
    )
    if missing and base.code is not ExitCode.TESTS_FAILED:
        return Verdict(ExitCode.INFRASTRUCTURE_ERROR, f"{named}; the others: {base.reason}")
    if base.passed and ended_badly:
        return Verdict(_exit_code(ended_badly[0][2]), named, base.warnings)
    if base.passed and cut:  # a partial blob with every test in it passing is still partial
        return Verdict(ExitCode.INFRASTRUCTURE_ERROR, named, base.warnings)
    if named:
        return Verdict(base.code, f"{base.reason}; {named}", base.warnings)
    return base


def _count_disagreement(count: int, counts: Mapping[int, frozenset[int]]) -> str | None:
    """Shards that were told a different SHARD_COUNT ran different slices of the suite: some
    tests fell to no shard, or to two. `counts`: shard -> the SHARD_COUNT values its ledger
    lines recorded. None when every recorded count is `count`."""
    others = sorted({(c, shard) for shard, seen in counts.items() for c in seen if c != count})
    if not others:
        return None
    named = ", ".join(f"shard {index} SHARD_COUNT={c}" for c, index in others)
    return (
        f"the shards disagree on SHARD_COUNT: this merge has SHARD_COUNT={count}, but {named}; "
        "some tests ran in no shard. Give every shard the same SHARD_COUNT (one value in "
        "kustomize/components/sharding/shards.yaml) and verify again"
    )


def _mixed_commits(shards: Sequence[ShardOutcome]) -> str | None:
    """Shards whose tests came from different commits (TESTS_REPO) are not one run: the
    merged results would mix two suites. None when they agree (or nothing was fetched)."""
    ran = {s.index: s.tests_commit for s in shards if s.outcome is not None and not s.missing}
    if len(set(ran.values())) <= 1 or not any(ran.values()):
        return None
    named = ", ".join(
        f"shard {index} at {commit[:12] if commit else '(tests not fetched)'}"
        for index, commit in sorted(ran.items())
    )
    return (
        f"the shards ran different test commits ({named}): the merged results would mix "
        "suites; give every shard the same TESTS_REVISION (a full commit id) and verify again"
    )


def _exit_code(code: int | None) -> ExitCode:
    try:
        return ExitCode(ExitCode.INFRASTRUCTURE_ERROR if code is None else code)
    except ValueError:
        return ExitCode.INFRASTRUCTURE_ERROR
