"""Fetch exactly one commit of the tests' repository, and only the paths that run.

    resolve  full SHA: as given. Tag or branch: `git ls-remote` (refs only, no objects).
             Abbreviated SHA: the commits of every branch and tag, without trees or blobs
             (`--filter=tree:0`), in a throw-away repository; exactly one commit must match.
    fetch    `git fetch --depth=1 --filter=blob:none origin <full SHA>`: one commit and its trees.
    checkout sparse (non-cone patterns from revisions.sparse_patterns): git fetches just the
             blobs of those paths, in one batch, as it checks them out.

Every git command goes through runner/processes/child.py (deadline, SIGTERM, the tee); a thread says
how many bytes have arrived at least every `PROGRESS_EVERY` seconds while it runs.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from runner.contract.errors import ConfigError
from runner.fetching.command import FetchFailed, GitCommand, Progress, human_bytes
from runner.fetching.credentials import git_environment, read_credentials
from runner.fetching.request import FetchedTests, FetchRequest
from runner.fetching.resolve import Resolved, resolve
from runner.fetching.revisions import display_url, is_scp_like, path_patterns
from runner.fetching.scratch import Scratch
from runner.fetching.workspaces import manager_paths
from runner.files.walk import remove_tree, walk
from runner.processes.child import Supervision


def fetch_tests(
    request: FetchRequest,
    *,
    base_env: Mapping[str, str],
    under: Supervision,
) -> FetchedTests:
    """Fetch the tests at the requested revision into a fresh directory under TMPDIR."""
    sink = under.sink
    shown = display_url(request.repo)
    if shutil.which("git", path=base_env.get("PATH")) is None:
        raise FetchFailed(
            "git is not installed or not on PATH: it is needed to fetch the tests from "
            f"TESTS_REPO={shown} (Debian: apt-get install git; the runner's image has it)"
        )
    with _claimed(request, under) as claimed:
        scratch = claimed.path
        ssh = is_scp_like(request.repo) or request.repo.startswith("ssh://")
        credentials = read_credentials(request.credentials_dir, ssh=ssh)
        env = git_environment(
            url=request.repo,
            credentials=credentials,
            credentials_dir=request.credentials_dir,
            scratch=scratch,
            base=base_env,
            say=sink.say,
        )
        revision = request.revision
        git = GitCommand(env, under, shown, revision.text)
        checkout, resolver = scratch / "checkout", scratch / "resolve.git"
        sink.say(
            f"fetching the tests from {shown} at {revision.text} ({request.revision_source}, "
            f"{revision.kind.value}); credentials: {credentials.kind}; into {checkout}"
        )
        with Progress(sink.say, shown, [checkout, resolver]) as progress:
            resolved = resolve(git, request, scratch, resolver)
            if resolved.commit != revision.text:
                sink.say(f"{revision.text} is commit {resolved.commit}")
            commit = _check_out(git, request, resolved, scratch, checkout)
            more = request.install or request.backstage_trees
            patterns = _add_manager_paths(git, request, checkout) if more else ()
            received, seconds = progress.received(), progress.elapsed()
        remove_tree(resolver)
        return _fetched(
            request,
            claimed,
            shown=shown,
            commit=commit,
            received=received,
            seconds=seconds,
            credentials=credentials.kind,
            say=sink.say,
            patterns=patterns or request.patterns,
        )


@contextlib.contextmanager
def _claimed(request: FetchRequest, under: Supervision) -> Iterator[Scratch]:
    """The run's scratch directory under TMPDIR; removed again when the fetch fails."""
    try:
        scratch = Scratch.claim(
            request.scratch_root,
            request.run_name,
            say=under.sink.say,
            deadline=under.deadline,
            stop=under.stop,
        )
    except OSError as exc:
        raise FetchFailed(
            f"cannot make a directory for the tests under TMPDIR={request.scratch_root}: "
            f"{exc.strerror or exc}"
        ) from exc
    try:
        yield scratch
    except BaseException:
        scratch.remove()
        raise


def _fetched(
    request: FetchRequest,
    claimed: Scratch,
    *,
    shown: str,
    commit: str,
    received: int,
    seconds: float,
    credentials: str,
    say: Callable[[str], None],
    patterns: tuple[str, ...],
) -> FetchedTests:
    """What was fetched, once the workspace inside the checkout is found and counted."""
    checkout = claimed.path / "checkout"
    workspace = checkout if request.subdir == "." else checkout / request.subdir
    if not workspace.is_dir():
        raise ConfigError(
            f"TESTS_SUBDIR={request.subdir} does not exist in {shown} at {commit[:12]}: "
            "set it to the folder that holds the test workspace"
        )
    files = 0
    for directory, dirs, others in walk(checkout):
        dirs[:] = [d for d in dirs if d != ".git"]
        files += sum(1 for name in others if (directory / name).is_file())
    say(
        f"fetched {files} files of {shown} at {commit} in {seconds:.1f}s, "
        f"{human_bytes(received)} received (sparse: {' '.join(patterns)}; tests import "
        "anything else only if TESTS_SPARSE_PATHS names it)"
    )
    return FetchedTests(
        repo=shown,
        revision=request.revision.text,
        commit=commit,
        workspace=workspace,
        scratch=claimed,
        seconds=round(seconds, 3),
        bytes_received=received,
        files=files,
        credentials=credentials,
        patterns=patterns,
    )


def _add_manager_paths(git: GitCommand, request: FetchRequest, checkout: Path) -> tuple[str, ...]:
    """Check out what the package manager needs (every workspace's package.json, .yarn/...),
    read from the root files just checked out; the sparse patterns in the end."""
    workspace = checkout if request.subdir == "." else checkout / request.subdir
    wanted = manager_paths(workspace, git.under.sink.say, backstage_trees=request.backstage_trees)
    extra = path_patterns(request.subdir, wanted)
    patterns = tuple(dict.fromkeys([*request.patterns, *extra]))
    whole = not any(pattern.startswith("!") for pattern in request.patterns)  # "." given
    if patterns == request.patterns or whole:
        return request.patterns
    (checkout / ".git" / "info" / "sparse-checkout").write_text(
        "".join(f"{pattern}\n" for pattern in patterns), encoding="utf-8"
    )
    git(checkout, "sparse-checkout", "reapply", what="git sparse-checkout")
    return patterns


def _check_out(
    git: GitCommand, request: FetchRequest, resolved: Resolved, scratch: Path, checkout: Path
) -> str:
    """One commit, depth 1, trees only; then the sparse paths' blobs as git checks them out.
    A tag or branch is fetched by name (every server allows that; a commit id needs protocol
    v2 or uploadpack.allowReachableSHA1InWant). Returns the commit checked out."""
    object_format = "sha256" if len(resolved.commit) == 64 else "sha1"
    git.local(
        scratch,
        "init",
        "--quiet",
        f"--object-format={object_format}",
        str(checkout),
        what="git init",
    )
    git.local(checkout, "config", "core.sparseCheckout", "true", what="git config")
    (checkout / ".git" / "info").mkdir(exist_ok=True)
    (checkout / ".git" / "info" / "sparse-checkout").write_text(
        "".join(f"{pattern}\n" for pattern in request.patterns), encoding="utf-8"
    )
    want = resolved.ref or resolved.commit
    fetch = ["fetch", "--quiet", "--no-tags", "--depth=1", "--filter=blob:none", "origin", want]
    git(checkout, *fetch, what="git fetch")
    peeled = git.local(
        checkout,
        *("rev-parse", "--verify", "--quiet", "FETCH_HEAD^{commit}"),
        what="git rev-parse",
        check=False,  # a tag of a tree or a blob: no output, and the sentence below
    )
    found = re.search(r"^([0-9a-f]{40}|[0-9a-f]{64})$", peeled, re.MULTILINE)
    shown = display_url(request.repo)
    if found is None or (resolved.ref is None and found.group(1) != resolved.commit):
        raise FetchFailed(
            f"{request.revision.text} in {shown} names no commit: check {request.revision_source}"
        )
    commit = found.group(1)
    if commit != resolved.commit:  # only a ref can move between ls-remote and fetch
        git.under.sink.say(f"{resolved.ref} moved to {commit} while fetching: that commit runs")
    git(checkout, "checkout", "--quiet", commit, what="git checkout")
    return commit
