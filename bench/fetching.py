"""Fetching the tests: the runner's sparse, shallow, partial fetch vs a plain full `git clone`.

A synthetic monorepo (20,000+ files, 30+ MB, 500+ commits, tests in three trees: the central
one and two plugins') is served over smart HTTP by nginx + git http-backend on 127.0.0.1
(tests/helpers/git_server.py). Both sides fetch the newest commit; bytes are what nginx sent
(its access log), times are wall clock, measured in the same run. The runner is measured for a
full SHA (how Kargo passes an OCI revision annotation when it is complete) and for a 7-digit
abbreviation (the usual annotation, resolved against the commits of every ref). Target: <= 0.10
of the full clone's bytes and time. The repository is generated with git fast-import once and
cached in $TMPDIR/vr-bench-cache.
"""

from __future__ import annotations

import base64
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from runner.fetching.git import fetch_tests
from runner.fetching.request import FetchRequest
from runner.fetching.revisions import Revision, sparse_patterns
from runner.log.tee import LogSink
from runner.processes.bounds import Deadline, StopRequest
from runner.processes.child import Supervision
from tests.helpers.git_repos import Commit, fast_import, git
from tests.helpers.git_server import serve

VERSION = "monorepo-v1"
FILES, FILE_BYTES, COMMITS, CHANGED_PER_COMMIT = 20_400, 1_600, 520, 40
CENTRAL = "apps/backstage/tests/acceptance"
PLUGIN_GLOB = "apps/backstage/plugins/*/tests/acceptance"
TESTED_PLUGINS = ("catalog", "techdocs")


def _paths(rng: random.Random) -> list[str]:
    paths = []
    for i in range(FILES):
        plugin = f"plugin{i % 60}"
        paths.append(f"apps/backstage/plugins/{plugin}/src/dir{i % 17}/file{i}.ts")
    for i in range(40):
        paths.append(f"{CENTRAL}/area{i % 5}/page{i}.spec.ts")
    for plugin in TESTED_PLUGINS:
        for i in range(15):
            paths.append(f"apps/backstage/plugins/{plugin}/tests/acceptance/{plugin}{i}.spec.ts")
    rng.shuffle(paths)
    return paths


def _content(rng: random.Random) -> bytes:
    # Random base64: as incompressible as real minified bundles and images in a monorepo.
    return base64.b64encode(rng.randbytes(FILE_BYTES * 3 // 4)) + b"\n"


def _commits() -> Iterator[Commit]:
    rng = random.Random(2026)
    paths = _paths(rng)
    yield Commit("Monorepo", {path: _content(rng) for path in paths})
    for number in range(2, COMMITS + 1):
        changed = rng.sample(paths, CHANGED_PER_COMMIT)
        yield Commit(f"Change {number}", {path: _content(rng) for path in changed})


def monorepo(cache: Path) -> Path:
    """The bare repository, generated once per VERSION."""
    repo = cache / f"{VERSION}.git"
    if not (repo / "refs" / "heads" / "main").exists() and not (repo / "packed-refs").exists():
        shutil.rmtree(repo, ignore_errors=True)
        fast_import(repo, _commits())
    return repo


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run(say: Callable[[str], None]) -> None:
    cache = Path(tempfile.gettempdir()) / "vr-bench-cache"
    cache.mkdir(exist_ok=True)
    started = time.perf_counter()
    source = monorepo(cache)
    files = int(git(source, "ls-tree", "-r", "--name-only", "main").count("\n"))
    commits = int(git(source, "rev-list", "--count", "main").strip())
    say(
        f"monorepo: {files} files, {commits} commits, {_size(source) / 2**20:.1f} MiB packed "
        f"(ready in {time.perf_counter() - started:.1f}s)"
    )
    with tempfile.TemporaryDirectory(prefix="vr-bench-fetch-") as scratch:
        base = Path(scratch)
        with serve(base / "server") as server:
            shutil.copytree(source, server.repos / "public" / "mono.git", symlinks=True)
            url = server.url("mono")
            head = git(source, "rev-parse", "main").strip()

            def clone() -> None:
                target = base / "clone"
                shutil.rmtree(target, ignore_errors=True)
                subprocess.run(
                    ["git", "clone", "--quiet", url, str(target)],
                    check=True,
                    env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull},
                )

            full_bytes, full_time = _measure(server.bytes_sent, clone)
            say(f"full git clone:  {full_bytes / 2**20:8.2f} MiB  {full_time:6.2f}s  (baseline)")
            for label, revision in (("full SHA", head), ("short SHA", head[:7])):
                fetch_bytes, fetch_time = _measure(
                    server.bytes_sent, lambda r=revision: _runner_fetch_process(url, r, base)
                )
                say(
                    f"runner fetch ({label}): {fetch_bytes / 2**20:8.2f} MiB  {fetch_time:6.2f}s  "
                    f"bytes ratio {fetch_bytes / full_bytes:.3f}, time ratio "
                    f"{fetch_time / full_time:.3f} (target <= 0.10)"
                )


def _measure(sent: Callable[[], int], action: Callable[[], None]) -> tuple[int, float]:
    before = sent()
    started = time.perf_counter()
    action()
    took = time.perf_counter() - started
    time.sleep(0.2)  # nginx writes its access log line after the response
    return sent() - before, took


def _runner_fetch_process(url: str, revision: str, base: Path) -> None:
    """In a fresh interpreter, as in a run (its start-up counts against the runner): the
    runner's subprocess wrapper reaps every descendant of its process, which here would be
    the Git server."""
    subprocess.run(
        [sys.executable, "-m", "bench.fetching", url, revision, str(base)],
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )


def _runner_fetch(url: str, revision: str, base: Path) -> None:
    request = FetchRequest(
        repo=url,
        revision=Revision.parse(revision),
        revision_source="TESTS_REVISION",
        subdir=".",
        patterns=tuple(
            sparse_patterns(
                subdir=".", central=CENTRAL, plugin_globs=(PLUGIN_GLOB,), extra=(), site=None
            )
        ),
        credentials_dir=None,
        scratch_root=base,
        run_name="bench",
    )
    with open(os.devnull, "wb") as devnull:
        sink = LogSink(console_fd=devnull.fileno())
        fetched = fetch_tests(
            request,
            base_env=dict(os.environ),
            under=Supervision(sink, Deadline(600), StopRequest(), grace=5),
        )
        sink.close()
    expected = 40 + 15 * len(TESTED_PLUGINS)
    specs = sum(1 for _ in fetched.workspace.rglob("*.spec.ts"))
    assert specs == expected, f"the runner's fetch holds {specs} specs, expected {expected}"
    fetched.remove()


if __name__ == "__main__":
    _runner_fetch(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
