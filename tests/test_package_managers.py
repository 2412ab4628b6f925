"""Which package manager a fetched workspace gets (runner/fetching/managers.py) and what the
sparse checkout adds for it (runner/fetching/workspaces.py): real files in a temporary folder.
The installs themselves run in tests/test_backstage_install.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given

from runner.contract.errors import ConfigError
from runner.fetching import install, yarnlock
from runner.fetching import registry as registries
from runner.fetching.managers import Manager, find_lock, plan, tool_script
from runner.fetching.registry import read_registry
from runner.fetching.workspaces import manager_paths
from tests import strategies


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


def test_a_yarnrc_yarn_path_is_not_run_and_said(tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    entry = tools / "yarn-1.22.22" / "node_modules" / "yarn" / "bin" / "yarn.js"
    entry.parent.mkdir(parents=True)
    entry.write_text("")
    ws = _workspace(
        tmp_path / "ws",
        {
            "yarn.lock": "# yarn lockfile v1\n",
            ".yarnrc": '# pinned\nyarn-path "./.yarn/releases/yarn-1.22.19.cjs"\n',
            ".yarn/releases/yarn-1.22.19.cjs": "",
        },
    )
    said: list[str] = []
    assert tool_script("yarn classic", ws, tools, said.append) == entry
    assert said == [
        "yarn classic: not running the release .yarnrc pins (yarn-path ./.yarn/releases/"
        "yarn-1.22.19.cjs): yarn 1.22.22 from PACKAGE_MANAGERS_DIR installs the v1 yarn.lock"
    ]
    with pytest.raises(ConfigError, match=r"setup-package-managers\.sh yarn@1\.22\.22"):
        tool_script("yarn classic", ws, tmp_path / "none", said.append)


# As yarn 1.22.22 writes it (keys joined, quoted when scoped), with the URLs a lock file has.
YARN_1_LOCK = """# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.
# yarn lockfile v1


"@babel/code-frame@^7.0.0", "@babel/code-frame@^7.10.4":
  version "7.12.13"
  resolved "https://registry.yarnpkg.com/@babel/code-frame/-/code-frame-7.12.13.tgz#dcfc826beef65e75c50e21d3837d7d95798dd658"
  integrity sha512-HV1Cm0Q3ZrpCR93tkWOYiuYIgLxZXZFVG2VgK+MBWjUqZTundupbfx2aXarXuw5Ko5aMcjtJgbSs4vUGBS5v6g==

"@corp/ui@^2.0.0":
  version "2.1.0"
  resolved "https://npm.corp.example/@corp/ui/-/ui-2.1.0.tgz#0123456789abcdef0123456789abcdef01234567"

is-number@^7.0.0, is-number@~7.0.0:
  version "7.0.0"
  resolved "https://registry.npmjs.org/is-number/-/is-number-7.0.0.tgz#7535345b896734d5f80c4d06c50955527a14f12b"
  integrity sha512-41Cifkg6e8TylSpdtTpeLVMqvSBEVzTttHvERD741+pnZ8ANv0004MRL43QKPDlK9cGvNp6NZWZUBlbGXYxxng==

kind-of@^6.0.3:
  version "6.0.3"
  resolved "https://artifactory.example.com/artifactory/api/npm/npm/kind-of/-/kind-of-6.0.3.tgz#07c05034a6c349fa06e24fa35aa76db4580ce4dd"

"left-pad@github:stevemao/left-pad":
  version "1.3.0"
  resolved "https://codeload.github.com/stevemao/left-pad/tar.gz/6e2e9b4b2f5e5dc1d0c3c49c1c05c6f2aa3b0e1a"
"""


def test_yarn_1_lock_keys_are_every_pattern_of_every_entry() -> None:
    assert yarnlock.lock_keys(YARN_1_LOCK) == {
        "@babel/code-frame@^7.0.0",
        "@babel/code-frame@^7.10.4",
        "@corp/ui@^2.0.0",
        "is-number@^7.0.0",
        "is-number@~7.0.0",
        "kind-of@^6.0.3",
        "left-pad@github:stevemao/left-pad",
    }


def test_yarn_1_tarball_urls_move_onto_the_registry_but_a_scope_s_own_and_git_ones(
    tmp_path: Path,
) -> None:
    ws = _workspace(
        tmp_path, {".npmrc": "@corp:registry=https://npm.corp.example/\n", ".yarnrc": ""}
    )
    mirror = "http://mirror.example:8081/repository/npm/"
    pointed, moved = yarnlock.pointed_at(YARN_1_LOCK, mirror, yarnlock.scoped_registries(ws))
    assert moved == [
        "https://registry.yarnpkg.com",
        "https://registry.npmjs.org",
        "https://artifactory.example.com",
    ]
    assert (
        f'  resolved "{mirror}@babel/code-frame/-/code-frame-7.12.13.tgz#dcfc826beef65e75c50e21d3837d7d95798dd658"'
        in pointed.splitlines()
    )
    assert f'  resolved "{mirror}kind-of/-/kind-of-6.0.3.tgz#07c05' in pointed
    assert "https://npm.corp.example/@corp/ui/-/ui-2.1.0.tgz" in pointed  # its scope's registry
    assert "https://codeload.github.com/stevemao/left-pad/tar.gz/" in pointed  # not a registry's
    assert [line for line in pointed.splitlines() if "integrity" in line] == [
        line for line in YARN_1_LOCK.splitlines() if "integrity" in line
    ]
    assert yarnlock.pointed_at(pointed, mirror, {"@corp"}) == (pointed, [])
    assert pointed.count("\n") == YARN_1_LOCK.count("\n")
    crlf = YARN_1_LOCK.replace("\n", "\r\n")  # yarn 1 installs it as it is
    assert yarnlock.pointed_at(crlf, mirror, {"@corp"}) == (pointed.replace("\n", "\r\n"), moved)


@given(
    name=strategies.npm_package_names,
    version=strategies.npm_versions,
    base=strategies.npm_registry_bases,
    mirror=strategies.npm_registry_bases,
)
def test_a_yarn_1_tarball_url_keeps_its_package_path_and_hash_on_any_registry(
    name: str, version: str, base: str, mirror: str
) -> None:
    file = f"{name.rsplit('/', 1)[-1]}-{version}.tgz"
    key = f'"{name}@^{version}"' if name.startswith("@") else f"{name}@^{version}"
    text = f'{key}:\n  version "{version}"\n  resolved "{base}{name}/-/{file}#abc123"\n'
    pointed, moved = yarnlock.pointed_at(text, mirror, set())
    assert f'  resolved "{mirror}{name}/-/{file}#abc123"\n' in pointed
    assert len(moved) == (0 if base == mirror else 1)
    assert yarnlock.lock_keys(pointed) == {f"{name}@^{version}"}


def test_yarn_1_unlocked_is_what_the_install_resolved_beyond_or_besides_the_lock(
    tmp_path: Path,
) -> None:
    registry = "http://127.0.0.1:1/"
    lock = yarnlock.pointed_at(YARN_1_LOCK, registry, set())[0]
    is_number = (
        f"{registry}is-number/-/is-number-7.0.0.tgz#7535345b896734d5f80c4d06c50955527a14f12b"
    )
    kind_of = f"{registry}kind-of/-/kind-of-6.0.3.tgz#07c05034a6c349fa06e24fa35aa76db4580ce4dd"
    entries = {"is-number@^7.0.0": is_number, "kind-of@^6.0.0": kind_of, "kind-of@^6.0.3": kind_of}
    ws = _workspace(tmp_path, {"yarn.lock": lock})
    assert yarnlock.unlocked(ws, "yarn.lock") is None  # no install: nothing to tell

    def installed(entries: dict[str, str]) -> tuple[list[str], list[str]] | None:
        integrity = {"topLevelPatterns": sorted(entries), "lockfileEntries": entries}
        _workspace(ws, {"node_modules/.yarn-integrity": json.dumps(integrity)})
        return yarnlock.unlocked(ws, "yarn.lock")

    assert installed(entries) == (["kind-of@^6.0.0"], [])
    del entries["kind-of@^6.0.0"]
    assert installed(entries) == ([], [])
    # resolved afresh (--no-lockfile): another version, another registry, another Git commit
    left_pad = "https://codeload.github.com/stevemao/left-pad/tar.gz/"
    afresh = {
        "is-number@~7.0.0": is_number.replace("7.0.0", "7.0.1"),
        "kind-of@^6.0.3": "https://registry.npmjs.org/kind-of/-/kind-of-6.0.3.tgz#07c05034",
        "left-pad@github:stevemao/left-pad": left_pad + "0" * 40,
        "@babel/code-frame@^7.0.0": "http://127.0.0.1:1/@babel/code-frame/-/code-frame-7.12.13.tgz",
    }
    assert installed(afresh) == ([], sorted(afresh)[1:])  # the sha1 left out is the same tarball


CLASSIC = Manager("yarn classic", "yarn.lock", ("node", "yarn.js", "install"))


def _request(tmp_path: Path, registry: str | None) -> install.InstallRequest:
    return install.InstallRequest(
        mode="auto",
        managers_dir=tmp_path / "tools",
        cache=tmp_path / "cache",
        registry=read_registry(registry, None),
        home=tmp_path / "home",
        commit="0123456789abcdef" * 2,
    )


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (  # a workspace's dependency yarn.lock lacks, and its registry down: yarn 1's own words
            'error Couldn\'t find package "kind-of@^6.0.0" required by "app@0.0.0" on the "npm" '
            "registry.",
            "the lock file yarn.lock does not match package.json (and the workspaces' "
            "package.json) at that commit (yarn.lock has no entry for kind-of@^6.0.0, which "
            "app@0.0.0 needs)",
        ),
        (  # the root's
            "error Your lockfile needs to be updated, but yarn was run with `--frozen-lockfile`.",
            "the lock file yarn.lock does not match package.json",
        ),
        (
            "[2/4] Fetching packages...\nerror Error: connect ECONNREFUSED 127.0.0.1:47399\n"
            "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1611:16)\n"
            "info Visit https://yarnpkg.com/en/docs/cli/install for documentation about this "
            "command.",
            "cannot reach the package registry 127.0.0.1:47399: set PACKAGE_REGISTRY",
        ),
        (
            'error Error: http://127.0.0.1:47312/is-number/-/is-number-6.0.0.tgz: Request failed "'
            '401 Unauthorized"',
            "the package registry http://127.0.0.1:47312 refused the credentials (401/403)",
        ),
    ],
)
def test_yarn_1_failures_are_one_line(tmp_path: Path, output: str, expected: str) -> None:
    assert expected in install.explain(output, CLASSIC, _request(tmp_path, None))


@pytest.mark.parametrize(
    "output",
    [
        # yarn 4.13.0 in the image, registry.npmjs.org behind a TLS-inspecting proxy whose CA
        # only the host trusted (the create-app trial in the container): 748 of these lines
        "\u27a4 YN0001: \u2502 RequestError: self-signed certificate in certificate chain\n"
        "    at ClientRequest.<anonymous> (/tmp/vr-tests-f6ff8b78cc5a/checkout/.yarn/releases/"
        "yarn-4.13.0.cjs:146:14258)",
        "npm error code UNABLE_TO_GET_ISSUER_CERT_LOCALLY\n"
        "npm error request to https://registry.npmjs.org/kind-of failed, reason: unable to get "
        "local issuer certificate",
    ],
    ids=["yarn-berry", "npm"],
)
def test_an_untrusted_registry_certificate_says_how_to_trust_it(
    tmp_path: Path, output: str
) -> None:
    """Not "cannot reach ... check DNS, proxies and egress": the registry answered, and the
    fix is its CA in NODE_EXTRA_CA_CERTS (tried: the image's yarn then installs the app)."""
    line = install.explain(output, CLASSIC, _request(tmp_path, "https://mirror.example/npm/"))
    assert "the package registry https://mirror.example/npm/ has a TLS certificate" in line
    assert "NODE_EXTRA_CA_CERTS" in line and "cannot reach" not in line


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
    berry = registries.environment(registry, home, "yarn berry")
    assert not [name for name in berry if "AUTH" in name]  # a top-level one goes anywhere
    assert json.loads((home / ".yarnrc.yml").read_text()) == {
        "npmRegistries": {
            "http://127.0.0.1:4873": {"npmAuthIdent": "kargo:pw-42", "npmAlwaysAuth": True}
        }
    }
    assert (home / ".yarnrc.yml").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("name", ["token", "password", "username"])
def test_a_secret_value_with_a_line_break_inside_is_exit_2_not_shown(
    tmp_path: Path, name: str
) -> None:
    values = {"token": None, "username": "kargo", "password": "pw-42"}
    if name == "token":
        values = {"token": "dG9rZW4tcGFydC1vbmUt\nbGluZS10d28=\n"}
    else:
        values[name] = "planted-first-line\r\nsecond\n"
    secret = _workspace(tmp_path, {k: v for k, v in values.items() if v is not None})
    with pytest.raises(ConfigError, match=f"{name} has a line break") as raised:
        read_registry("http://127.0.0.1:4873/", secret)
    assert "planted" not in str(raised.value) and "dG9r" not in str(raised.value)


def test_the_pod_s_package_manager_variables_do_not_reach_the_install_in_any_case(
    tmp_path: Path,
) -> None:
    """yarn 1 and npm read `npm_config_*` and `yarn_*` whatever their case."""
    base = {
        "PATH": os.environ["PATH"],
        "NPM_CONFIG_REGISTRY": "http://elsewhere.example/",
        "yarn_registry": "http://elsewhere.example/",
        "Yarn_Ignore_Scripts": "false",
        "pnpm_config_store_dir": "/tmp/x",
    }
    env = install._environment(CLASSIC, _request(tmp_path, "http://127.0.0.1:4873/"), base)
    assert not {"NPM_CONFIG_REGISTRY", "yarn_registry", "Yarn_Ignore_Scripts"} & set(env)
    assert "pnpm_config_store_dir" not in env
    assert env["npm_config_registry"] == "http://127.0.0.1:4873/"
    assert env["YARN_IGNORE_PATH"] == "1"
    assert env["YARN_IGNORE_SCRIPTS"] == "true"  # over a Git dependency's .yarnrc, too


def test_a_yarn_lock_symlink_is_replaced_not_written_through(tmp_path: Path) -> None:
    outside = _workspace(tmp_path / "outside", {"target": YARN_1_LOCK})
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "yarn.lock").symlink_to(outside / "target")
    said: list[str] = []
    install._point_lock_at(ws / "yarn.lock", "http://127.0.0.1:4873/", said.append)
    assert (outside / "target").read_text() == YARN_1_LOCK
    assert not (ws / "yarn.lock").is_symlink()
    assert "http://127.0.0.1:4873/kind-of/-/kind-of-6.0.3.tgz" in (ws / "yarn.lock").read_text()
    assert said[0].startswith("yarn classic: 4 tarball URLs of yarn.lock (")
