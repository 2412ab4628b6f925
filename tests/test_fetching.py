"""Fetching the acceptance suite from Git (TESTS_REPO), through the real CLI, from a real Git
smart-HTTP server on 127.0.0.1 (nginx + fcgiwrap + git http-backend, tests/helpers/git_server.py)
holding a 60-commit repository whose suite breaks at one commit and is fixed at a later one.

Most runs use the stand-in Playwright (tests/helpers/fake_playwright.py), whose `workspace`
action records what was checked out and the environment it got; the verdict-follows-the-
revision test runs real Playwright on the fetched specs.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    REPO,
    FakePlaywright,
    communicate_all,
    finish,
    playwright_shim,
    read_until,
    run_runner,
    runner_command,
    start_runner,
)
from tests.helpers import git_repos
from tests.helpers.git_repos import (
    BROKEN_AT,
    BULK,
    CENTRAL,
    FIXED_AT,
    PLUGIN,
    SUPPORT,
    colliding_commit,
    fast_import,
    suite_commits,
)
from tests.helpers.git_server import USER, GitServer, serve, serve_ssh

pytestmark = pytest.mark.nginx
PASSWORD = "planted-PASSWORD-7f3a9c-never-shown"  # noqa: S105 - planted to be looked for
PLUGIN_SPEC_TEXT = git_repos.PLUGIN_SPEC.encode()
UID = "3e0c5a8f-1b2d-4c6e-9f7a-0b1c2d3e4f5a"
FAKE_OK = "workspace,discovery:2,junit:pass:2"


@dataclass(frozen=True)
class Suite:
    server: GitServer
    ids: list[str]  # commit ids, oldest first
    colliding: str  # a commit on branch "side" sharing a 4-digit prefix with main's tip

    def at(self, number: int) -> str:
        return self.ids[number - 1]


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    base = tmp_path_factory.mktemp("git-server")
    with serve(base, password=PASSWORD) as server:
        commits = suite_commits()
        ids = fast_import(server.repos / "public" / "suite.git", commits)
        assert fast_import(server.repos / "private" / "suite.git", commits) == ids
        public = server.repos / "public" / "suite.git"
        git_repos.git(public, "branch", "release-1.0", ids[BROKEN_AT - 1])
        colliding = colliding_commit(public, parent=ids[-1], branch="side", prefix_length=4)
        # Apart: the short-SHA resolution fetches every tag's object, a file's too.
        tagged = server.repos / "public" / "tagged.git"
        fast_import(tagged, commits)
        git_repos.git(tagged, "tag", "-a", "-m", "A file's tag", "of-a-blob", f"{ids[-1]}:{BULK}")
        lock = {
            "package.json": b'{"name": "suite", "version": "1.0.0", "private": true}\n',
            "package-lock.json": json.dumps(
                {
                    "name": "suite",
                    "version": "1.0.0",
                    "lockfileVersion": 3,
                    "requires": True,
                    "packages": {"": {"name": "suite", "version": "1.0.0"}},
                }
            ).encode(),
        }
        fast_import(server.repos / "public" / "locked.git", suite_commits(lock))
        stale = {
            "package.json": b'{"name": "suite", "dependencies": {"left-pad": "1.3.0"}}\n',
            "package-lock.json": lock["package-lock.json"],
        }
        fast_import(server.repos / "public" / "stale-lock.git", suite_commits(stale))
        yield Suite(server, ids, colliding)


def _credentials(tmp_path: Path, password: str = PASSWORD) -> Path:
    folder = tmp_path / "git-credentials"
    folder.mkdir()
    (folder / "username").write_text(USER)
    (folder / "password").write_text(password + "\n")
    return folder


def _env(
    tmp_path: Path, fake_pw: FakePlaywright, script: str = FAKE_OK, **extra: str
) -> dict[str, str]:
    env = fake_pw.env(tmp_path / "artifacts", script, ANALYSIS_RUN_UID=UID, READY_SKIP="true")
    del env["TESTS_WORKSPACE"]  # the fetched checkout is the workspace
    env["BASE_URL"] = "http://127.0.0.1:9"
    env["TMPDIR"] = str(tmp_path / "scratch")
    (tmp_path / "scratch").mkdir(parents=True, exist_ok=True)
    env.update(extra)
    return env


def _run(env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return run_runner(env, "run", timeout=timeout)


def _attempt(tmp_path: Path, n: int = 1) -> Path:
    return tmp_path / "artifacts" / UID.replace("-", "")[:12] / f"attempt-{n}"


def _metadata(tmp_path: Path) -> dict[str, object]:
    return dict(json.loads((_attempt(tmp_path) / "execution-metadata.json").read_text()))


def _seen(fake_pw: FakePlaywright) -> dict[str, Any]:
    return dict(json.loads(Path(f"{fake_pw.record}.workspace").read_text()))


@pytest.mark.parametrize(
    ("revision", "number"),
    [
        ("full", BROKEN_AT),
        ("short", BROKEN_AT),
        ("v1.1.0", FIXED_AT),  # an annotated tag, peeled to its commit
        ("release-1.0", BROKEN_AT),  # a branch
        ("main", git_repos.SUITE_COMMITS),
    ],
)
def test_every_kind_of_revision_runs_its_exact_commit(
    tmp_path: Path, fake_pw: FakePlaywright, suite: Suite, revision: str, number: int
) -> None:
    commit = suite.at(number)
    given = {"full": commit, "short": commit[:9]}.get(revision, revision)
    env = _env(tmp_path, fake_pw, TESTS_REPO=suite.server.url("suite"), TESTS_REVISION=given)
    done = _run(env)
    assert done.returncode == 0, done.stdout[-3000:]
    meta = _metadata(tmp_path)
    assert meta["tests_commit"] == commit
    assert meta["tests_revision"] == given
    assert meta["tests_repo"] == suite.server.url("suite")
    assert isinstance(meta["tests_fetch_bytes"], int) and meta["tests_fetch_bytes"] > 0
    last = done.stdout.splitlines()[-1]
    assert f"tests: {suite.server.url('suite')} at {commit[:12]} ({given})" in last
    summary = json.loads((_attempt(tmp_path) / "summary.json").read_text())
    assert (summary["tests_commit"], summary["tests_revision"]) == (commit, given)
    seen = _seen(fake_pw)
    files = set(seen["files"])
    # Sparse: the trees that run and the workspace root's files, nothing else.
    assert {f"{CENTRAL}/math.spec.ts", f"{PLUGIN}/catalog.spec.ts", "package.json"} <= files
    assert BULK not in files and not any(f.startswith("apps/backstage/src") for f in files)
    assert f"{SUPPORT}/math.ts" not in files  # not asked for with TESTS_SPARSE_PATHS
    # A sparse, shallow, partial fetch: far less than the 512 KiB file it skipped.
    assert meta["tests_fetch_bytes"] < 64 * 1024
    assert not list((tmp_path / "scratch").iterdir()), "the checkout is removed after the run"


def test_sparse_paths_add_what_the_tests_import(
    tmp_path: Path, fake_pw: FakePlaywright, suite: Suite
) -> None:
    env = _env(
        tmp_path,
        fake_pw,
        TESTS_REPO=suite.server.url("suite"),
        FREIGHT_COMMIT=suite.at(FIXED_AT)[:7],  # the default revision, as Kargo passes it
        TESTS_SPARSE_PATHS=f"{SUPPORT}, docs/missing-is-fine",
    )
    done = _run(env)
    assert done.returncode == 0, done.stdout[-3000:]
    assert f"{SUPPORT}/math.ts" in _seen(fake_pw)["files"]
    assert _metadata(tmp_path)["tests_commit"] == suite.at(FIXED_AT)
    assert "WARNING" not in done.stdout


README_GLOB = "plugins/*/e2e-tests,plugins/*/tests/acceptance"  # the README's own value


def test_the_readme_s_comma_separated_glob_fetches_every_plugin_tree(
    tmp_path: Path, fake_pw: FakePlaywright, suite: Suite
) -> None:
    """Issue 21: both globs of PLUGIN_TESTS_GLOB reach the sparse checkout, one pattern each
    (they once went in as one pattern, `plugins/*/e2e-tests,plugins/*/tests/acceptance/`,
    which matches nothing, and the run blamed the repository)."""
    files: dict[str, bytes | None] = {
        "packages/app/e2e-tests/app.spec.ts": PLUGIN_SPEC_TEXT,
        "plugins/a/e2e-tests/a.spec.ts": PLUGIN_SPEC_TEXT,
        "plugins/b/tests/acceptance/b.spec.ts": PLUGIN_SPEC_TEXT,
        "plugins/b/src/index.ts": b"export {};\n",
        "package.json": b'{"name": "root", "private": true}\n',
    }
    fast_import(suite.server.repos / "public" / "two-globs.git", [git_repos.Commit("one", files)])
    env = _env(
        tmp_path,
        fake_pw,
        TESTS_REPO=suite.server.url("two-globs"),
        TESTS_REVISION="main",
        CENTRAL_TESTS_DIR="packages/app/e2e-tests",
        PLUGIN_TESTS_GLOB=README_GLOB,
    )
    env["FAKE_PW"] = "workspace,discovery:3,junit:pass:3"  # a test in each of the three trees
    done = _run(env)
    assert done.returncode == 0, done.stdout[-3000:]
    seen = set(_seen(fake_pw)["files"])
    assert {"plugins/a/e2e-tests/a.spec.ts", "plugins/b/tests/acceptance/b.spec.ts"} <= seen
    assert "plugins/b/src/index.ts" not in seen


def test_verdict_follows_the_revision_with_real_playwright(tmp_path: Path, suite: Suite) -> None:
    """The suite fails at v1.0.0 and passes at v1.1.0: same image, same target, two verdicts."""
    codes = {}
    for tag in ("v1.0.0", "v1.1.0"):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAYWRIGHT_", "VR_"))}
        env.pop("TESTS_WORKSPACE", None)
        env.update(
            {
                "ARTIFACT_ROOT": str(tmp_path / tag),
                "TMPDIR": str(tmp_path),
                "TESTS_REPO": suite.server.url("suite"),
                "TESTS_REVISION": tag,
                "TESTS_SPARSE_PATHS": SUPPORT,
                "BASE_URL": "http://127.0.0.1:9",  # the specs need no page
                "READY_SKIP": "true",
            }
        )
        done = _run(env, timeout=300)
        codes[tag] = done.returncode
        last = done.stdout.splitlines()[-1]
        if tag == "v1.0.0":
            assert done.returncode == 1, done.stdout[-3000:]
            assert "adds up" in last and "Expected: 3" in done.stdout
        else:
            assert done.returncode == 0, done.stdout[-3000:]
    assert codes == {"v1.0.0": 1, "v1.1.0": 0}


def test_private_repository_with_credentials_never_shows_the_password(
    tmp_path: Path, fake_pw: FakePlaywright, suite: Suite
) -> None:
    env = _env(
        tmp_path,
        fake_pw,
        TESTS_REPO=suite.server.url("suite", private=True),
        TESTS_REVISION="v1.1.0",
        GIT_CREDENTIALS_DIR=str(_credentials(tmp_path)),
        TERMINATION_MESSAGE_PATH=str(tmp_path / "termination-log"),
    )
    done = _run(env)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "credentials: password" in done.stdout
    seen = _seen(fake_pw)
    assert PASSWORD not in json.dumps(seen["env"]), "the password reached Playwright's environment"
    assert PASSWORD not in str(seen["git_config"]) and "url" not in str(seen["git_config"])
    assert PASSWORD not in done.stdout + done.stderr
    for path in [*(tmp_path / "artifacts").rglob("*"), tmp_path / "termination-log"]:
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), f"the password is in {path}"
    assert _metadata(tmp_path)["tests_commit"] == suite.at(FIXED_AT)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong password", "authentication failed for http://127.0.0.1:"),
        ("no credentials", "needs credentials and none were given"),
        ("unknown tag", "revision no-such-tag not found"),
        ("unknown commit", "not found in http://127.0.0.1:"),
        ("unknown short commit", "revision 0000000 not found"),
        # rev-parse may not fetch the 512 KiB file to peel it: a local git command allows no
        # transport (runner/fetching/command.py)
        ("a tag of a file", "of-a-blob in http://127.0.0.1:"),
        ("no repository", "repository http://127.0.0.1:"),
        ("nothing listening", "network error reaching http://127.0.0.1:"),
    ],
)
def test_fetch_failures_are_exit_3_with_one_line_that_says_what_to_do(
    tmp_path: Path, fake_pw: FakePlaywright, suite: Suite, case: str, expected: str
) -> None:
    url, revision, extra = suite.server.url("suite"), "v1.1.0", {}
    if case == "wrong password":
        url = suite.server.url("suite", private=True)
        extra["GIT_CREDENTIALS_DIR"] = str(_credentials(tmp_path, "wrong-password"))
    elif case == "no credentials":
        url = suite.server.url("suite", private=True)
    elif case == "unknown tag":
        revision = "no-such-tag"
    elif case == "unknown commit":
        revision = "0123456789" * 4
    elif case == "unknown short commit":
        revision = "0000000"
    elif case == "a tag of a file":
        url, revision = suite.server.url("tagged"), "of-a-blob"
    elif case == "no repository":
        url = suite.server.url("nope")
    elif case == "nothing listening":
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{sock.getsockname()[1]}/public/suite.git"
    env = _env(tmp_path, fake_pw, TESTS_REPO=url, TESTS_REVISION=revision, **extra)
    done = _run(env)
    assert done.returncode == 3, done.stdout[-3000:]
    last = done.stdout.splitlines()[-1]
    assert last.startswith("[verification-runner] VERIFICATION INFRASTRUCTURE ERROR (exit 3)")
    assert expected in last, last
    assert not Path(f"{fake_pw.record}.workspace").exists(), "Playwright must not have run"
    assert not list((tmp_path / "scratch").iterdir()), "a failed fetch leaves nothing behind"


def test_ambiguous_short_commit_is_a_configuration_error(
    tmp_path: Path, fake_pw: FakePlaywright, suite: Suite
) -> None:
    prefix = suite.colliding[:4]
    env = _env(tmp_path, fake_pw, TESTS_REPO=suite.server.url("suite"), TESTS_REVISION=prefix)
    done = _run(env)
    assert done.returncode == 2, done.stdout[-3000:]
    last = done.stdout.splitlines()[-1]
    assert f"TESTS_REVISION={prefix} is ambiguous" in last
    assert suite.colliding[:12] in last and suite.ids[-1][:12] in last


def test_a_branch_named_like_the_freight_commit_does_not_decide_the_tests(
    tmp_path: Path, fake_pw: FakePlaywright, suite: Suite
) -> None:
    """FREIGHT_COMMIT is the image's (abbreviated) commit id. A branch someone named after it,
    pointing at another commit (one whose suite passes), was fetched instead: git prefers a
    ref to an abbreviation, and the run went green with a warning at the wrong commit."""
    image = suite.at(BROKEN_AT)[:10]
    public = suite.server.repos / "public" / "suite.git"
    git_repos.git(public, "branch", image, suite.ids[-1])
    try:
        env = _env(tmp_path, fake_pw, TESTS_REPO=suite.server.url("suite"), FREIGHT_COMMIT=image)
        done = _run(env)
    finally:
        git_repos.git(public, "branch", "-D", image)
    assert done.returncode == 2, done.stdout[-3000:]
    last = done.stdout.splitlines()[-1]
    assert f"FREIGHT_COMMIT={image} is ambiguous" in last, last
    assert f"refs/heads/{image} names commit {suite.ids[-1][:12]}" in last, last


def test_freight_commit_that_differs_from_the_tests_commit_is_said_loudly(
    tmp_path: Path, fake_pw: FakePlaywright, suite: Suite
) -> None:
    env = _env(
        tmp_path,
        fake_pw,
        TESTS_REPO=suite.server.url("suite"),
        TESTS_REVISION="v1.1.0",
        FREIGHT_COMMIT=suite.at(BROKEN_AT)[:7],
    )
    done = _run(env)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "WARNING: the tests ran at commit" in done.stdout
    summary = json.loads((_attempt(tmp_path) / "summary.json").read_text())
    assert any("may not match the image" in w for w in summary["warnings"])


def test_a_server_that_never_answers_ends_at_the_deadline(
    tmp_path: Path, fake_pw: FakePlaywright
) -> None:
    with socket.socket() as silent:  # the kernel accepts connections; nobody ever answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/public/suite.git"
        env = _env(
            tmp_path,
            fake_pw,
            TESTS_REPO=url,
            TESTS_REVISION="v1.1.0",
            RUN_DEADLINE_SECONDS="6",
            KILL_GRACE_SECONDS="2",
        )
        started = time.monotonic()
        done = _run(env)
        took = time.monotonic() - started
    assert done.returncode == 5, done.stdout[-3000:]
    assert took < 6 + 2 + 15, f"took {took:.0f}s"  # deadline + grace + start-up on a loaded box
    assert "fetching http://127.0.0.1:" in done.stdout  # a progress line while it waited
    last = done.stdout.splitlines()[-1]
    assert "DEADLINE EXCEEDED (exit 5)" in last and "fetching the tests" in last


def test_sigterm_during_the_fetch_is_143_with_the_verdict_last(
    tmp_path: Path, fake_pw: FakePlaywright
) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/public/suite.git"
        env = _env(tmp_path, fake_pw, TESTS_REPO=url, TESTS_REVISION="v1.1.0")
        runner = start_runner(env)
        try:
            read_until(runner, b"$ git ls-remote")
            runner.send_signal(signal.SIGTERM)
            out, _ = runner.communicate(timeout=60)
        finally:
            finish(runner)
    assert runner.returncode == 143, out.decode()[-3000:]
    last = out.decode().splitlines()[-1]
    assert "(exit 143)" in last and "SIGTERM" in last and "fetching the tests" in last
    assert not list((tmp_path / "scratch").iterdir())


def test_sigterm_during_the_tests_says_the_verdict_before_the_checkout_is_deleted(
    tmp_path: Path, fake_pw: FakePlaywright, suite: Suite
) -> None:
    """The checkout is only renamed aside before the wrap-up and deleted after the verdict: a
    Backstage app's installed checkout (2 GiB, 255,000 files in the create-app trial) took 106
    to 271 s to unlink, between the tests and the verdict line, past a pod's 60 s grace after
    SIGTERM. Once a stop is requested nothing more is deleted (the pod's emptyDir goes with
    the pod), and the fixed directory and its lock are free for the next attempt at once."""
    env = _env(
        tmp_path,
        fake_pw,
        "workspace,discovery:2,print:1,hang",
        TESTS_REPO=suite.server.url("suite"),
        TESTS_REVISION="main",
    )
    runner = start_runner(env)
    read_until(runner, b"line 0")
    runner.send_signal(signal.SIGTERM)
    out, _ = runner.communicate(timeout=60)
    assert runner.returncode == 143, out.decode()[-3000:]
    assert "(exit 143)" in out.decode().splitlines()[-1]
    assert json.loads((_attempt(tmp_path) / "summary.json").read_text())["exit_code"] == 143
    left = sorted(p.name for p in (tmp_path / "scratch").iterdir())
    run = "vr-tests-" + UID.replace("-", "")[:12]
    assert len(left) == 1 and left[0].startswith(f"{run}.removing-"), left
    assert (tmp_path / "scratch" / left[0] / "checkout" / CENTRAL / "math.spec.ts").is_file()


def _held(path: Path) -> subprocess.Popen[bytes]:
    """A real process holding a flock on the directory `path` (a run still deleting it), once
    the lock is seen held: no sleep stands in for it."""
    holder = subprocess.Popen(["flock", "-x", str(path), "sleep", "600"])
    while True:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return holder
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        assert holder.poll() is None, "flock ended before it held the lock"


def _left_aside(scratch: Path, name: str) -> Path:
    (scratch / name / "checkout" / "node_modules" / "pkg").mkdir(parents=True)
    (scratch / name / "checkout" / "node_modules" / "pkg" / "index.js").write_text("1")
    return scratch / name


def test_checkouts_a_stopped_run_left_aside_are_deleted_by_the_next_run_unless_held(
    tmp_path: Path, fake_pw: FakePlaywright, suite: Suite
) -> None:
    """A SIGTERM, Ctrl-C or the deadline ends the deletion of a set-aside checkout (above):
    on a laptop or a shared /tmp that is 2 GiB a time. The next run under the same TMPDIR, of
    any run name, deletes what nobody holds after its own verdict; one that another process
    is still deleting (its flock held) and another user's are left alone."""
    env = _env(tmp_path, fake_pw, TESTS_REPO=suite.server.url("suite"), TESTS_REVISION="main")
    scratch = tmp_path / "scratch"
    orphan = _left_aside(scratch, "vr-tests-1a2b3c4d5e6f.removing-0123456789ab")
    busy = _left_aside(scratch, "vr-tests-0f0f0f0f0f0f.removing-ba9876543210")
    others = _left_aside(scratch, "vr-tests-7a7a7a7a7a7a.removing-aaaaaaaaaaaa")
    if os.geteuid() == 0:  # CI runs as root: another user's directory can be made
        os.chown(others, 65534, 65534)
    unrelated = scratch / "vr-tests-notes.txt"
    unrelated.write_text("not a checkout")
    holder = _held(busy)
    try:
        done = _run(env)
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 0, done.stdout[-3000:]
    assert "(exit 0)" in done.stdout.splitlines()[-1]
    assert not orphan.exists()
    assert (busy / "checkout" / "node_modules" / "pkg" / "index.js").is_file()
    assert unrelated.is_file()
    assert others.is_dir() == (os.geteuid() == 0)
    assert sorted(p.name for p in scratch.iterdir()) == sorted(
        p.name for p in (busy, unrelated, others) if p.exists()
    )


def test_tests_cleanup_leave_deletes_nothing_after_the_verdict(
    tmp_path: Path, fake_pw: FakePlaywright, suite: Suite
) -> None:
    """TESTS_CLEANUP=leave (the kustomize base): the pod's emptyDir goes with the pod, removed
    by the kubelet after the Job has completed, so the Job (and Kargo) need not wait minutes
    for 255,000 unlinks. The checkout is still renamed aside (the fixed path is free for a
    shard on a shared /tmp) and left, as is what an earlier run left."""
    env = _env(
        tmp_path,
        fake_pw,
        TESTS_REPO=suite.server.url("suite"),
        TESTS_REVISION="main",
        TESTS_CLEANUP="leave",
    )
    scratch = tmp_path / "scratch"
    orphan = _left_aside(scratch, "vr-tests-1a2b3c4d5e6f.removing-0123456789ab")
    done = _run(env)
    assert done.returncode == 0, done.stdout[-3000:]
    assert orphan.is_dir()
    run = "vr-tests-" + UID.replace("-", "")[:12]
    left = [p for p in scratch.iterdir() if p.name.startswith(f"{run}.removing-")]
    assert len(left) == 1 and (left[0] / "checkout" / CENTRAL / "math.spec.ts").is_file()
    assert not (scratch / run).exists()


def test_lock_file_dependencies_are_installed_or_fail_with_npm_s_reason(
    tmp_path: Path, fake_pw: FakePlaywright, suite: Suite
) -> None:
    url = suite.server.url("locked")
    done = _run(_env(tmp_path / "a", fake_pw, TESTS_REPO=url, TESTS_REVISION="main"))
    assert done.returncode == 0, done.stdout[-3000:]
    assert "$ npm ci --ignore-scripts" in done.stdout
    skipped = _run(
        _env(tmp_path / "b", fake_pw, TESTS_REPO=url, TESTS_REVISION="main", TESTS_INSTALL="never")
    )
    assert skipped.returncode == 0 and "TESTS_INSTALL=never" in skipped.stdout
    stale = _run(
        _env(
            tmp_path / "c",
            fake_pw,
            TESTS_REPO=suite.server.url("stale-lock"),
            TESTS_REVISION="main",
        )
    )
    assert stale.returncode == 3, stale.stdout[-3000:]
    last = stale.stdout.splitlines()[-1]
    assert "the lock file package-lock.json does not match package.json" in last, last


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"TESTS_REPO": "ext::sh -c touch% /tmp/pwned"}, "TESTS_REPO="),
        ({"TESTS_REPO": "file:///etc"}, "file://, git:// and ext:: are refused"),
        ({"TESTS_REPO": "https://kargo:hunter2-secret@git.example.com/x.git"}, "holds a password"),
        ({"TESTS_REVISION": "--upload-pack=touch /tmp/pwned"}, "TESTS_REVISION="),
        ({"TESTS_REVISION": None}, "unset, and so is FREIGHT_COMMIT"),
        ({"TESTS_SUBDIR": "../../etc"}, "must stay inside the repository"),
        ({"TESTS_SPARSE_PATHS": "tests,!secret"}, "must not start with '!'"),
        ({"TESTS_INSTALL": "sometimes"}, "TESTS_INSTALL="),
        ({"TESTS_CLEANUP": "keep"}, "TESTS_CLEANUP='keep'"),
        ({"TESTS_WORKSPACE": "/workspace"}, "TESTS_WORKSPACE is set too"),
    ],
)
def test_hostile_or_mistyped_fetch_settings_are_exit_2(
    tmp_path: Path, fake_pw: FakePlaywright, extra: dict[str, str | None], expected: str
) -> None:
    env = _env(
        tmp_path, fake_pw, TESTS_REPO="https://git.example.com/suite.git", TESTS_REVISION="main"
    )
    for name, value in extra.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    done = _run(env)
    assert done.returncode == 2, done.stdout + done.stderr
    shown = done.stdout + done.stderr
    assert expected in shown
    assert "hunter2-secret" not in shown
    assert not Path("/tmp/pwned").exists()


def test_freight_without_a_revision_annotation_says_which_and_how_to_build_it(
    tmp_path: Path, fake_pw: FakePlaywright
) -> None:
    """The Job as the AnalysisTemplate makes it for Freight whose image lacks the revision
    annotation: Kargo's quote() of the missing annotation is "", so TESTS_REVISION and
    FREIGHT_COMMIT arrive empty beside TESTS_REPO. One line names the annotation and the build
    flag; a local run keeps the plain reason."""
    env = _env(tmp_path, fake_pw, TESTS_REPO="https://git.example.com/suite.git")
    env.update({"TESTS_REVISION": "", "FREIGHT_COMMIT": "", "JOB_NAME": f"{UID}.acceptance.1"})
    done = _run(env)
    assert done.returncode == 2, done.stdout + done.stderr
    (line,) = [line for line in done.stderr.splitlines() if "TESTS_REVISION" in line]
    assert "org.opencontainers.image.revision annotation where Kargo reads it" in line
    assert '--annotation "index,manifest:org.opencontainers.image.revision=<commit>"' in line
    assert not (tmp_path / "artifacts").exists() or not any((tmp_path / "artifacts").iterdir())
    for name in ("ANALYSIS_RUN_UID", "JOB_NAME"):
        env.pop(name, None)
    local = _run(env)
    assert local.returncode == 2
    assert "TESTS_REPO needs the commit, tag or branch to fetch" in local.stderr
    assert "annotation" not in local.stderr


def test_tmpdir_on_the_artifact_volume_is_refused(tmp_path: Path, fake_pw: FakePlaywright) -> None:
    env = _env(tmp_path, fake_pw, TESTS_REPO="https://git.example.com/suite.git")
    env.update({"TESTS_REVISION": "main", "TMPDIR": str(tmp_path / "artifacts" / "tmp")})
    done = _run(env)
    assert done.returncode == 2, done.stdout[-3000:]
    assert "is on the artifact volume" in done.stdout.splitlines()[-1]


@pytest.mark.skipif(
    os.geteuid() != 0 and not os.environ.get("CI"), reason="mounts a tmpfs: needs root"
)
def test_a_full_tmp_is_exit_3_saying_so(
    tmp_path: Path, fake_pw: FakePlaywright, suite: Suite
) -> None:
    small = tmp_path / "small-tmp"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=320k", "tmpfs", small], check=True)
    try:
        env = _env(
            tmp_path,
            fake_pw,
            TESTS_REPO=suite.server.url("suite"),
            TESTS_REVISION="v1.1.0",
            TESTS_SPARSE_PATHS="docs",  # a 512 KiB file: more than the 320 KiB there is
            TMPDIR=str(small),
        )
        done = _run(env)
        leftovers = list(small.iterdir())
    finally:
        subprocess.run(["umount", small], check=True)
    assert done.returncode == 3, done.stdout[-3000:]
    assert "the disk is full while fetching" in done.stdout.splitlines()[-1]
    assert not leftovers


def _shard(
    tmp_path: Path, suite: Suite, index: int, revision: str, tmp: str
) -> subprocess.Popen[str]:
    npx = FakePlaywright(tmp_path / "shard-bin", tmp_path / "shard-bin-record.json")
    env = npx.env(
        tmp_path / "artifacts",
        "discovery:2,sleep:1,junit:pass:2",
        ANALYSIS_RUN_UID=UID,
        SHARD_COUNT="2",
        SHARD_INDEX=str(index),
        RETENTION_ENABLED="false",
        READY_SKIP="true",
        BASE_URL="http://127.0.0.1:9",
        TMPDIR=str(tmp_path / tmp.format(index=index)),  # in Kubernetes: each pod's own /tmp
        TESTS_REPO=suite.server.url("suite"),
        TESTS_REVISION=revision,
    )
    del env["TESTS_WORKSPACE"]
    return subprocess.Popen(
        [*runner_command(), "run"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.parametrize("same", [True, False, "shared /tmp"])
def test_shards_that_ran_different_commits_do_not_merge_into_a_pass(
    tmp_path: Path, suite: Suite, same: bool | str
) -> None:
    """Each shard fetches for itself, at the same path in its pod. Shards whose /tmp is shared
    (pods on one host volume, a laptop) take turns at that path instead of diverging."""
    playwright_shim(tmp_path / "shard-bin", REPO / "tests" / "helpers" / "fake_shards.py")
    for index in range(2):
        (tmp_path / f"pod-{index}").mkdir()
    revisions = ["v1.1.0", "v1.1.0" if same else "v1.0.0"]
    tmp = "pod-0" if same == "shared /tmp" else "pod-{index}"
    procs = [_shard(tmp_path, suite, i, rev, tmp) for i, rev in enumerate(revisions)]
    done = communicate_all(procs, timeout=180)
    # Each shard on its own passed; the one that merges exits with the merged verdict (the
    # sharding contract: a merge that is no pass fails the AnalysisRun through that shard).
    codes = sorted(code for code, _ in done)
    assert codes == ([0, 0] if same else [0, 3]), done
    # Every shard checks out at the same path in its pod: merge-reports needs one test
    # directory (docs/platform-facts.md, "Playwright Test").
    checkouts = [re.search(r"; into (\S+)", out) for _, out in done]
    assert all(checkouts), done
    relative = {
        Path(m.group(1)).relative_to(tmp_path / tmp.format(index=i))
        for i, m in enumerate(checkouts)
        if m
    }
    assert len(relative) == 1, relative
    if same == "shared /tmp":
        assert sum("waiting for the tests' directory" in out for _, out in done) == 1
    run = tmp_path / "artifacts" / UID.replace("-", "")[:12]
    merged = json.loads((run / "merged" / "summary.json").read_text())
    commits = [shard["tests_commit"] for shard in merged["shards"]]
    ends = [json.loads(x) for x in (run / "ledger.jsonl").read_text().splitlines()]
    assert sorted(x["tests_commit"] for x in ends if x["event"] == "end") == sorted(commits)
    if same:
        assert commits == [suite.at(FIXED_AT)] * 2
        assert merged["exit_code"] == 0
    else:
        assert sorted(commits) == sorted([suite.at(FIXED_AT), suite.at(BROKEN_AT)])
        assert merged["exit_code"] == 3
        assert "the shards ran different test commits" in merged["reason"]
        assert suite.at(BROKEN_AT)[:12] in merged["reason"]


def test_an_empty_tests_repo_in_a_pod_says_where_tests_come_from(
    tmp_path: Path, fake_pw: FakePlaywright
) -> None:
    """The issue's reproduction: a Kargo Job whose image carries no source annotation gets an
    empty tests-repo; the run stops (no test tree: exit 2; trees without specs: exit 6) and
    says how the tests are meant to arrive."""
    empty = tmp_path / "workspace"
    empty.mkdir()
    env = _env(
        tmp_path,
        fake_pw,
        "notests",
        KUBERNETES_SERVICE_HOST="10.0.0.1",
        LOCAL_SITE_DIR="verification-site",  # no BASE_URL: the suite's own site, said so
        LOOKUP_PROMOTION="false",
        TESTS_REPO="",
        TESTS_REVISION="",
        TESTS_WORKSPACE=str(empty),
        TERMINATION_MESSAGE_PATH=str(tmp_path / "termination-log"),
    )
    done = _run(env)
    assert done.returncode == 2, done.stdout[-3000:]
    assert "TESTS_REPO is empty, so the tests were expected" in done.stdout
    (empty / "apps" / "backstage" / "tests" / "acceptance").mkdir(parents=True)
    (empty / "verification-site").mkdir()
    done = _run(env)
    assert done.returncode == 6, done.stdout[-3000:]
    assert "TESTS_REPO is empty, so the tests were expected in the workspace" in done.stdout


@pytest.mark.parametrize("host_key", ["pinned", "unpinned", "wrong"])
def test_ssh_with_a_deploy_key_from_the_secret(
    tmp_path: Path, fake_pw: FakePlaywright, suite: Suite, host_key: str
) -> None:
    """git over ssh against a real sshd on 127.0.0.1: the key comes from the Secret's
    sshPrivateKey (0644 as a Secret volume mounts it; ssh needs 0600, so the runner copies
    it), and known_hosts pins the server's key."""
    with serve_ssh(tmp_path / "sshd") as sshd:
        secret = tmp_path / "ssh-secret"
        secret.mkdir()
        (secret / "sshPrivateKey").write_bytes(sshd.client_key.read_bytes())
        (secret / "sshPrivateKey").chmod(0o644)
        if host_key != "unpinned":
            line = sshd.known_hosts
            if host_key == "wrong":
                line = f"[127.0.0.1]:{sshd.port} " + _other_host_key(tmp_path)
            (secret / "known_hosts").write_text(line + "\n")
        url = sshd.url(suite.server.repos / "public" / "suite.git")
        env = _env(
            tmp_path,
            fake_pw,
            TESTS_REPO=url,
            TESTS_REVISION="v1.1.0",
            GIT_CREDENTIALS_DIR=str(secret),
        )
        done = _run(env)
    if host_key == "wrong":
        assert done.returncode == 3, done.stdout[-3000:]
        assert "SSH authentication failed" in done.stdout.splitlines()[-1]
        return
    assert done.returncode == 0, done.stdout[-3000:]
    assert "credentials: ssh key" in done.stdout
    assert ("accepting the Git server's host key unchecked" in done.stdout) == (
        host_key == "unpinned"
    )
    meta = _metadata(tmp_path)
    assert meta["tests_commit"] == suite.at(FIXED_AT)
    assert meta["tests_repo"] == url.replace(f"{sshd.user}@", "")  # no userinfo
    key = sshd.client_key.read_text()
    seen = json.dumps(_seen(fake_pw))
    assert key.splitlines()[1] not in seen + done.stdout


def _other_host_key(tmp_path: Path) -> str:
    other = tmp_path / "other-host-key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    key_type, key = other.with_suffix(".pub").read_text().split()[:2]
    return f"{key_type} {key}"


def _workspace_with_its_own_playwright(folder: Path) -> dict[str, bytes | None]:
    """Root files of a suite whose lock file installs a @playwright/test of its own (from a
    tarball in vendor/, so npm needs no registry): a decoy that fails whatever loads it."""
    decoy = folder / "decoy"
    decoy.mkdir(parents=True)
    (decoy / "package.json").write_text(
        json.dumps({"name": "@playwright/test", "version": "0.0.1", "main": "index.js"})
    )
    (decoy / "index.js").write_text(
        "throw new Error('the workspace\\'s own @playwright/test was loaded');\n"
    )
    npm_env = {**os.environ, "npm_config_cache": str(folder / "npm-cache")}
    packed = subprocess.run(
        ["npm", "pack", "--silent", str(decoy)],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
        env=npm_env,
    ).stdout.strip()
    project = folder / "project"
    (project / "vendor").mkdir(parents=True)
    (folder / packed).rename(project / "vendor" / "decoy.tgz")
    (project / "package.json").write_text(
        json.dumps(
            {
                "name": "suite",
                "version": "1.0.0",
                "private": True,
                "dependencies": {"@playwright/test": "file:vendor/decoy.tgz"},
            }
        )
    )
    subprocess.run(
        ["npm", "install", "--package-lock-only", "--offline", "--ignore-scripts"],
        cwd=project,
        capture_output=True,
        check=True,
        env=npm_env,
    )
    return {
        name: (project / name).read_bytes()
        for name in ("package.json", "package-lock.json", "vendor/decoy.tgz")
    }


def test_the_runner_s_playwright_wins_over_the_workspace_s_own(
    tmp_path: Path, suite: Suite
) -> None:
    """npm ci installs the workspace's own @playwright/test (a decoy that throws when loaded);
    the specs still run on the runner's pinned copy (playwright.config.ts pins it)."""
    files = _workspace_with_its_own_playwright(tmp_path / "build")
    fast_import(suite.server.repos / "public" / "own-playwright.git", suite_commits(files))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAYWRIGHT_", "VR_"))}
    env.pop("TESTS_WORKSPACE", None)
    env.update(
        {
            "ARTIFACT_ROOT": str(tmp_path / "artifacts"),
            "TMPDIR": str(tmp_path),
            "TESTS_REPO": suite.server.url("own-playwright"),
            "TESTS_REVISION": "v1.1.0",
            "TESTS_SPARSE_PATHS": f"{SUPPORT},vendor",
            "BASE_URL": "http://127.0.0.1:9",
            "READY_SKIP": "true",
        }
    )
    done = _run(env, timeout=300)
    assert "$ npm ci --ignore-scripts" in done.stdout
    assert done.returncode == 0, done.stdout[-3000:]
    assert "own @playwright/test was loaded" not in done.stdout
