"""The test trees checked before Playwright starts (runner/trees.py); the fault matrix drives
the same refusals through the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import ConfigError
from runner.trees import check_trees

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
        glob,
        glob_is_explicit=kw.get("explicit", False),
        allow_no_tests=kw.get("allow", False),
        say=said.append,
    )
    return [t.project for t in trees] + said


def test_the_example_layout_passes(workspace: Path) -> None:
    assert _check(workspace) == ["central", "plugin:catalog"]


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
    empty_plugin.mkdir(parents=True)
    assert any("plugin:search) holds no spec file" in line for line in _check(workspace))
    (workspace / CENTRAL / "home.spec.ts").unlink()
    with pytest.raises(ConfigError, match="while plugin trees do"):
        _check(workspace)
    assert any("WARNING" in line for line in _check(workspace, allow=True))
