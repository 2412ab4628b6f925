"""Installing a fetched Backstage workspace: the runner's fetch + install vs git clone + yarn.

The yarn 4 Backstage-shaped repository of the tests (tests/helpers/backstage_repo.py) is served
by the real Git server on 127.0.0.1, its packages by verdaccio without uplink (scripts/setup-
registry.sh), twice: as the tests have it (4 packages in the lock file) and with the app
depending on BENCH_PACKAGES of setup-registry.sh too (163 packages, still tiny beside a
real Backstage app's 3,000; a fresh create-app app locks 2760 and installs 2.1 GB, where
yarn's own install took 100 s warm and 259 s cold on this machine, and the runner's about the
same). Baseline: a plain `git clone --depth 1` and `yarn install --immutable
--mode=skip-build` in it, as a developer would run them, without the builds the runner
skips. Runner: `fetch_and_install` (the sparse fetch, the workspace manifests, yarn berry with
no scripts), in a process of its own, as the Job runs it. Each side cold (an empty package
cache) and warm (the cache of the cold run), rounds alternating, best of ROUNDS.

Both sides do the same work: a fresh HOME each time (yarn keeps a global mirror there: a HOME
shared across rounds made the baseline's later "cold" installs warm), the same cache settings
(no global cache, no global mirror: the runner's HOME is a scratch folder thrown away after the
run, so it writes none), scripts and builds off, telemetry off, the repository's own nodeLinker. The
ratio compares the runner's fetch + install phase with the baseline: the interpreter's start
and the imports (about 0.4 s) are paid by every run, fetched or not (a Job that cloned and
installed on its own would still start the runner), and are printed beside it, in the
runner's whole process, which the warm start-up target counts.

What stays is a fixed cost, the same on any repository, that the tiny fixture cannot hide
(about 0.25 s here; yarn alone varies more than that between two runs on this machine): the
runner talks to the Git server four times where a clone does once (ls-remote, for the
revision's rules: a tag before a branch, a hex name that is no commit refused before anything
is fetched; the trees-only fetch; the root files and the tests' trees; the workspaces'
manifests, whose paths only the root's package.json names: the sparse fetch's byte savings),
three times for a full commit id (Kargo's usual revision, measured too), and each of those git
commands and yarn starts under the reaper (about 20 ms each on a quiet machine: the tree dies
with the runner, even of SIGKILL). Targets: cold <= 1.1x the baseline, warm start-up <= 20 s.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
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
from tests.helpers.registry import MANAGERS_DIR, REGISTRY_DIR, YARN_BERRY, serve_registry

REPO = Path(__file__).resolve().parents[1]
ROUNDS = int(os.environ.get("BENCH_INSTALL_ROUNDS", "5"))
LARGER_ROUNDS = int(os.environ.get("BENCH_INSTALL_LARGER_ROUNDS", "3"))
# The yarn settings both sides install with: the runner's own (runner/fetching/install.py).
YARN_SETTINGS = {
    "YARN_ENABLE_GLOBAL_CACHE": "false",
    "YARN_ENABLE_MIRROR": "false",
    "YARN_ENABLE_TELEMETRY": "false",
    "YARN_ENABLE_SCRIPTS": "false",
}


def bench_packages() -> dict[str, str]:
    """BENCH_PACKAGES of scripts/setup-registry.sh: name -> exact version."""
    script = (REPO / "scripts" / "setup-registry.sh").read_text(encoding="utf-8")
    found = re.search(r"^BENCH_PACKAGES=\(([^)]*)\)", script, re.MULTILINE)
    if found is None:
        raise RuntimeError("scripts/setup-registry.sh has no BENCH_PACKAGES=(...)")
    return dict(spec.rsplit("@", 1) for spec in found.group(1).split())


def _baseline(url: str, registry: str, cache: Path, work: Path) -> tuple[float, float]:
    """(clone, install) seconds of a plain clone and yarn's own install in it."""
    home = work.with_name(f"{work.name}-home")
    for folder in (work, home):
        shutil.rmtree(folder, ignore_errors=True)
    home.mkdir(parents=True)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "YARN_NPM_REGISTRY_SERVER": registry,
        "YARN_UNSAFE_HTTP_WHITELIST": "127.0.0.1",
        "YARN_CACHE_FOLDER": str(cache),
        **YARN_SETTINGS,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    started = time.monotonic()
    subprocess.run(["git", "clone", "--quiet", "--depth", "1", url, str(work)], env=env, check=True)
    cloned = time.monotonic()
    # --mode=skip-build as the runner installs (runner/fetching/managers.py): without it yarn
    # ran the fixture's own postinstall scripts, and now and then failed in them (yarn 4.18.1
    # handed a build.log WriteStream that was not open yet to spawn: ERR_INVALID_ARG_VALUE).
    done = subprocess.run(
        ["node", str(YARN_BERRY), "install", "--immutable", "--mode=skip-build"],
        cwd=work,
        env=env,
        check=False,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:  # say why: yarn writes its errors on stdout
        output = done.stdout[-3000:] + done.stderr[-2000:]
        raise SystemExit(f"yarn install in {work} failed:\n{output}")
    return cloned - started, time.monotonic() - cloned


def _runner(
    url: str, registry: str, cache: Path, scratch: Path, revision: str = "main"
) -> dict[str, float]:
    """In a process of its own, as the Job runs it: the runner's supervision reaps the
    descendants of the process it runs in, the Git server's included. The phase's figures
    come from that process (its last line), the process's from here."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "bench.install", url, registry, str(cache), str(scratch), revision],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    figures: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return {**figures, "process": time.monotonic() - started}


def _fetch_and_install(
    url: str, registry: str, cache: Path, scratch: Path, revision: str
) -> dict[str, float]:
    scratch.mkdir(parents=True, exist_ok=True)
    settings = load_settings(
        {
            "TESTS_REPO": url,
            "TESTS_REVISION": revision,
            "TESTS_SPARSE_PATHS": backstage_repo.HELPER,
            "PACKAGE_REGISTRY": registry,
            "PACKAGE_CACHE_DIR": str(cache),
            "PACKAGE_MANAGERS_DIR": str(MANAGERS_DIR),
            "TMPDIR": str(scratch),
            "ARTIFACT_ROOT": str(scratch / "artifacts"),
        }
    )
    with open(os.devnull, "wb") as devnull, LogSink(console_fd=devnull.fileno()) as sink:
        started = time.monotonic()
        fetched = fetch.fetch_and_install(
            settings,
            name="bench",
            base_env=dict(os.environ),
            under=Supervision(sink, Deadline(600), StopRequest(), 5),
        )
        phase = time.monotonic() - started
    assert fetched is not None and (fetched.workspace / "node_modules" / "is-odd").is_dir()
    fetched.remove()
    return {"phase": phase, "fetch": fetched.seconds}


@contextmanager
def served_app(
    base: Path, *, dependencies: dict[str, str] | None = None
) -> Iterator[tuple[str, str]]:
    """The yarn 4 Backstage-shaped repository on the Git server, its packages on verdaccio:
    yields (repository URL, registry URL). `dependencies` go into the app's package.json."""
    with serve_registry(base / "registry") as registry, serve(base / "git") as server:
        files = backstage_repo.workspace_files(manager="yarn", marker=base / "marker")
        if dependencies:
            app = json.loads(files["packages/app/package.json"])
            app["dependencies"].update(dependencies)
            files["packages/app/package.json"] = (json.dumps(app, indent=2) + "\n").encode()
        lock = backstage_repo.lock_file(
            files, manager="yarn", registry=registry.url, work=base / "lock"
        )
        fast_import(server.repos / "public" / "app.git", backstage_repo.history(files, lock))
        yield server.url("app"), registry.url


def _measure(
    base: Path, rounds: int, dependencies: dict[str, str] | None, *, by_commit: bool = False
) -> tuple[dict[str, list[float]], int]:
    """The figures of every round, and how many registry packages the lock file holds.
    `by_commit`: the runner also fetches main's full commit id instead of the branch."""
    figures: dict[str, list[float]] = {}

    def note(name: str, value: float) -> None:
        figures.setdefault(name, []).append(value)

    with served_app(base, dependencies=dependencies) as (url, registry_url):
        lock = (base / "lock" / "yarn.lock").read_text(encoding="utf-8")
        locked = len(re.findall(r'^  resolution: ".*@npm:', lock, re.MULTILINE))
        listed = subprocess.run(
            ["git", "ls-remote", url, "refs/heads/main"], capture_output=True, text=True, check=True
        )
        head = listed.stdout.split()[0]
        for round_ in range(rounds):
            for state in ("cold", "warm"):  # warm: the cache the cold install filled
                cache, work = base / f"cache-baseline-{round_}", base / f"work-baseline-{round_}"
                clone, install = _baseline(url, registry_url, cache, work)
                note(f"baseline {state}", clone + install)
                note(f"baseline {state} clone", clone)
                cache, work = base / f"cache-runner-{round_}", base / f"work-runner-{round_}"
                runner = _runner(url, registry_url, cache, work)
                note(f"runner {state}", runner["phase"])
                note(f"runner {state} fetch", runner["fetch"])
                note(f"runner {state} process", runner["process"])
                if by_commit:  # Kargo's usual revision: nothing to resolve, no ls-remote
                    cache, work = base / f"cache-sha-{round_}", base / f"work-sha-{round_}"
                    note(
                        f"runner {state} sha",
                        _runner(url, registry_url, cache, work, head)["phase"],
                    )
    return figures, locked


def _report(say: Callable[[str], None], label: str, figures: dict[str, list[float]]) -> None:
    best = {name: min(values) for name, values in figures.items()}
    rounds = len(figures["baseline cold"])
    say(f"-- {label} (best of {rounds}; medians in brackets)")
    for state in ("cold", "warm"):
        base, run = f"baseline {state}", f"runner {state}"
        say(
            f"baseline {state}: {best[base]:.2f} s [{statistics.median(figures[base]):.2f}] "
            f"(clone {best[base + ' clone']:.2f} s)"
        )
        say(
            f"runner {state}: {best[run]:.2f} s [{statistics.median(figures[run]):.2f}] "
            f"fetch + install (fetch {best[run + ' fetch']:.2f} s); its whole process "
            f"{best[run + ' process']:.2f} s with the interpreter's start and imports"
        )
    for state in ("cold", "warm"):
        ratio = best[f"runner {state}"] / best[f"baseline {state}"]
        medians = statistics.median(figures[f"runner {state}"]) / statistics.median(
            figures[f"baseline {state}"]
        )
        target = " (<= 1.1)" if state == "cold" else ""
        say(f"{state}: runner / baseline = {ratio:.2f} [{medians:.2f}]{target}")
    if "runner cold sha" in best:
        say(
            f"runner cold, TESTS_REVISION main's full commit id (Kargo's usual revision, "
            f"nothing to resolve: no ls-remote): {best['runner cold sha']:.2f} s "
            f"[{statistics.median(figures['runner cold sha']):.2f}], ratio "
            f"{best['runner cold sha'] / best['baseline cold']:.2f}"
        )
    fixed = best["runner cold fetch"] - best["baseline cold clone"]
    say(
        f"fixed cost of the fetch beyond a clone: {fixed:.2f} s, whatever the repository's size "
        "(four round trips to the Git server instead of one: ls-remote for the revision's "
        "rules, the trees, the root files and tests, the workspaces' manifests for the sparse "
        "fetch; each network git command and yarn under the reaper, so the tree dies with the "
        "runner)"
    )
    say(f"warm start-up (the whole process): {best['runner warm process']:.2f} s (<= 20 s)")


def run(say: Callable[[str], None]) -> None:
    with tempfile.TemporaryDirectory(prefix="vr-bench-install-") as folder:
        base = Path(folder)
        small, locked = _measure(base / "small", ROUNDS, None, by_commit=True)
        _report(say, f"the tests' fixture: {locked} packages in the lock file", small)
        packages = bench_packages()
        stamp = REGISTRY_DIR / "storage" / ".vr-packages"
        if not set(f"{n}@{v}" for n, v in packages.items()) <= set(stamp.read_text().split()):
            raise SystemExit(f"{stamp} lacks BENCH_PACKAGES: run scripts/setup-registry.sh")
        larger, locked = _measure(base / "larger", LARGER_ROUNDS, packages)
        _report(say, f"the app with {len(packages)} BENCH_PACKAGES: {locked} packages", larger)


if __name__ == "__main__":
    print(
        json.dumps(
            _fetch_and_install(
                sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), sys.argv[5]
            )
        )
    )
