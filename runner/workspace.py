"""The tests' workspace of an attempt: fetched from Git at the verified revision
(runner/fetching/) or a directory (mounted, or baked into a derived image), with its test
trees checked before Playwright starts (runner/trees.py)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from runner import fetch
from runner.context import RunContext
from runner.contract.errors import ConfigError
from runner.fetching.request import FetchedTests
from runner.judging.judge import no_tests_hint
from runner.judging.pertree import ConfiguredTree
from runner.trees import check_trees


def fetch_tests(ctx: RunContext, undo: contextlib.ExitStack) -> FetchedTests | None:
    """TESTS_REPO: fetch the tests at the verified revision (runner/fetching/). After the
    attempt and its log exist, so it is recorded; before Playwright and the readiness gate, so
    the run deadline bounds it and it never waits on the target. The checkout goes when no
    child is left (before the wrap-up, so a shard's merge never waits on it)."""
    fetched = fetch.fetch(ctx)
    if fetched is not None:
        undo.callback(fetched.remove)
    return fetched


def tests_workspace(
    ctx: RunContext, fetched: FetchedTests | None
) -> tuple[Path, tuple[ConfiguredTree, ...]]:
    """The directory whose tests this attempt runs: the fetched checkout (its own npm
    dependencies installed) or TESTS_WORKSPACE (baked into the image or mounted), and its test
    trees, checked (each must then execute a test: runner/judging/pertree.py). Everything
    after it uses this value, never `settings.tests_workspace`."""
    settings = ctx.settings
    if fetched is not None:
        fetch.install(ctx, fetched)
        workspace = fetched.workspace
    else:
        workspace = settings.tests_workspace
        if not workspace.is_dir():
            raise ConfigError(f"TESTS_WORKSPACE={workspace} is not a directory")
    try:
        trees = check_trees(
            workspace,
            settings.central_tests_dir,
            settings.plugin_globs,
            glob_is_explicit="plugin_tests_glob" in settings.model_fields_set,
            allow_no_tests=settings.allow_no_tests,
            say=ctx.sink.say,
            test_match=settings.test_globs,
        )
    except ConfigError:
        hint = no_tests_hint(settings)
        if hint:
            ctx.sink.say(hint)
        raise
    return workspace, tuple(
        ConfiguredTree(
            tree.project, tree.path, os.path.relpath(tree.path, workspace.resolve()), tree.has_specs
        )
        for tree in trees
    )
