"""A Backstage-shaped repository (tests/helpers/backstage_repo.py) on the Kargo path, through the
real CLI: served by the real Git server, fetched at a revision with the README's comma-separated
PLUGIN_TESTS_GLOB, installed with the package manager its lock file names (yarn 4, pnpm, yarn 1)
from a registry on 127.0.0.1 (verdaccio without uplink: nothing reaches the npm registry), and
run by real Playwright: each spec once, the verdict following the revision.

The yarn 1 repository's yarn.lock and `.yarnrc` name the team's registry, a second verdaccio
that is stopped once the lock is written: a cluster that reaches only its mirror
(PACKAGE_REGISTRY). yarn 1 fetches every tarball from the lock's `resolved` URL whatever its
registry setting says, so only the runner's rewrite of those URLs makes these installs work.
"""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from runner.fetching import yarnlock
from tests.conftest import REPO, runner_command
from tests.helpers import backstage_repo
from tests.helpers.git_repos import Commit, fast_import
from tests.helpers.git_server import GitServer, serve
from tests.helpers.registry import MANAGERS_DIR, YARN_CLASSIC, Registry, serve_registry
from tests.test_readiness import Response, http_server
from tests.test_readme import run_shell

pytestmark = [pytest.mark.nginx, pytest.mark.slow]
UID = "5b1f3c2a-9d8e-4f70-a1b2-c3d4e5f60718"
MANAGERS = ("yarn", "pnpm", "yarn-classic")  # repository names (backstage_repo.FLAVOUR)


@dataclass(frozen=True)
class Repos:
    server: GitServer
    registry: Registry
    marker: Path  # an install script of the repository, or its config's webServer, makes it
    team: str  # the registry yarn-classic's lock and .yarnrc name: stopped, unreachable

    def url(self, name: str) -> str:
        return self.server.url(name)


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repos]:
    base = tmp_path_factory.mktemp("backstage")
    marker = base / "INSTALL-SCRIPT-RAN"
    with serve_registry(base / "team-registry") as team:
        classic = backstage_repo.workspace_files(
            manager="yarn-classic", marker=marker, team_registry=team.url
        )
        classic_lock = backstage_repo.lock_file(
            classic, manager="yarn-classic", registry=team.url, work=base / "lock-yarn-classic"
        )
    with serve_registry(base / "registry") as registry, serve(base / "git") as server:
        for manager in MANAGERS:
            if manager == "yarn-classic":
                files, lock = classic, classic_lock
            else:
                files = backstage_repo.workspace_files(manager=manager, marker=marker)
                lock = backstage_repo.lock_file(
                    files, manager=manager, registry=registry.url, work=base / f"lock-{manager}"
                )
            commits = backstage_repo.history(files, lock)
            fast_import(server.repos / "public" / f"{manager}.git", commits)
            stale = [commits[0], backstage_repo.stale_lock_commit(files)]
            fast_import(server.repos / "public" / f"{manager}-stale.git", stale)
            if manager == "yarn-classic":
                pinned = [commits[0], backstage_repo.yarn_path_commit(files, marker)]
                fast_import(server.repos / "public" / f"{manager}-pinned.git", pinned)
                dep = server.repos / "public" / "prepare-dep.git"
                branch = f"git+{server.url('prepare-dep')}"
                first = fast_import(dep, backstage_repo.prepare_dependency(marker))[0]
                spec = f"{branch}#{first}"
                with_git = [commits[0], backstage_repo.git_dependency_commit(files, lock, spec)]
                fast_import(server.repos / "public" / f"{manager}-git-dependency.git", with_git)
                # The branch is locked at its first commit; yarn resolving afresh takes the next.
                on_branch = replace(
                    backstage_repo.git_dependency_commit(files, lock, branch, resolved=spec),
                    tag="locked",
                )
                afresh = [commits[0], on_branch, backstage_repo.no_lockfile_commit(files)]
                fast_import(server.repos / "public" / f"{manager}-no-lockfile.git", afresh)
        yield Repos(server, registry, marker, team.url)


def _env(tmp_path: Path, url: str, revision: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAYWRIGHT_", "VR_"))}
    env.pop("TESTS_WORKSPACE", None)
    env.pop("CI", None)  # create-app's config starts its webServer unless CI is set
    (tmp_path / "scratch").mkdir(parents=True, exist_ok=True)
    env.update(
        {
            "ARTIFACT_ROOT": str(tmp_path / "artifacts"),
            "TMPDIR": str(tmp_path / "scratch"),
            "ANALYSIS_RUN_UID": UID,
            "TESTS_REPO": url,
            "TESTS_REVISION": revision,
            "CENTRAL_TESTS_DIR": "packages/app/e2e-tests",
            "PLUGIN_TESTS_GLOB": backstage_repo.GLOB,
            "TESTS_SPARSE_PATHS": backstage_repo.HELPER,
            "PACKAGE_MANAGERS_DIR": str(MANAGERS_DIR),
            "PACKAGE_CACHE_DIR": str(tmp_path / "package-cache"),
            "BASE_URL": "http://127.0.0.1:9",  # the specs need no page
            "READY_SKIP": "true",
            "KILL_GRACE_SECONDS": "2",
        }
    )
    env.update(extra)
    return env


def _run(env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*runner_command(), *(command or ("run",))],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _closed_url() -> str:
    """A registry URL on 127.0.0.1 that nothing listens on."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{closed.getsockname()[1]}/"


@pytest.mark.parametrize("manager", MANAGERS)
def test_the_verdict_follows_the_revision_each_spec_once(
    tmp_path: Path, repos: Repos, manager: str
) -> None:
    codes = {}
    for tag in ("good", "broken", "fixed"):
        env = _env(tmp_path / tag, repos.url(manager), tag, PACKAGE_REGISTRY=repos.registry.url)
        done = _run(env)
        codes[tag] = done.returncode
        flavour = backstage_repo.FLAVOUR[manager]
        assert f"with {flavour} from" in done.stdout, done.stdout[-3000:]
        last = done.stdout.splitlines()[-1]
        if tag == "broken":
            assert "1 of 2 tests failed" in last, done.stdout[-3000:]
        else:
            assert "all 2 tests passed" in last, done.stdout[-3000:]
    assert codes == {"good": 0, "broken": 1, "fixed": 0}
    assert not repos.marker.exists(), f"the tests' repository's {repos.marker.read_text()} ran"


@pytest.mark.parametrize("manager", MANAGERS)
def test_a_lock_file_that_does_not_match_is_exit_3_saying_so(
    tmp_path: Path, repos: Repos, manager: str
) -> None:
    """The app gains `kind-of@^6.0.0` and the lock file is not updated. yarn 1 installs it
    anyway (test_yarn_1_itself_installs_the_stale_workspace_lock): the runner finds it."""
    env = _env(tmp_path, repos.url(f"{manager}-stale"), "main", PACKAGE_REGISTRY=repos.registry.url)
    done = _run(env)
    assert done.returncode == 3, done.stdout[-3000:]
    last = done.stdout.splitlines()[-1]
    lock = backstage_repo.LOCK[manager]
    assert f"the lock file {lock} does not match package.json" in last, last
    if manager == "yarn-classic":
        assert "kind-of@^6.0.0" in last, last


def test_yarn_1_itself_installs_the_stale_workspace_lock(tmp_path: Path, repos: Repos) -> None:
    """Why the runner checks yarn 1's install itself: `yarn install --frozen-lockfile` (1.22.22)
    checks only the root's dependencies against yarn.lock, not the workspaces'
    (yarnpkg/yarn#5840, #4098): the stale lock passes. Should yarn ever fail it, the runner's
    check is still right, and this test says the upstream fact changed."""
    checkout = tmp_path / "checkout"
    subprocess.run(
        ["git", "clone", "-q", repos.url("yarn-classic-stale"), str(checkout)],
        check=True,
        env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull},
    )
    lock = checkout / "yarn.lock"
    lock.write_text(yarnlock.pointed_at(lock.read_text(), repos.registry.url, set())[0])
    (tmp_path / "home").mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path / "home"),
        "npm_config_registry": repos.registry.url,
        "YARN_IGNORE_PATH": "1",
    }
    done = subprocess.run(
        [
            "node",
            str(YARN_CLASSIC),
            "install",
            "--frozen-lockfile",
            "--ignore-scripts",
            "--ignore-engines",
        ],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (checkout / "node_modules" / "kind-of").is_dir()
    assert "kind-of@^6.0.0" not in lock.read_text()


@pytest.mark.parametrize("manager", ["yarn", "yarn-classic"])
def test_an_unreachable_registry_is_one_line_naming_it_and_the_setting(
    tmp_path: Path, repos: Repos, manager: str
) -> None:
    """pnpm says the same after its retries, 80 s here (fetch-retries 2, backoff to 60 s):
    left out for time."""
    url = _closed_url()
    done = _run(_env(tmp_path, repos.url(manager), "good", PACKAGE_REGISTRY=url))
    assert done.returncode == 3, done.stdout[-3000:]
    last = done.stdout.splitlines()[-1]
    assert f"cannot reach the package registry {url}" in last and "PACKAGE_REGISTRY" in last


def test_yarn_1_without_a_mirror_names_the_registry_its_lock_file_names(
    tmp_path: Path, repos: Repos
) -> None:
    """No PACKAGE_REGISTRY: yarn 1 fetches from yarn.lock's URLs, on the team's registry that
    the cluster cannot reach."""
    done = _run(_env(tmp_path, repos.url("yarn-classic"), "good"))
    assert done.returncode == 3, done.stdout[-3000:]
    last = done.stdout.splitlines()[-1]
    host = urlsplit(repos.team).netloc
    assert f"cannot reach the package registry {host}: set PACKAGE_REGISTRY" in last, last


@pytest.mark.parametrize("manager", MANAGERS)
def test_the_package_cache_makes_the_next_install_reach_no_registry(
    tmp_path: Path, repos: Repos, manager: str
) -> None:
    """A second verification with the same PACKAGE_CACHE_DIR (the cluster overlay's PVC)
    installs from the cache alone: its registry is a closed port."""
    cache = str(tmp_path / "shared-cache")
    first = _env(tmp_path / "a", repos.url(manager), "good", PACKAGE_REGISTRY=repos.registry.url)
    assert _run({**first, "PACKAGE_CACHE_DIR": cache}).returncode == 0
    second = _env(tmp_path / "b", repos.url(manager), "good", PACKAGE_REGISTRY=_closed_url())
    done = _run({**second, "PACKAGE_CACHE_DIR": cache})
    assert done.returncode == 0, done.stdout[-3000:]
    assert "all 2 tests passed" in done.stdout.splitlines()[-1]


def test_a_missing_package_manager_is_exit_2_naming_the_setting(
    tmp_path: Path, repos: Repos
) -> None:
    (tmp_path / "no-tools").mkdir()
    env = _env(
        tmp_path,
        repos.url("pnpm"),
        "good",
        PACKAGE_REGISTRY=repos.registry.url,
        PACKAGE_MANAGERS_DIR=str(tmp_path / "no-tools"),
    )
    done = _run(env)
    assert done.returncode == 2, done.stdout[-3000:]
    last = done.stdout.splitlines()[-1]
    assert "PACKAGE_MANAGERS_DIR=" in last and "setup-package-managers.sh pnpm@10.34.8" in last


@pytest.mark.parametrize("manager", ["yarn", "yarn-classic"])
def test_sparse_fetch_brings_every_workspace_manifest_and_no_sources(
    tmp_path: Path, repos: Repos, manager: str
) -> None:
    done = _run(_env(tmp_path, repos.url(manager), "good", PACKAGE_REGISTRY=repos.registry.url))
    assert done.returncode == 0, done.stdout[-3000:]
    (fetched,) = re.findall(r"^.*fetched \d+ files of .*$", done.stdout, re.MULTILINE)
    assert "/packages/*/package.json" in fetched and "/plugins/*/package.json" in fetched
    assert "/.yarn/releases/" in fetched
    flavour = backstage_repo.FLAVOUR[manager]
    assert f"installing the workspace's dependencies with {flavour} from yarn.lock" in done.stdout


def test_yarn_1_does_not_hand_the_install_to_the_release_yarnrc_pins(
    tmp_path: Path, repos: Repos
) -> None:
    """`.yarnrc`'s `yarn-path` would make yarn 1 re-run the install with a file of the
    repository (here one that only writes the marker): the runner's own yarn 1 installs, its
    `--ignore-scripts` over the `.yarnrc` / `.npmrc` that turn the scripts back on, and
    PACKAGE_REGISTRY over their registry."""
    env = _env(
        tmp_path, repos.url("yarn-classic-pinned"), "main", PACKAGE_REGISTRY=repos.registry.url
    )
    done = _run(env)
    assert done.returncode == 0, done.stdout[-3000:]
    assert (
        f"not running the release .yarnrc pins (yarn-path {backstage_repo.YARN_PATH})"
        in done.stdout
    )
    assert not repos.marker.exists(), "the repository's yarn-path release ran"


def test_yarn_1_runs_no_prepare_script_of_a_git_dependency(tmp_path: Path, repos: Repos) -> None:
    """yarn 1 installs a Git dependency that has a `prepare` script in a scratch clone to pack
    it, and that nested install runs the scripts whatever `--ignore-scripts` says (1.22.22's
    GitFetcher.fetchFromInstallAndPack): only `yarn_ignore_scripts` in the environment reaches
    it. The dependency is installed, its script not run."""
    url = repos.url("yarn-classic-git-dependency")
    done = _run(_env(tmp_path, url, "main", PACKAGE_REGISTRY=repos.registry.url))
    assert done.returncode == 0, done.stdout[-3000:]
    assert not repos.marker.exists(), "the Git dependency's prepare script ran"


def test_a_yarnrc_that_makes_yarn_1_skip_its_lock_file_is_exit_3(
    tmp_path: Path, repos: Repos
) -> None:
    """`.yarnrc` can pass yarn 1 arguments: `--no-lockfile` makes it resolve everything afresh,
    yarn.lock unread, and `--frozen-lockfile` still passes. Here the Git dependency's branch
    moved past the commit yarn.lock pins: what was installed is not what the lock file says."""
    url = repos.url("yarn-classic-no-lockfile")
    locked = _run(_env(tmp_path / "locked", url, "locked", PACKAGE_REGISTRY=repos.registry.url))
    assert locked.returncode == 0, locked.stdout[-3000:]  # the same, yarn.lock read
    done = _run(_env(tmp_path / "afresh", url, "main", PACKAGE_REGISTRY=repos.registry.url))
    assert done.returncode == 3, done.stdout[-3000:]
    last = done.stdout.splitlines()[-1]
    assert (
        "yarn installed other packages than yarn.lock pins (a .yarnrc passing --no-lockfile?): "
        "prepare-dep@git+http://"
    ) in last, last


@pytest.mark.parametrize(
    ("manager", "kind"), [(m, kind) for m in MANAGERS for kind in ("token", "password")]
)
def test_a_private_registry_takes_the_credentials_from_the_secret_and_masks_them(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    repos: Repos,
    manager: str,
    kind: str,
) -> None:
    password = "planted-registry-password-42"  # noqa: S105 - planted to be looked for
    with serve_registry(tmp_path_factory.mktemp("private"), private=True) as private:
        token = private.token("kargo", password)
        folder = tmp_path / "registry-secret"
        folder.mkdir()
        if kind == "token":
            (folder / "token").write_text(token + "\n")
        else:
            (folder / "username").write_text("kargo\n")
            (folder / "password").write_text(password + "\n")
        refused = _run(
            _env(tmp_path / "a", repos.url(manager), "good", PACKAGE_REGISTRY=private.url)
        )
        assert refused.returncode == 3, refused.stdout[-3000:]
        last = refused.stdout.splitlines()[-1]
        assert f"the package registry {private.url} refused the credentials" in last, last
        assert "PACKAGE_REGISTRY_CREDENTIALS_DIR" in last, last
        done = _run(
            _env(
                tmp_path / "b",
                repos.url(manager),
                "good",
                PACKAGE_REGISTRY=private.url,
                PACKAGE_REGISTRY_CREDENTIALS_DIR=str(folder),
            )
        )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "all 2 tests passed" in done.stdout.splitlines()[-1]
    for planted in (token, password):
        assert planted not in done.stdout + done.stderr + refused.stdout + refused.stderr


@pytest.mark.parametrize("manager", MANAGERS)
def test_a_registry_host_in_capitals_still_gets_the_credentials(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, repos: Repos, manager: str
) -> None:
    """PACKAGE_REGISTRY=http://LocalHost:<port>/: npm and pnpm look the credentials up under the
    host in lower case; before, pnpm sent none for a `.npmrc` keyed as it was typed and the
    install failed as 'refused the credentials' (yarn 1 and yarn berry sent them)."""
    with serve_registry(tmp_path_factory.mktemp("private"), private=True) as private:
        folder = tmp_path / "registry-secret"
        folder.mkdir()
        (folder / "token").write_text(private.token("kargo", "planted-registry-password-42"))
        typed = private.url.replace("127.0.0.1", "LocalHost")
        done = _run(
            _env(
                tmp_path,
                repos.url(manager),
                "good",
                PACKAGE_REGISTRY=typed,
                PACKAGE_REGISTRY_CREDENTIALS_DIR=str(folder),
            )
        )
    assert done.returncode == 0, done.stdout[-3000:]


def test_yarn_berry_sends_the_registry_s_token_to_no_registry_the_repository_names(
    tmp_path: Path, repos: Repos
) -> None:
    """yarn 4 sends a top-level npmAuthToken (YARN_NPM_AUTH_TOKEN) to every registry that has
    no credentials of its own, a scope's registry in the repository's `.yarnrc.yml` too: the
    Secret's token reached whatever server the tests' repository named. The credentials are
    now PACKAGE_REGISTRY's alone (npmRegistries in the install's HOME)."""
    seen: list[str] = []

    def recorder(path: str, headers: Mapping[str, str]) -> Response:
        seen.append(f"{path} {[v for k, v in headers.items() if k.lower() == 'authorization']}")
        return 404, {}, b"{}"

    token = "planted-registry-token-for-the-mirror-only"  # noqa: S105 - planted
    folder = tmp_path / "registry-secret"
    folder.mkdir()
    (folder / "token").write_text(token + "\n")
    with http_server(recorder) as elsewhere:
        files = backstage_repo.scoped_registry_files(elsewhere)
        fast_import(repos.server.repos / "public" / "yarn-scope.git", [Commit("leaky", files)])
        done = _run(
            _env(
                tmp_path,
                repos.url("yarn-scope"),
                "main",
                PACKAGE_REGISTRY=repos.registry.url,
                PACKAGE_REGISTRY_CREDENTIALS_DIR=str(folder),
            )
        )
    assert done.returncode == 3, done.stdout[-3000:]
    assert seen, "yarn asked the scope's registry nothing"
    assert not [line for line in seen if token in line], seen


def test_list_fetches_installs_and_lists_what_run_would(tmp_path: Path, repos: Repos) -> None:
    env = _env(tmp_path, repos.url("pnpm"), "broken", PACKAGE_REGISTRY=repos.registry.url)
    done = _run(env, "list", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    listed = json.loads(done.stdout)  # progress on stderr: stdout is the listing alone
    files = sorted(test["file"] for test in listed["tests"])
    assert files == ["packages/app/e2e-tests/app.test.ts", "plugins/hello/e2e-tests/hello.test.ts"]
    assert "installing the workspace's dependencies with pnpm" in done.stderr
    assert not (tmp_path / "artifacts").exists()
    assert not list((tmp_path / "scratch").glob("vr-tests-*"))


@pytest.mark.parametrize("manager", ["yarn", "yarn-classic"])
def test_without_tree_settings_a_backstage_app_runs_its_own_layout(
    tmp_path: Path, repos: Repos, manager: str
) -> None:
    """No CENTRAL_TESTS_DIR nor PLUGIN_TESTS_GLOB: the sparse fetch brings every workspace
    package's e2e-tests (yarn 1: from `"workspaces": {"packages": [...]}`) and the trees follow
    Backstage's layout, said in one line."""
    env = _env(tmp_path, repos.url(manager), "broken", PACKAGE_REGISTRY=repos.registry.url)
    del env["CENTRAL_TESTS_DIR"], env["PLUGIN_TESTS_GLOB"]
    done = _run(env)
    assert done.returncode == 1, done.stdout[-3000:]
    assert "the trees follow Backstage's layout" in done.stdout
    assert "1 of 2 tests failed" in done.stdout.splitlines()[-1]


def backstage_ready(path: str, _headers: Mapping[str, str]) -> Response:
    """A started backend as `yarn start` runs it: NODE_ENV=development pretty-prints the JSON."""
    ready = path == "/.backstage/health/v1/readiness"
    body = b'{\n  "status": "ok"\n}' if ready else b"<!doctype html><title>Backstage</title>"
    return 200, {}, body


def test_the_readme_s_backstage_steps_work(tmp_path: Path, repos: Repos) -> None:
    """README "Adopt it in a Backstage repository", as a reader pastes it: only the example
    repository and deployment are swapped for the fixture's and a stand-in Backstage whose
    readiness endpoint answers as a started backend does."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Adopt it in a Backstage repository", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    with http_server(backstage_ready) as site:
        script = block.replace(
            "https://git.example.com/acme/backstage.git", repos.url("yarn")
        ).replace("https://backstage.example.com", site)
        env = _env(tmp_path, "unused", "unused", PACKAGE_REGISTRY=repos.registry.url)
        for name in ("TESTS_REPO", "TESTS_REVISION", "TESTS_SPARSE_PATHS", "BASE_URL"):
            del env[name]
        del env["READY_SKIP"], env["CENTRAL_TESTS_DIR"], env["PLUGIN_TESTS_GLOB"]
        done = run_shell(script, env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "2 test(s) would run" in done.stdout
    assert "VERIFICATION PASSED (exit 0)" in done.stdout.splitlines()[-1]
    assert "/.backstage/health/v1/readiness" in done.stdout


@pytest.mark.parametrize("manager", ["yarn", "yarn-classic"])
def test_a_registry_whose_certificate_is_not_trusted_says_how_to_trust_it(
    tmp_path: Path, repos: Repos, manager: str
) -> None:
    """A mirror behind a private CA (or a TLS-inspecting proxy) answers, but Node refuses its
    certificate: the line names NODE_EXTRA_CA_CERTS, not DNS and egress (the create-app trial
    in the image met this on a proxy only the host trusted). pnpm is left out for its retries,
    as above."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def nothing(_path: str, _headers: Mapping[str, str]) -> Response:
        return 404, {"Content-Type": "application/json"}, b"{}"

    with http_server(nothing, tls=context) as url:
        done = _run(_env(tmp_path, repos.url(manager), "good", PACKAGE_REGISTRY=f"{url}/"))
    assert done.returncode == 3, done.stdout[-3000:]
    last = done.stdout.splitlines()[-1]
    assert f"the package registry {url}/ has a TLS certificate this Node does not" in last, last
    assert "NODE_EXTRA_CA_CERTS" in last and "cannot reach" not in last
