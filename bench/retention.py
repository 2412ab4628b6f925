"""Pruning 10,000 run directories, against a bare shutil.rmtree of the same directories.

Each run looks like a small real one: run.json, a ledger, an attempt with its log, summary
and a two-file HTML report; every tenth has a _jobs index link. The policy removes 9,980 of
them (keep the newest 20). The baseline is the least any deletion can cost: one rmtree per
directory, no locks, no checks. Also timed: a dry run (the survey and plan alone).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from runner.volume.cleanup import cleanup
from runner.volume.retention import Policy

RUNS = int(os.environ.get("BENCH_RUNS", "10000"))
POLICY = Policy(keep_runs=20, max_age=timedelta(days=14))


def build(root: Path, runs: int) -> None:
    old = datetime.now(UTC) - timedelta(days=30)
    for i in range(runs):
        run = root / f"run-{i:05d}"
        attempt = run / "attempt-1"
        (attempt / "html-report").mkdir(parents=True)
        created = old + timedelta(seconds=i)
        (run / "run.json").write_text(json.dumps({"created": created.isoformat()}))
        (run / "ledger.jsonl").write_text('{"event":"start"}\n')
        os.utime(run / "ledger.jsonl", (created.timestamp(),) * 2)
        (attempt / "verification.log").write_text("log\n" * 20)
        (attempt / "summary.json").write_text("{}")
        (attempt / "html-report" / "index.html").write_text("<html></html>")
        (attempt / "html-report" / "data.zip").write_bytes(b"z" * 256)
        if i % 10 == 0:
            link = root / "_jobs" / "ns" / f"job-{i}.log"
            link.parent.mkdir(parents=True, exist_ok=True)
            os.link(attempt / "verification.log", link)


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def run(say: Callable[[str], None]) -> None:
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        base, ours = Path(tmp, "base"), Path(tmp, "ours")
        build(base, RUNS)
        build(ours, RUNS)
        doomed = sorted(p for p in base.iterdir() if p.name.startswith("run-"))[: RUNS - 20]
        baseline = timed(lambda: [shutil.rmtree(p) for p in doomed])
        dry = timed(lambda: cleanup(ours, POLICY, dry_run=True))
        report = cleanup(ours, POLICY, dry_run=True)
        real = timed(lambda: cleanup(ours, POLICY))
        left = sum(1 for p in ours.iterdir() if p.name.startswith("run-"))
    assert left == 20 and len(report.plan.remove) == RUNS - 20
    say(f"runs: {RUNS}, removed: {RUNS - 20}")
    say(f"baseline rmtree loop:  {baseline:7.2f} s")
    say(f"cleanup --dry-run:     {dry:7.2f} s  ({dry / baseline:.2f}x the baseline)")
    say(f"cleanup:               {real:7.2f} s  ({real / baseline:.2f}x the baseline)")
