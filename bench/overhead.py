"""Runner overhead: `verification-runner run` vs bare `npx playwright test`, example suite.

Both use the same config, workspace, reporters (JUnit, HTML, JSON into a temporary directory)
and local webServer; the runner adds identity, lock and ledger, the discovery reporter, the
tee, psutil sampling, the verdict and retention. Rounds alternate and the best of each side
counts, since this machine is noisy. Target: ratio <= 1.05.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROUNDS = int(os.environ.get("BENCH_OVERHEAD_ROUNDS", "2"))


def _port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


def _timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({done.returncode}):\n{done.stdout[-2000:]!r}")
    return time.perf_counter() - started


def run(say: Callable[[str], None]) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PLAYWRIGHT_", "VR_"))}
    base.pop("BASE_URL", None)
    base["TESTS_WORKSPACE"] = str(REPO / "examples" / "workspace")
    bare_best = runner_best = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(ROUNDS):
            out = Path(tmp) / f"bare-{n}"
            bare_env = {
                **base,
                "LOCAL_SITE_PORT": _port(),
                "TEST_RESULTS_DIR": str(out / "test-results"),
                "PLAYWRIGHT_JUNIT_OUTPUT_NAME": str(out / "junit.xml"),
                "PLAYWRIGHT_HTML_OUTPUT_DIR": str(out / "html-report"),
                "PLAYWRIGHT_HTML_OPEN": "never",
                "PLAYWRIGHT_JSON_OUTPUT_NAME": str(out / "results.json"),
            }
            bare = ["npx", "playwright", "test", "--config", str(REPO / "playwright.config.ts")]
            bare_best = min(bare_best, _timed(bare, bare_env))
            runner_env = {**base, "ARTIFACT_ROOT": str(Path(tmp) / "artifacts")}
            runner = [sys.executable, "-m", "runner", "run"]
            runner_best = min(runner_best, _timed(runner, runner_env))
    say(
        f"  example suite, best of {ROUNDS}: bare npx playwright test {bare_best:.1f}s, "
        f"verification-runner run {runner_best:.1f}s, ratio {runner_best / bare_best:.3f} "
        "(target <= 1.05)"
    )
