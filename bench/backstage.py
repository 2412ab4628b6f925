"""Runner overhead on a Backstage app: `verification-runner run` vs bare Playwright, own config.

The yarn 4 Backstage-shaped repository of the tests (tests/helpers/backstage_repo.py: an app and
a plugin with `e2e-tests`, a root `playwright.config.ts` whose projects a generateProjects()-
style function makes) is cloned and installed once, as bench/install.py's baseline does. Both
sides then run in that checkout against the same target on 127.0.0.1: bare Playwright with the
workspace's own config, as a developer runs it (`playwright test`, the binary `npx` would pick,
from this repository's node_modules: the fixture does not depend on Playwright), and
`verification-runner run` with TESTS_WORKSPACE on it, which takes the same config.
Rounds alternate, the best of each side counts (the machine is noisy). Target: ratio <= 1.05.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from bench.install import _baseline as clone_and_install
from bench.install import served_app
from tests.helpers.backstage_repo import GLOB
from tests.test_readiness import Response, http_server

REPO = Path(__file__).resolve().parents[1]
CONFIG_USED = "workspace config playwright.config.ts"  # the runner took the app's own
ROUNDS = int(os.environ.get("BENCH_BACKSTAGE_ROUNDS", "3"))


def _site(_path: str, _headers: Mapping[str, str]) -> Response:
    return 200, {}, b"<!doctype html><title>Backstage</title>"


def _timed(argv: list[str], cwd: Path, env: dict[str, str], *expect: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or not all(line in done.stdout for line in expect):
        output = done.stdout[-3000:] + done.stderr[-3000:]
        raise SystemExit(f"{argv[:2]} failed ({done.returncode}):\n{output}")
    return elapsed


def run(say: Callable[[str], None]) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PLAYWRIGHT_", "VR_"))}
    for name in ("BASE_URL", "TESTS_WORKSPACE", "TESTS_REPO", "CI"):
        base.pop(name, None)
    with tempfile.TemporaryDirectory(prefix="vr-bench-backstage-") as folder:
        tmp = Path(folder)
        work = tmp / "checkout" / "app"
        with served_app(tmp) as (url, registry_url):
            clone_and_install(url, registry_url, tmp / "cache", work)
        bare_env = {**base, "NODE_PATH": str(REPO / "node_modules")}
        bare = [str(REPO / "node_modules" / ".bin" / "playwright"), "test"]
        runner_env = {
            **base,
            "TESTS_WORKSPACE": str(work),
            "CENTRAL_TESTS_DIR": "packages/app/e2e-tests",
            "PLUGIN_TESTS_GLOB": GLOB,
        }
        runner = [sys.executable, "-m", "runner", "run"]
        bare_best = runner_best = float("inf")
        with http_server(_site) as target:
            bare_env["PLAYWRIGHT_URL"] = runner_env["BASE_URL"] = target
            for n in range(ROUNDS):
                bare_best = min(bare_best, _timed(bare, work, bare_env, "2 passed"))
                runner_env["ARTIFACT_ROOT"] = str(tmp / f"artifacts-{n}")
                runner_best = min(
                    runner_best, _timed(runner, REPO, runner_env, "all 2 tests passed", CONFIG_USED)
                )
    say(
        f"  Backstage-shaped app (2 tests, own playwright.config.ts), best of {ROUNDS}: "
        f"bare playwright test {bare_best:.2f}s, verification-runner run "
        f"{runner_best:.2f}s, ratio {runner_best / bare_best:.3f} (target <= 1.05)"
    )
