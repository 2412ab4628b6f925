"""What each configured test tree really executed: the counts the verdict, the summary line,
`summary.json` and the termination message carry, and the trees that ran nothing.

A verification passes on what ran, and what ran is per tree: a workspace `testIgnore`, a
`grep`, a `--project` filter or `test.skip(!process.env.E2E_USER)` can leave a whole tree out
while the others (or a setup project alone) pass. The trees are the ones runner/trees.py checked
on disk; which Playwright project runs each comes from the discovery file (the config marks tree
projects, a workspace project may be the tree under its own name), else the runner's own name.
A tree executed a test when one of its tests passed, failed or was flaky (skipped, fixme and
filtered tests did not run).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from runner.judging.discovery import Discovery
from runner.judging.results import Results


@dataclass(frozen=True)
class ConfiguredTree:
    """A tree as runner/trees.py found it: the runner's name for it and its real path."""

    name: str
    path: Path
    relative: str  # to the workspace, as ALLOW_EMPTY_TREES and messages name it
    has_specs: bool = True


@dataclass(frozen=True)
class TreeCount:
    project: str  # the Playwright project that ran the tree (the workspace's name, or ours)
    tree: str  # the tree's directory, relative to the workspace
    discovered: int | None  # tests Playwright found in it; None: the discovery did not say
    passed: int
    failed: int
    skipped: int
    flaky: int
    may_be_empty: bool = False  # ALLOW_EMPTY_TREES names it
    has_specs: bool = True

    @property
    def executed(self) -> int:
        return self.passed + self.failed

    @property
    def why_empty(self) -> str:
        if not self.has_specs:
            return "no spec file in it"
        if self.discovered == 0 or (self.discovered is None and not self.skipped):
            return "no test discovered"
        return f"all {self.skipped} test(s) skipped"


def allowed_empty(patterns: Sequence[str], tree: str, project: str) -> bool:
    """ALLOW_EMPTY_TREES: a tree's path (relative to the workspace) or project name, `*`
    allowed."""
    return any(fnmatch.fnmatchcase(tree, p) or fnmatch.fnmatchcase(project, p) for p in patterns)


def count_trees(
    trees: Sequence[ConfiguredTree],
    discovery: Discovery | None,
    results: Results | None,
    *,
    may_be_empty: Sequence[str] = (),
) -> tuple[TreeCount, ...]:
    """One count per configured tree, in the configured order."""
    by_dir = {t.dir: t for t in discovery.trees or ()} if discovery else {}
    counts = []
    for tree in trees:
        found = by_dir.get(os.path.realpath(tree.path))
        project = found.project if found else tree.name
        if found is not None:
            discovered: int | None = found.discovered
        elif discovery is not None and discovery.trees is not None:
            discovered = 0  # the config made no project of it: nothing could run
        else:
            discovered = None
        counts.append(
            _count(
                project,
                tree.relative,
                discovered,
                results,
                may_be_empty=may_be_empty,
                has_specs=tree.has_specs,
            )
        )
    return tuple(counts)


def _count(
    project: str,
    tree: str,
    discovered: int | None,
    results: Results | None,
    *,
    may_be_empty: Sequence[str],
    has_specs: bool = True,
) -> TreeCount:
    passed, failed, skipped = results.of_project(project) if results else (0, 0, 0)
    return TreeCount(
        project=project,
        tree=tree,
        discovered=discovered,
        passed=passed,
        failed=failed,
        skipped=skipped,
        flaky=results.flaky_of(project) if results else 0,
        may_be_empty=allowed_empty(may_be_empty, tree, project),
        has_specs=has_specs,
    )


def merge_counts(
    shards: Sequence[Sequence[Mapping[str, object]]],
    results: Results | None,
    *,
    may_be_empty: Sequence[str] = (),
) -> tuple[TreeCount, ...] | None:
    """A sharded run's trees: every tree any shard's summary.json names (a shard ran part of
    each), counted again over the merged results. None when no shard said (nothing to judge)."""
    found: dict[tuple[str, str], int] = {}
    said = False
    for trees in shards:
        said = said or bool(trees)
        for entry in trees:
            key = (str(entry.get("project", "")), str(entry.get("tree", "")))
            discovered = entry.get("discovered")
            found[key] = found.get(key, 0) + (discovered if isinstance(discovered, int) else 0)
    if not said:
        return None
    return tuple(
        _count(project, tree, discovered, results, may_be_empty=may_be_empty)
        for (project, tree), discovered in found.items()
    )


def empty_trees(counts: Sequence[TreeCount]) -> list[TreeCount]:
    """The trees that executed no test and may not be empty."""
    return [c for c in counts if c.executed == 0 and not c.may_be_empty]


def describe_empty(empty: Sequence[TreeCount]) -> str:
    trees = "; ".join(f"{c.project} ({c.tree}): {c.why_empty}" for c in empty)
    return (
        f"{len(empty)} test tree(s) executed no test: {trees}. Every configured tree must run "
        "a test (a testIgnore, grep, @local tag, --project or test.skip can leave one none; "
        "ALLOW_EMPTY_TREES names a tree that may be empty)"
    )
