"""The test trees checked before Playwright starts (runner/trees.py); the fault matrix drives
the same refusals through the real CLI."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
from pathlib import Path

import pytest

from runner.config.commalist import comma_list
from runner.contract.errors import ConfigError
from runner.trees import DEFAULT_TEST_MATCH, check_trees, spec_matcher
from tests.conftest import REPO, runner_command

CENTRAL = "apps/backstage/tests/acceptance"
GLOB = "apps/backstage/plugins/*/tests/acceptance"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / CENTRAL).mkdir(parents=True)
    (root / CENTRAL / "home.spec.ts").write_text("")
    (root / "apps/backstage/plugins/catalog/tests/acceptance").mkdir(parents=True)
    (root / "apps/backstage/plugins/catalog/tests/acceptance/c.spec.js").write_text("")
    (root / "apps/backstage/plugins/no-tests").mkdir()  # a plugin without a tree: skipped
    return root


def _check(workspace: Path, central: str = CENTRAL, glob: str = GLOB, **kw: bool) -> list[str]:
    said: list[str] = []
    trees = check_trees(
        workspace,
        central,
        comma_list(glob),
        glob_is_explicit=kw.get("explicit", False),
        allow_no_tests=kw.get("allow", False),
        say=said.append,
    )
    return [t.project for t in trees] + said


def test_the_example_layout_passes(workspace: Path) -> None:
    (workspace / "apps/backstage/plugins/README.md").write_text("")  # a file, sorted first
    assert _check(workspace) == ["central", "plugin:catalog"]
    tree = check_trees(
        workspace,
        CENTRAL,
        comma_list(GLOB),
        glob_is_explicit=False,
        allow_no_tests=False,
        say=print,
    )[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        tree.project = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("central", "glob", "message"),
    [
        ("../other", GLOB, "outside the workspace"),
        ("/etc", GLOB, "outside the workspace"),
        ("apps/backstage/tests/acceptanse", GLOB, "does not exist"),
        ("apps/backstage/tests/acceptance/home.spec.ts", GLOB, "not a directory"),
        (CENTRAL, "../*/x", "outside the workspace"),
        (CENTRAL, "apps/*/plugins/*/tests", "exactly one '*'"),
        (CENTRAL, "apps/backstage/plugins/x*/tests", "exactly one '*'"),
        (CENTRAL, "no/such/*/tests", "does not exist"),  # explicit: a typo, not "no plugins"
    ],
)
def test_hostile_or_mistyped_values_are_exit_2(
    workspace: Path, central: str, glob: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        _check(workspace, central, glob, explicit=True)


def test_symlinks_to_nowhere_or_out_of_the_workspace_are_refused(
    workspace: Path, tmp_path: Path
) -> None:
    plugins = workspace / "apps/backstage/plugins"
    (plugins / "gone").symlink_to(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="symlink to nowhere"):
        _check(workspace)
    (plugins / "gone").unlink()
    outside = tmp_path / "outside" / "tests" / "acceptance"
    outside.mkdir(parents=True)
    (plugins / "escape").symlink_to(tmp_path / "outside")
    with pytest.raises(ConfigError, match="outside the workspace"):
        _check(workspace)


def test_empty_trees(workspace: Path) -> None:
    empty_plugin = workspace / "apps/backstage/plugins/search/tests/acceptance"
    (empty_plugin / "node_modules" / "dep").mkdir(parents=True)  # a dependency's specs: none
    (empty_plugin / "node_modules" / "dep" / "x.spec.ts").write_text("")
    nested = workspace / "apps/backstage/plugins/catalog/tests/acceptance/deeper/still"
    nested.mkdir(parents=True)
    (nested / "n.spec.ts").write_text("")  # a tree whose only specs are deeper down has specs
    (workspace / "apps/backstage/plugins/catalog/tests/acceptance/c.spec.js").unlink()
    assert not any("plugin:catalog) holds no spec file" in line for line in _check(workspace))
    assert any("plugin:search) holds no spec file" in line for line in _check(workspace))
    (workspace / CENTRAL / "home.spec.ts").unlink()
    with pytest.raises(ConfigError, match="while plugin trees do"):
        _check(workspace)
    assert any("WARNING" in line for line in _check(workspace, allow=True))


@pytest.mark.parametrize(
    ("path", "test_match", "is_spec"),
    [
        ("a.spec.ts", None, True),
        ("deep/er/b.test.cjs", None, True),
        ("b.test.tsx", None, False),
        ("c.e2e.ts", None, False),
        ("c.e2e.ts", "*.e2e.ts", True),
        ("x/c.e2e.ts", "**/*.e2e.ts, *.spec.ts", True),
        ("a.spec.ts", "**/*.e2e.ts", False),
        ("a.spec.mjs", "*.spec.@(ts|mjs)", True),
        ("a.spec.ts", "*.spec.@(ts|mjs)", True),  # the first alternative too
        ("a.spec.js", "*.spec.@(ts|mjs)", False),
        ("x/c.e2e.ts", "*.e2e.ts", True),  # `**/` in front, as minimatch's matchBase
        ("ae2e.ts", "*.e2e.ts", False),  # the dot after `*` counts
        ("a1.spec.ts", "a?.spec.ts", True),
        ("a/.spec.ts", "a?.spec.ts", False),  # `?` is one character, never `/`
        ("a12.spec.ts", "a?.spec.ts", False),
        ("foo/a/b.ts", "foo**.ts", True),  # `**` not before `/` crosses directories
        ("fooXts", "foo**.ts", False),
        ("a.spec.ts", "*.@(spec|test).ts", True),  # what follows a group is read too
        ("a.spects", "*.@(spec|test).ts", False),
    ],
)
def test_spec_files_are_what_test_match_says(
    path: str, test_match: str | None, is_spec: bool
) -> None:
    assert spec_matcher(comma_list(test_match))(path) is is_spec


@pytest.mark.parametrize("test_match", ["**/*.spec.{ts,js}", "*.spec.@(ts", "{a,b}/x.ts"])
def test_a_brace_split_by_the_comma_is_exit_2_not_a_hang(test_match: str) -> None:
    """TEST_MATCH is split at commas (as config/trees.ts splits it), so `{ts,js}` became
    `*.spec.{ts` and `js}`, and the glob translation looped for ever on the unclosed brace:
    the runner hung before it ran anything."""
    done = subprocess.run(
        [*runner_command(), "identity"],
        env={"PATH": os.environ["PATH"], "TEST_MATCH": test_match},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done
    assert "opens a {...} or @(...) it does not close" in done.stderr
    assert "write *.spec.@(ts|js)" in done.stderr and "Traceback" not in done.stderr


def test_an_unclosed_brace_is_a_plain_character() -> None:
    assert spec_matcher(("*.spec.{ts",))("a.spec.{ts")  # never reached through Settings


def test_the_default_test_match_is_the_configs() -> None:
    source = (REPO / "config" / "trees.ts").read_text(encoding="utf-8")
    (line,) = [ln for ln in source.splitlines() if ln.startswith("export const DEFAULT_TEST_MATCH")]
    assert re.findall(r"'([^']+)'", line) == list(DEFAULT_TEST_MATCH)


def test_several_plugin_globs_and_test_ts_specs(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    for name in (
        f"{CENTRAL}/app.test.ts",
        "plugins/a/e2e-tests/a.test.ts",
        "plugins/b/tests/x.spec.ts",
    ):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("")
    # A later glob's trees carry the rest of the glob: names do not depend on what else exists.
    assert _check(root, glob="plugins/*/e2e-tests, plugins/*/tests", explicit=True) == [
        "central",
        "plugin:a",
        "plugin:b/tests",
    ]


def test_a_second_tree_of_a_plugin_renames_nothing(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    for name in (f"{CENTRAL}/app.test.ts", "plugins/a/e2e-tests/a.test.ts"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("")
    glob = "plugins/*/e2e-tests,plugins/*/tests/acceptance"
    before = _check(root, glob=glob, explicit=True)
    (root / "plugins/a/tests/acceptance").mkdir(parents=True)
    (root / "plugins/a/tests/acceptance/b.spec.ts").write_text("")
    after = _check(root, glob=glob, explicit=True)
    assert before == ["central", "plugin:a"]
    assert after == ["central", "plugin:a", "plugin:a/tests/acceptance"]
