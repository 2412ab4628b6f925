"""A bounded soak: a few hundred runs on one volume, random faults, cleanups racing them.

Afterwards every attempt is accounted for in its run's ledger, every kept run is complete,
every process's exit code matches what its attempt recorded, and nothing is left running (the
autouse fixture). A second test runs many attempts in this one process and checks that the
runner's memory and open files do not grow across them (psutil).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from runner.config.settings import load_settings
from runner.execution import run_verification
from runner.log.tee import LogSink
from runner.volume.artifacts import LEDGER, RUN_MARKER, TOMBSTONES
from tests.conftest import REPO, FakePlaywright, runner_command, start_runner

# 250 runs ("a few hundred") take about 100 s on the 2-core development VM (each run starts Python twice and
# Node once); SOAK_RUNS raises it for a longer soak by hand.
pytestmark = pytest.mark.slow

RUNS = int(os.environ.get("SOAK_RUNS", "250"))
WORKERS = 6
CLEANUPS = 3
IDENTITIES = 40  # fewer identities than runs: retries and duplicate executions happen
DOCUMENTED = {0, 1, 3, 5, 6, 7, 130, 143}
SCRIPTS = [
    ("discovery:3,print:20,junit:pass:3,exit:0", 0.30),
    ("discovery:3,junit:fail:3,exit:1", 0.15),
    ("discovery:3,junit:flaky:3,exit:0", 0.05),
    ("discovery:3,junit:truncated,exit:0", 0.05),
    ("discovery:3,junit:notxml,exit:0", 0.04),
    ("discovery:3,exit:0", 0.04),
    ("discovery:3,junit:pass,segv", 0.05),
    ("notests,exit:1", 0.04),
    ("discovery:3,bytes:200000,junit:pass:3,exit:0", 0.05),
    ("discovery:3,print:3,stubborn,hang", 0.08),  # SIGTERM/SIGINT from the soak, or deadline
    ("discovery:3,print:2,ignoreterm,hang", 0.04),  # the deadline (RUN_DEADLINE_SECONDS)
    ("discovery:3,print:2,sleep:1,junit:pass:3,exit:0", 0.10),  # long enough to be duplicated
]


def _one_run(
    i: int, fake_pw: FakePlaywright, root: Path, rng: random.Random
) -> tuple[int, bytes, str]:
    script = rng.choices([s for s, _ in SCRIPTS], [w for _, w in SCRIPTS])[0]
    env = fake_pw.env(
        root,
        script,
        ANALYSIS_RUN_UID=f"{_identity(rng):08x}-0000-4000-8000-000000000000",
        POD_NAME=f"soak-{i}",
        RUN_DEADLINE_SECONDS="2.5",
        KILL_GRACE_SECONDS="0.5",
        RETENTION_KEEP_RUNS="12",
        RETENTION_MAX_AGE_DAYS="0",
        ON_DUPLICATE=rng.choice(["refuse", "refuse", "wait"]),
    )
    del env["FAKE_PW_RECORD"]  # the runs would race on one record file
    proc = start_runner(env)
    assert proc.stdout is not None
    # Signalled once the test process runs: a signal during Python's start-up, before the
    # handlers exist, kills the runner outright (exit 143 all the same, nothing written yet).
    stop = "hang" in script and "ignoreterm" not in script and rng.random() < 0.6
    sig = rng.choice([signal.SIGTERM, signal.SIGINT])
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if stop and line.startswith(b"line 1"):
            threading.Timer(rng.uniform(0.0, 0.8), _signal, (proc, sig)).start()
    proc.stdout.close()
    return proc.wait(timeout=120), b"".join(lines), f"soak-{i}"


def _identity(rng: random.Random) -> int:
    """One run in five is the same hot run: duplicate executions meet, retries pile up."""
    return 0 if rng.random() < 0.2 else rng.randrange(1, IDENTITIES)


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)


def test_soak_accounts_for_every_attempt(tmp_path: Path, fake_pw: FakePlaywright) -> None:
    root = tmp_path / "volume"
    go = tmp_path / "go"
    cleanup_env = {
        **fake_pw.env(root, ""),
        "RETENTION_KEEP_RUNS": "12",
        "RETENTION_MAX_AGE_DAYS": "0",
    }
    cleanups = [
        subprocess.Popen(
            [sys.executable, str(REPO / "tests" / "helpers" / "cleanup_rounds.py"), str(go), "40"],
            env={**cleanup_env, "PYTHONPATH": str(REPO)},
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(CLEANUPS)
    ]
    go.touch()
    rng = random.Random(20261126)
    seeds = [random.Random(rng.random()) for _ in range(RUNS)]
    started = time.monotonic()
    with ThreadPoolExecutor(WORKERS) as pool:
        outcomes = list(pool.map(lambda i: _one_run(i, fake_pw, root, seeds[i]), range(RUNS)))
    for cleanup in cleanups:
        _, err = cleanup.communicate(timeout=120)
        assert cleanup.returncode == 0, err.decode()[-2000:]
    elapsed = time.monotonic() - started

    codes = [code for code, _, _ in outcomes]
    assert set(codes) <= DOCUMENTED, sorted(set(codes))
    for code, out, pod in outcomes:
        last = out.rstrip(b"\n").rsplit(b"\n", 1)[-1]
        assert last.startswith(b"[verification-runner] VERIFICATION "), last[-300:]
        assert f"(exit {code})".encode() in last, last[-300:]
        _matches_its_attempt(root, code, last, pod)

    kept = _check_volume(root)
    # A last cleanup leaves no tombstone behind: a racing one may have left some half-done.
    final = subprocess.run(
        [*runner_command(), "cleanup"], env=cleanup_env, cwd=REPO, capture_output=True, check=False
    )
    assert final.returncode == 0, final.stdout.decode()[-2000:]
    tombstones = root / TOMBSTONES
    assert not tombstones.exists() or not list(tombstones.iterdir())
    print(
        f"soak: {RUNS} runs in {elapsed:.0f}s, exit codes "
        f"{ {c: codes.count(c) for c in sorted(set(codes))} }, {kept} runs kept"
    )


def _matches_its_attempt(root: Path, code: int, last: bytes, pod: str) -> None:
    """The process's exit code is the one its attempt recorded (when the run is still kept)."""
    words = dict(part.split(b"=", 1) for part in last.split(b"|")[0].split() if b"=" in part)
    if b"run" not in words:
        return  # refused before an attempt existed (exit 7): nothing was written
    attempt = root / words[b"run"].decode() / f"attempt-{words[b'attempt'].decode().rstrip(':')}"
    if not attempt.exists():
        return  # removed since by a cleanup (retention), which is allowed
    meta = json.loads((attempt / "execution-metadata.json").read_text())
    if meta["kubernetes_pod_name"] != pod:
        return  # the run was pruned and made again by a later retry: another execution's
    summary = json.loads((attempt / "summary.json").read_text())
    assert summary["exit_code"] == meta["exit_code"] == code


def _check_volume(root: Path) -> int:
    """Every kept run: a valid run.json, each attempt dir in the ledger with a start and an end
    line, and complete (log ending with the verdict, metadata and summary agreeing)."""
    kept = 0
    for run in root.iterdir():
        if run.name.startswith((".", "_")):
            continue
        kept += 1
        json.loads((run / RUN_MARKER).read_text())
        ledger = [json.loads(x) for x in (run / LEDGER).read_text().splitlines()]
        starts = {x["attempt"] for x in ledger if x["event"] == "start"}
        ends = {x["attempt"]: x["exit_code"] for x in ledger if x["event"] == "end"}
        dirs = {int(p.name.split("-")[1]) for p in run.glob("attempt-*")}
        assert dirs == starts, (run.name, dirs, starts)
        assert set(ends) == starts, (run.name, "an attempt without an end line")
        for number in dirs:
            attempt = run / f"attempt-{number}"
            meta = json.loads((attempt / "execution-metadata.json").read_text())
            summary = json.loads((attempt / "summary.json").read_text())
            assert meta["exit_code"] == summary["exit_code"] == ends[number]
            log = (attempt / "verification.log").read_bytes().rstrip(b"\n")
            assert log.rsplit(b"\n", 1)[-1].startswith(b"[verification-runner] VERIFICATION ")
            assert not (attempt / ".space-reserve").exists()
    return kept


def test_many_attempts_in_one_process_do_not_grow(tmp_path: Path, fake_pw: FakePlaywright) -> None:
    """Memory and open files of the runner itself, across attempts in one process."""
    scripts = ["discovery:3,print:50,junit:pass:3,exit:0", "discovery:3,junit:fail:3,exit:1"]
    me = psutil.Process()
    with open(os.devnull, "wb") as devnull:

        def attempt(i: int) -> int:
            env = fake_pw.env(tmp_path / "root", scripts[i % 2], RETENTION_KEEP_RUNS="5")
            env["KARGO_PROMOTION_ID"] = f"promo-{i}"
            sink = LogSink(console_fd=devnull.fileno())
            return int(
                run_verification(load_settings(env), playwright_args=(), base_env=env, sink=sink)
            )

        for i in range(5):  # warm up: imports, caches, pydantic schemas
            attempt(i)
        rss, fds = me.memory_info().rss, me.num_fds()
        codes = [attempt(i) for i in range(5, 45)]
        grown_rss, grown_fds = me.memory_info().rss - rss, me.num_fds() - fds
    assert codes == [1, 0] * 20  # odd i fails, even i passes
    assert grown_fds <= 0, f"{grown_fds} more open files after 40 attempts"
    assert grown_rss < 16 << 20, f"memory grew by {grown_rss / 1e6:.1f} MB over 40 attempts"
    print(f"in-process: 40 attempts, rss {grown_rss / 1e6:+.1f} MB, fds {grown_fds:+d}")
