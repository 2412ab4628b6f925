"""`lint -k` over every kustomization in kustomize/, against rendering them alone.

The baseline is `kubectl kustomize DIR` for each directory, one after the other: what any
linter of rendered manifests must pay. The product is one `verification-runner lint -k DIR ...`
process over the same directories (Python start-up, imports, rendering twice side by side, the
second with kustomize's origin annotations so findings point at source files, the CRD schemas
it needs, every rule). The target: under 1 s beyond the rendering. The machine is shared: the
best of 5 rounds of each. Also timed: the rules alone on
documents already loaded (in this process, CRD schemas warm).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from runner.lint.engine import lint_documents
from runner.lint.rendering import render_kustomization

REPO = Path(__file__).resolve().parents[1]
ROUNDS = 5


def _kustomizations() -> list[str]:
    root = REPO / "kustomize"
    return sorted(str(p.parent.relative_to(REPO)) for p in root.rglob("kustomization.yaml"))


def _best(action: Callable[[], object]) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def run(say: Callable[[str], None]) -> None:
    dirs = _kustomizations()

    def render_all() -> None:
        for directory in dirs:
            subprocess.run(
                ["kubectl", "kustomize", directory], cwd=REPO, capture_output=True, check=True
            )

    args = [arg for directory in dirs for arg in ("-k", directory)]

    def lint_all() -> None:
        command = [sys.executable, "-m", "runner", "lint", *args]
        subprocess.run(command, cwd=REPO, capture_output=True, check=False)

    render = _best(render_all)
    full = _best(lint_all)
    docs = [doc for directory in dirs for doc in render_kustomization(str(REPO / directory))]
    lint_documents(docs)  # warm the CRD schemas
    rules = _best(lambda: lint_documents(docs))
    say(f"{len(dirs)} kustomizations, {len(docs)} documents (best of {ROUNDS})")
    say(f"  rendering alone (baseline)   {render:6.2f} s")
    say(f"  lint -k, one process         {full:6.2f} s  ({full / render:.2f}x the baseline)")
    say(f"  beyond the rendering         {full - render:6.2f} s  (target: under 1 s)")
    say(f"  the rules alone, warm        {rules * 1000:6.1f} ms")
