"""Which package manager a fetched workspace gets (runner/fetching/managers.py) and what the
sparse checkout adds for it (runner/fetching/workspaces.py): real files in a temporary folder.
The installs themselves run in tests/test_backstage_install.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.contract.errors import ConfigError
from runner.fetching import registry as registries
from runner.fetching.managers import find_lock, plan, tool_script
from runner.fetching.registry import read_registry
from runner.fetching.workspaces import manager_paths


def _workspace(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"package-lock.json": "{}"}, ("npm", "package-lock.json")),
        ({"npm-shrinkwrap.json": "{}", "package-lock.json": "{}"}, ("npm", "npm-shrinkwrap.json")),
        ({"yarn.lock": "__metadata:\n  version: 8\n"}, ("yarn berry", "yarn.lock")),
        ({"yarn.lock": "# yarn lockfile v1\n"}, ("yarn classic", "yarn.lock")),
        (
            {"yarn.lock": "", ".yarnrc.yml": "nodeLinker: node-modules\n"},
            ("yarn berry", "yarn.lock"),
        ),
        ({"pnpm-lock.yaml": "lockfileVersion: '9.0'\n"}, ("pnpm", "pnpm-lock.yaml")),
        (
            {
                "pnpm-lock.yaml": "",
                "package-lock.json": "{}",
                "package.json": json.dumps({"packageManager": "pnpm@10.34.8+sha512.abc"}),
            },
            ("pnpm", "pnpm-lock.yaml"),
        ),
        ({"package.json": "{}"}, None),
    ],
)
def test_the_lock_file_decides(
    tmp_path: Path, files: dict[str, str], expected: tuple[str, str] | None
) -> None:
    assert find_lock(_workspace(tmp_path, files)) == expected


def test_no_install_script_runs_with_any_manager(tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    for folder, entry in [
        ("yarn-4.18.1", "@yarnpkg/cli-dist/bin/yarn.js"),
        ("yarn-1.22.22", "yarn/bin/yarn.js"),
        ("pnpm-10.34.8", "pnpm/bin/pnpm.cjs"),
    ]:
        (tools / folder / "node_modules" / entry).parent.mkdir(parents=True)
        (tools / folder / "node_modules" / entry).write_text("")
    for lock, text in [
        ("package-lock.json", "{}"),
        ("yarn.lock", "__metadata:\n"),
        ("yarn.lock", "# yarn lockfile v1\n"),
        ("pnpm-lock.yaml", ""),
    ]:
        ws = tmp_path / f"ws-{len(list(tmp_path.iterdir()))}"
        _workspace(ws, {lock: text})
        manager = plan(ws, directory=tools, cache=tmp_path / "cache", say=print)
        assert manager is not None
        assert {"--ignore-scripts", "--mode=skip-build"} & set(manager.command), manager


def test_the_named_version_then_the_same_major_else_exit_2(tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    entry = tools / "pnpm-10.1.0" / "node_modules" / "pnpm" / "bin" / "pnpm.cjs"
    entry.parent.mkdir(parents=True)
    entry.write_text("")
    said: list[str] = []
    ws = _workspace(tmp_path / "ws", {"package.json": '{"packageManager": "pnpm@10.34.8"}'})
    assert tool_script("pnpm", ws, tools, said.append) == entry
    assert "using 10.1.0, the newest of the same major" in said[0]
    (ws / "package.json").write_text('{"packageManager": "pnpm@9.15.0"}')
    with pytest.raises(ConfigError, match=r"PACKAGE_MANAGERS_DIR=.* no pnpm 9\.x .*pnpm@9\.15\.0"):
        tool_script("pnpm", ws, tools, said.append)


def test_a_pinned_yarn_release_inside_the_workspace_runs(tmp_path: Path) -> None:
    ws = _workspace(
        tmp_path,
        {
            ".yarnrc.yml": "yarnPath: .yarn/releases/yarn-4.5.3.cjs\n",
            ".yarn/releases/yarn-4.5.3.cjs": "",
        },
    )
    assert tool_script("yarn berry", ws, tmp_path / "none", print).name == "yarn-4.5.3.cjs"
    (ws / ".yarnrc.yml").write_text("yarnPath: ../../etc/passwd\n")  # outside: ignored
    with pytest.raises(ConfigError):
        tool_script("yarn berry", ws, tmp_path / "none", print)


def test_the_sparse_checkout_adds_every_workspace_manifest_and_nothing_outside(
    tmp_path: Path,
) -> None:
    said: list[str] = []
    ws = _workspace(
        tmp_path,
        {
            "package.json": json.dumps(
                {"workspaces": ["packages/*", "plugins/*", "!plugins/old", "../escape/*"]}
            ),
            "pnpm-workspace.yaml": "packages:\n  - 'tools/**'\npatchedDependencies:\n  a@1.0.0: patches/a.patch\n",
        },
    )
    paths = manager_paths(ws, said.append)
    assert paths[:3] == [
        "packages/*/package.json",
        "plugins/*/package.json",
        "tools/**/package.json",
    ]
    assert {".yarn/releases", ".yarn/patches", ".yarn/plugins", "patches/a.patch"} <= set(paths)
    assert not any(".." in p or p.startswith("!") for p in paths)
    assert len(said) == 1 and "must stay inside the repository" in said[0]


def test_a_username_and_password_reach_the_install_s_npmrc(tmp_path: Path) -> None:
    secret = _workspace(tmp_path / "secret", {"username": "kargo\n", "password": "pw-42\n"})
    registry = read_registry("http://127.0.0.1:4873/", secret)
    assert (registry.token, registry.username, registry.password) == (None, "kargo", "pw-42")
    home = tmp_path / "home"
    home.mkdir()
    env = registries.environment(registry, home, "yarn classic")
    assert env["npm_config_userconfig"] == str(home / ".npmrc")
    assert "//127.0.0.1:4873/:_auth=a2FyZ286cHctNDI=" in (home / ".npmrc").read_text()
    assert (home / ".npmrc").stat().st_mode & 0o777 == 0o600
