"""Installing a fetched Backstage workspace: the runner's fetch + install vs git clone + yarn.

The yarn 4 Backstage-shaped repository of the tests (tests/helpers/backstage_repo.py) is served
by the real Git server on 127.0.0.1, its packages by verdaccio without uplink (scripts/setup-
registry.sh). Baseline: a plain `git clone --depth 1` and `yarn install --immutable` in it, as
a developer would run them. Runner: `fetch_and_install` (the sparse fetch, the workspace
manifests, yarn berry with no scripts), in a process of its own. Each side cold (an empty package
cache) and warm (the cache of the cold run), best of 3. Targets: cold <= 1.1x the baseline,
warm start-up <= 20 s.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from runner import fetch
from runner.config.settings import load_settings
from runner.log.tee import LogSink
from runner.processes.bounds import Deadline, StopRequest
from runner.processes.child import Supervision
from tests.helpers import backstage_repo
from tests.helpers.git_repos import fast_import
from tests.helpers.git_server import serve
from tests.helpers.registry import MANAGERS_DIR, YARN_BERRY, serve_registry

ROUNDS = 3


def _baseline(url: str, registry: str, cache: Path, work: Path) -> float:
    shutil.rmtree(work, ignore_errors=True)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(work.parent),
        "YARN_NPM_REGISTRY_SERVER": registry,
        "YARN_UNSAFE_HTTP_WHITELIST": "127.0.0.1",
        "YARN_ENABLE_GLOBAL_CACHE": "false",
        "YARN_CACHE_FOLDER": str(cache),
        "YARN_ENABLE_TELEMETRY": "false",
        "YARN_ENABLE_SCRIPTS": "false",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    started = time.monotonic()
    subprocess.run(["git", "clone", "--quiet", "--depth", "1", url, str(work)], env=env, check=True)
    subprocess.run(
        ["node", str(YARN_BERRY), "install", "--immutable"],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
    )
    return time.monotonic() - started


def _runner(url: str, registry: str, cache: Path, scratch: Path) -> float:
    """In a process of its own, as the Job runs it (interpreter start included): the runner's
    supervision reaps the descendants of the process it runs in, the Git server's included."""
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "bench.install", url, registry, str(cache), str(scratch)],
        check=True,
    )
    return time.monotonic() - started


def _fetch_and_install(url: str, registry: str, cache: Path, scratch: Path) -> None:
    scratch.mkdir(parents=True, exist_ok=True)
    settings = load_settings(
        {
            "TESTS_REPO": url,
            "TESTS_REVISION": "main",
            "TESTS_SPARSE_PATHS": backstage_repo.HELPER,
            "PACKAGE_REGISTRY": registry,
            "PACKAGE_CACHE_DIR": str(cache),
            "PACKAGE_MANAGERS_DIR": str(MANAGERS_DIR),
            "TMPDIR": str(scratch),
            "ARTIFACT_ROOT": str(scratch / "artifacts"),
        }
    )
    with open(os.devnull, "wb") as devnull, LogSink(console_fd=devnull.fileno()) as sink:
        fetched = fetch.fetch_and_install(
            settings,
            name="bench",
            base_env=dict(os.environ),
            under=Supervision(sink, Deadline(600), StopRequest(), 5),
        )
    assert fetched is not None and (fetched.workspace / "node_modules" / "is-odd").is_dir()
    fetched.remove()


@contextmanager
def served_app(base: Path) -> Iterator[tuple[str, str]]:
    """The yarn 4 Backstage-shaped repository on the Git server, its packages on verdaccio:
    yields (repository URL, registry URL)."""
    with serve_registry(base / "registry") as registry, serve(base / "git") as server:
        files = backstage_repo.workspace_files(manager="yarn", marker=base / "marker")
        lock = backstage_repo.lock_file(
            files, manager="yarn", registry=registry.url, work=base / "lock"
        )
        fast_import(server.repos / "public" / "app.git", backstage_repo.history(files, lock))
        yield server.url("app"), registry.url


def run(say: Callable[[str], None]) -> None:
    with tempfile.TemporaryDirectory(prefix="vr-bench-install-") as folder:
        base = Path(folder)
        with served_app(base) as (url, registry_url):
            figures: dict[str, list[float]] = {}
            for round_ in range(ROUNDS):
                for side, measure in (("baseline", _baseline), ("runner", _runner)):
                    cache = base / f"cache-{side}-{round_}"
                    work = base / f"work-{side}-{round_}"
                    figures.setdefault(f"{side} cold", []).append(
                        measure(url, registry_url, cache, work)
                    )
                    figures.setdefault(f"{side} warm", []).append(
                        measure(url, registry_url, cache, work)
                    )
    best = {name: min(values) for name, values in figures.items()}
    for name, value in best.items():
        say(f"{name}: {value:.2f} s (best of {ROUNDS})")
    say(f"cold: runner / baseline = {best['runner cold'] / best['baseline cold']:.2f} (<= 1.1)")
    say(f"warm: runner / baseline = {best['runner warm'] / best['baseline warm']:.2f}")
    say(f"warm start-up (fetch + install): {best['runner warm']:.2f} s (<= 20 s)")


if __name__ == "__main__":
    _fetch_and_install(sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
