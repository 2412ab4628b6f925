"""The tests' workspace of an attempt: fetched from Git at the verified revision
(runner/fetching/) or a directory (mounted, or baked into a derived image), with its test
trees checked before Playwright starts (runner/trees.py)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

from runner import fetch
from runner.config.settings import Settings
from runner.context import RunContext
from runner.contract.errors import ConfigError
from runner.fetching.request import FetchedTests
from runner.fetching.scratch import SetAside, orphans
from runner.judging.judge import no_tests_hint
from runner.judging.pertree import ConfiguredTree
from runner.trees import Tree, backstage_layout, check_trees


def fetch_tests(
    ctx: RunContext, undo: contextlib.ExitStack, aside: list[SetAside]
) -> FetchedTests | None:
    """TESTS_REPO: fetch the tests at the verified revision (runner/fetching/). After the
    attempt and its log exist, so it is recorded; before Playwright and the readiness gate, so
    the run deadline bounds it and it never waits on the target. When no child is left the
    checkout is set aside (a rename, before the wrap-up, so a shard's merge never waits on it)
    into `aside`, for `discard` to delete after the verdict."""
    fetched = fetch.fetch(ctx)
    if fetched is not None:

        def set_aside() -> None:
            if (taken := fetched.set_aside()) is not None:
                aside.append(taken)

        undo.callback(set_aside)
    return fetched


def discard(aside: list[SetAside], ctx: RunContext) -> None:
    """Delete the checkouts set aside, once the verdict is written and said: a real Backstage
    app's installed checkout (2 GiB, 250,000 files) takes minutes to unlink, which must neither
    delay the verdict nor outlast a pod's grace period after SIGTERM. A stop request or the
    run deadline ends it; what is left stays in TMPDIR, for the next run there to delete with
    its own (`orphans`). TESTS_CLEANUP=leave deletes nothing: the pod's emptyDir goes with the
    pod, without the Job waiting for it."""
    if ctx.settings.tests_cleanup == "leave":
        return

    def keep_going() -> bool:
        return not ctx.stop.requested and not ctx.deadline.expired()

    for taken in aside:
        taken.delete(keep_going)
    for root in {taken.path.parent for taken in aside}:
        for orphan in orphans(root):
            orphan.delete(keep_going)


def tests_workspace(
    ctx: RunContext, fetched: FetchedTests | None
) -> tuple[Path, tuple[ConfiguredTree, ...], Settings]:
    """The directory whose tests this attempt runs: the fetched checkout (its own
    dependencies installed) or TESTS_WORKSPACE (baked into the image or mounted), its test
    trees, checked (each must then execute a test: runner/judging/pertree.py), and the
    settings with the trees it runs (trees_settings: a Backstage app's own layout). Everything
    after it uses these values, never `settings.tests_workspace`."""
    settings = ctx.settings
    if fetched is not None:
        fetch.install(ctx, fetched)
        workspace = fetched.workspace
    else:
        workspace = settings.tests_workspace
        if not workspace.is_dir():
            raise ConfigError(f"TESTS_WORKSPACE={workspace} is not a directory")
    settings = trees_settings(settings, workspace, ctx.sink.say)
    try:
        trees = check_configured_trees(settings, workspace, ctx.sink.say)
    except ConfigError:
        hint = no_tests_hint(settings)
        if hint:
            ctx.sink.say(hint)
        raise
    return (
        workspace,
        tuple(
            ConfiguredTree(
                tree.project,
                tree.path,
                os.path.relpath(tree.path, workspace.resolve()),
                tree.has_specs,
            )
            for tree in trees
        ),
        settings,
    )


def check_configured_trees(
    settings: Settings, workspace: Path, say: Callable[[str], None]
) -> list[Tree]:
    """The trees the settings name, checked in `workspace` (`run` and `list` alike)."""
    return check_trees(
        workspace,
        settings.central_tests_dir,
        settings.plugin_globs,
        glob_is_explicit="plugin_tests_glob" in settings.model_fields_set,
        allow_no_tests=settings.allow_no_tests,
        say=say,
        test_match=settings.test_globs,
    )


def trees_settings(settings: Settings, workspace: Path, say: Callable[[str], None]) -> Settings:
    """The settings with the trees this workspace runs: as configured, or, when neither tree
    setting is given, the default central tree is not there and the workspace is a Backstage
    app, Backstage's own layout (trees.backstage_layout), said in one line."""
    explicit = {"central_tests_dir", "plugin_tests_glob"} & settings.model_fields_set
    if explicit or (workspace / settings.central_tests_dir).exists():
        return settings
    layout = backstage_layout(workspace)
    if layout is None:
        return settings
    central, globs = layout
    pinned = f"CENTRAL_TESTS_DIR={central}" + (
        f" PLUGIN_TESTS_GLOB='{','.join(globs)}'" if globs else ""
    )
    say(
        f"a Backstage app without {settings.central_tests_dir}: the trees follow Backstage's "
        f"layout (every workspace package with an e2e-tests folder): {pinned} (set them to "
        "pin the trees)"
    )
    update: dict[str, object] = {"central_tests_dir": central}
    if globs:
        update["plugin_tests_glob"] = ",".join(globs)
    return settings.model_copy(update=update)
