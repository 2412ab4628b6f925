"""The fault matrix: every fault the runner must survive, driven through the real CLI.

One table (FAULTS). Each row sets a fault up, runs `python -m runner run` in a subprocess with
the stand-in Playwright (tests/helpers/fault_playwright.py) or the real one, optionally acts on
it while it runs (a signal when a marker line appears), and then the same assertions hold for
every row (`_check_outcome`):

* the documented exit code;
* a one-line reason on the LAST line of the pod log (stdout) and in summary.json;
* verification.log complete and flushed: its last line is that same verdict line;
* execution-metadata.json valid JSON with the exit code, the ledger's last line for the
  attempt an "end" line with it;
* earlier attempts byte-for-byte unchanged (rows that make one first);
* no process left behind (the autouse fixture in conftest.py; this module also makes pytest a
  child subreaper, so even the orphans of a SIGKILLed runner come back to be counted).

The README's "Faults and outcomes" table is this table in words. Rows that need root (tmpfs,
overlay mounts) or libfaketime (scripts/setup-faults.sh) are skipped without them.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest

from runner.files.walk import remove_tree
from runner.volume.artifacts import LEDGER, RUN_MARKER, TOMBSTONES
from tests.conftest import (
    REPO,
    finish,
    playwright_shim,
    read_until,
    runner_command,
    runner_env,
    start_runner,
)

HELPERS = REPO / "tests" / "helpers"
UID = "5a1c0e2f-7b3d-4c4e-9f10-aabbccddeeff"
RUN = "5a1c0e2f7b3d"  # the run directory of UID
IS_ROOT = os.geteuid() == 0
FAKETIME = next(iter(Path("/usr/lib").glob("*/faketime/libfaketime.so.1")), None)
VERDICT = b"[verification-runner] VERIFICATION "
# In CI (CI=true, as root, set up by scripts/setup.sh test) nothing here may skip: a skipped row
# would hide a fault the matrix promises to cover.
IN_CI = bool(os.environ.get("CI"))
pytestmark = pytest.mark.slow
needs_root = pytest.mark.skipif(
    not IS_ROOT and not IN_CI, reason="mounts a tmpfs or an overlay: needs root"
)


# -- one execution of a row ----------------------------------------------------------------------
@dataclass
class Case:
    """What a row's setup and action work with."""

    tmp: Path
    root: Path
    env: dict[str, str]
    lines: list[bytes] = field(default_factory=list)
    arrived: list[float] = field(default_factory=list)  # when each line was read (monotonic)
    seen: threading.Condition = field(default_factory=threading.Condition)
    proc: subprocess.Popen[bytes] | None = None
    argv_prefix: list[str] = field(default_factory=list)  # e.g. unshare + hide_paths.py
    background: list[subprocess.Popen[bytes]] = field(default_factory=list)
    mounts: list[Path] = field(default_factory=list)
    prior: dict[Path, str] = field(default_factory=dict)  # earlier attempt dir -> checksum
    notes: dict[str, object] = field(default_factory=dict)
    reading: threading.Lock = field(default_factory=threading.Lock)
    remove: list[Path] = field(default_factory=list)  # deleted after the row, pass or fail

    def wait_for(self, marker: bytes, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        with self.seen:
            while not any(marker in line for line in self.lines):
                left = end - time.monotonic()
                assert left > 0, f"marker {marker!r} never appeared: {self.lines[-5:]}"
                self.seen.wait(left)

    def arrival(self, marker: bytes) -> float:
        """When the first line holding `marker` was read."""
        return next(t for line, t in zip(self.lines, self.arrived, strict=True) if marker in line)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.notes["signalled_at"] = time.monotonic()
        self.proc.send_signal(sig)

    def attempt_dir(self) -> Path | None:
        run = self.root / RUN
        if not run.is_dir():
            runs = [p for p in self.root.iterdir() if p.is_dir() and p.name[0] not in "._"]
            if not runs:
                return None
            run = max(runs, key=lambda p: p.stat().st_mtime)
        attempts = sorted(run.glob("attempt-*"), key=lambda p: int(p.name.split("-")[1]))
        return attempts[-1] if attempts else None


Setup = Callable[[Case], None]
Action = Callable[[Case], None]
Check = Callable[[Case, subprocess.CompletedProcess[bytes]], None]


@dataclass(frozen=True)
class Fault:
    name: str
    script: str  # FAULT_PW (fault_playwright.py), "" when the stand-in is not reached
    code: int
    reason: str  # on the last line of stdout and in summary.json's reason
    env: dict[str, str] = field(default_factory=dict)
    setup: Setup | None = None
    action: Action | None = None
    check: Check | None = None  # what this row adds to the shared assertions
    args: tuple[str, ...] = ()  # after `run`: Playwright's arguments
    attempt: bool = True  # an attempt directory is expected (False: the root is unwritable)
    console: bool = True  # the pod log is read (False: its pipe is closed on the runner)
    pod_log_whole: bool = True  # False: its reader stalls, so the pod log may lack the end
    marks: tuple[pytest.MarkDecorator, ...] = ()


def _run_case(fault: Fault, case: Case) -> subprocess.CompletedProcess[bytes]:
    if fault.setup:
        fault.setup(case)
    case.notes["attempts_before"] = _attempts(case.root)
    started = time.monotonic()
    case.proc = subprocess.Popen(
        [*case.argv_prefix, *runner_command(), "run", *fault.args],
        env={**case.env, "FAULT_PW": fault.script, **fault.env},
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert case.proc.stdout is not None
    out = case.proc.stdout
    if not fault.console:
        out.close()  # the pod log is gone: every write the runner makes to it fails (EPIPE)
    reader = threading.Thread(target=_read_lines, args=(case, out), daemon=True)
    if fault.console:
        reader.start()
    try:
        if fault.action:
            fault.action(case)
        code = case.proc.wait(timeout=150)
        case.notes["exited_at"] = time.monotonic()
    finally:
        if case.proc.poll() is None:
            case.proc.kill()
            case.proc.wait()
    if fault.console:
        reader.join(timeout=30)
        out.close()
    case.notes["elapsed"] = time.monotonic() - started
    return subprocess.CompletedProcess(case.proc.args, code, b"".join(case.lines), b"")


def _read_lines(case: Case, stream: object) -> None:
    for line in stream:  # type: ignore[attr-defined]
        with case.reading:  # held by a row that stalls the pod log's reader
            pass
        with case.seen:
            case.lines.append(line)
            case.arrived.append(time.monotonic())
            case.seen.notify_all()


# -- the shared assertions --------------------------------------------------------------------
def _check_outcome(fault: Fault, case: Case, done: subprocess.CompletedProcess[bytes]) -> None:
    tail = done.stdout.decode(errors="replace")[-3000:]
    assert done.returncode == fault.code, f"{fault.name}: exit {done.returncode}\n{tail}"
    last = done.stdout.rstrip(b"\n").rsplit(b"\n", 1)[-1] if fault.console else b""
    if fault.console and fault.pod_log_whole:
        assert last.startswith(VERDICT) or b"VERIFICATION NOT RUN" in last, tail
        assert fault.reason.encode() in last, f"reason {fault.reason!r} not in {last!r}"
        assert b"\r" not in last
    attempt = case.attempt_dir()
    if not fault.attempt:  # the root could not be written, or the run was refused
        before = case.notes["attempts_before"]
        assert isinstance(before, set)
        # A full volume may still take an empty directory (no data blocks): nothing else.
        for new in _attempts(case.root) - before:
            assert not list((case.root / new).iterdir()), new
    else:
        assert attempt is not None, tail
        summary = json.loads((attempt / "summary.json").read_text())
        assert summary["exit_code"] == fault.code
        assert fault.reason in summary["reason"] or fault.reason in summary["verdict"]
        log = (attempt / "verification.log").read_bytes().rstrip(b"\n")
        log_last = log.rsplit(b"\n", 1)[-1]
        assert log_last.startswith(VERDICT), log_last[-300:]
        assert fault.reason.encode() in log_last
        if fault.console and fault.pod_log_whole:
            assert log_last == last  # complete and flushed: the same final verdict line
        meta = json.loads((attempt / "execution-metadata.json").read_text())
        assert meta["exit_code"] == fault.code and meta["ended_at"]
        ledger = _ledger(attempt.parent)
        mine = [x for x in ledger if x.get("attempt") == int(attempt.name.split("-")[1])]
        assert [x["event"] for x in mine] == ["start", "end"], mine
        assert mine[-1]["exit_code"] == fault.code
        assert not (attempt / ".space-reserve").exists()
    for directory, digest in case.prior.items():
        assert _checksum(directory) == digest, f"earlier attempt {directory} was changed"


def _ledger(run: Path) -> list[dict[str, object]]:
    """The ledger's lines; a line torn by a crash is skipped, as runner/volume/ledger.py does."""
    lines = []
    for raw in (run / LEDGER).read_text().splitlines():
        with contextlib.suppress(ValueError):
            lines.append(json.loads(raw))
    return lines


def _attempts(root: Path) -> set[str]:
    with contextlib.suppress(OSError):
        return {str(p.relative_to(root)) for p in root.glob("*/attempt-*")}
    return set()


def _checksum(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*")):
        digest.update(str(path.relative_to(directory)).encode())
        if path.is_file() and not path.is_symlink():
            digest.update(path.read_bytes())
    return digest.hexdigest()


# -- setups and actions ---------------------------------------------------------------------
def prior_attempt(script: str = "discovery:3,junit:fail:3,exit:1") -> Setup:
    """An earlier, finished attempt of the same run; its checksum is compared afterwards."""

    def setup(case: Case) -> None:
        env = {**case.env, "FAULT_PW": script, "ANALYSIS_RUN_UID": UID}
        subprocess.run(
            [*runner_command(), "run"], env=env, cwd=REPO, capture_output=True, check=False
        )
        first = case.root / RUN / "attempt-1"
        assert (first / "summary.json").is_file()
        case.prior[first] = _checksum(first)
        case.env["ANALYSIS_RUN_UID"] = UID

    return setup


def both(*setups: Setup) -> Setup:
    def setup(case: Case) -> None:
        for one in setups:
            one(case)

    return setup


def mount_tmpfs(size: str, *, read_only: bool = False, fill: bool = False) -> Setup:
    """ARTIFACT_ROOT on a tmpfs of `size`, made read-only or full after what ran before."""

    def setup(case: Case) -> None:
        case.root.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", case.root], check=True
        )
        case.mounts.append(case.root)

    def after(case: Case) -> None:
        if fill:
            with (case.root / "filler").open("wb") as handle, pytest.raises(OSError):
                while True:
                    handle.write(b"\0" * 65536)
                    handle.flush()
        if read_only:
            subprocess.run(["mount", "-o", "remount,ro", case.root], check=True)

    setup.after = after  # type: ignore[attr-defined]
    return setup


def on_tmpfs(
    size: str, *, read_only: bool = False, fill: bool = False, prior: bool = False
) -> Setup:
    mount = mount_tmpfs(size, read_only=read_only, fill=fill)

    def setup(case: Case) -> None:
        mount(case)
        if prior:
            prior_attempt()(case)
        mount.after(case)  # type: ignore[attr-defined]

    return setup


def signal_on(marker: bytes, sig: int, delay: float = 0.0) -> Action:
    def action(case: Case) -> None:
        case.wait_for(marker)
        time.sleep(delay)
        case.signal(sig)

    return action


def closed_port(case: Case) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    case.env.update(
        BASE_URL=f"http://127.0.0.1:{port}",
        READY_BACKOFF_INITIAL_SECONDS="0.2",
        READY_BACKOFF_MAX_SECONDS="0.5",
    )


def stall_the_pod_log(case: Case) -> None:
    """The pod log's reader stops reading (a stalled log agent) until the runner has ended."""
    assert case.proc is not None
    case.wait_for(b"verification-runner ")
    with case.reading:
        try:
            case.notes["exited_while_stalled"] = case.proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            case.notes["exited_while_stalled"] = None


def finished_while_stalled(case: Case, done: subprocess.CompletedProcess[bytes]) -> None:
    assert case.notes["exited_while_stalled"] == 1, "the runner hung on its stalled pod log"
    attempt = case.attempt_dir()
    assert attempt is not None
    log = (attempt / "verification.log").read_bytes()
    assert b"x" * (24 << 20) in log  # the file has every byte
    assert b"were not shown in the pod log (it was not being read)" in log
    assert b"Traceback" not in log


def trickling_target(case: Case) -> None:
    """BASE_URL answers every request with headers that never end, one byte at a time."""
    server = subprocess.Popen(
        [sys.executable, str(HELPERS / "trickle_server.py")], stdout=subprocess.PIPE
    )
    case.background.append(server)
    assert server.stdout is not None
    port = int(server.stdout.readline())
    case.env["BASE_URL"] = f"http://127.0.0.1:{port}"


def ended_within(seconds: float) -> Check:
    def check(case: Case, done: subprocess.CompletedProcess[bytes]) -> None:
        elapsed = case.notes["elapsed"]
        assert isinstance(elapsed, float) and elapsed < seconds, elapsed

    return check


def fifo_run_marker(case: Case) -> None:
    """An old run whose run.json is a FIFO: opening it for reading would wait for ever."""
    old_runs(2)(case)
    marker = case.root / "h-000000000000" / "run.json"
    marker.unlink()
    os.mkfifo(marker)


def cleanup_skips_the_fifo(case: Case, done: subprocess.CompletedProcess[bytes]) -> None:
    assert b"retention:" in done.stdout  # retention after the run went past it
    dry = subprocess.run(
        [*runner_command(), "cleanup", "--dry-run"],
        env=case.env,
        cwd=REPO,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert dry.returncode == 0, dry.stdout.decode(errors="replace")[-2000:]
    assert b"h-000000000000  no readable run.json" in dry.stdout


def fifo_ledger(case: Case) -> None:
    """The run's ledger.jsonl is a FIFO (a volume writer's mistake or malice)."""
    case.env["ANALYSIS_RUN_UID"] = UID
    (case.root / RUN).mkdir(parents=True)
    os.mkfifo(case.root / RUN / LEDGER)


def symlink_out(where: str) -> Setup:
    """`where` (under the root) is a symlink to a directory outside the root."""

    def setup(case: Case) -> None:
        outside = case.tmp / "outside"
        outside.mkdir()
        case.env.update(POD_NAMESPACE="team", JOB_NAME="verify-1", ANALYSIS_RUN_UID=UID)
        if where == "_jobs/team":
            (case.root / "_jobs").mkdir(parents=True)
        elif where.startswith(RUN):
            (case.root / RUN).mkdir(parents=True)
            case.env.update(SHARD_COUNT="2", SHARD_INDEX="0")
        else:
            case.root.mkdir(parents=True)
        (case.root / where).symlink_to(outside)

    return setup


def nothing_written_outside(case: Case, done: subprocess.CompletedProcess[bytes]) -> None:
    assert not list((case.tmp / "outside").iterdir()), "written through a symlink"


def old_runs(count: int) -> Setup:
    """`count` finished runs 30 days old, for retention to prune after the verdict."""

    def setup(case: Case) -> None:
        when = datetime.now(UTC) - timedelta(days=30)
        created = json.dumps({"run_name": "x", "created": when.isoformat()})
        for i in range(count):
            run = case.root / f"h-{i:012x}"
            (run / "attempt-1").mkdir(parents=True)
            (run / RUN_MARKER).write_text(created)
            (run / "attempt-1" / "verification.log").write_text("old\n")
            ledger = run / LEDGER
            ledger.write_text('{"event":"start","attempt":1}\n')
            os.utime(ledger, (when.timestamp(), when.timestamp()))
        case.env.update(RETENTION_KEEP_RUNS="1", RETENTION_MAX_AGE_DAYS="0")

    return setup


def _at_end_line(case: Case, act: Callable[[], None]) -> None:
    """Act as soon as the ledger has this attempt's end line: retention starts right then."""
    ledger = case.root / RUN / LEDGER
    end = time.monotonic() + 60
    while time.monotonic() < end:
        if ledger.exists() and b'"event":"end"' in ledger.read_bytes():
            act()
            return
        time.sleep(0.005)
    raise AssertionError("the attempt never wrote its end line")


def signal_in_cleanup(sig: int) -> Action:
    """The signal arrives while retention runs: the runner is frozen (SIGSTOP) at its end
    line, signalled, and let go, so a fast retention cannot finish before the signal."""

    def act(case: Case) -> None:
        assert case.proc is not None
        case.proc.send_signal(signal.SIGSTOP)
        case.signal(sig)
        case.proc.send_signal(signal.SIGCONT)

    return lambda case: _at_end_line(case, lambda: act(case))


CLEANUP_DEADLINE = 8.0


def deadline_in_cleanup(case: Case) -> None:
    """Freeze the runner (SIGSTOP) as soon as its verdict is on disk, let its monotonic
    deadline pass while it is frozen, then let it go on: the deadline runs out during
    retention on a fast machine and on a loaded one alike, instead of racing a timer."""
    proc = case.proc
    assert proc is not None
    started = time.monotonic()  # before the runner's own start, so its deadline ends earlier
    _at_end_line(case, lambda: proc.send_signal(signal.SIGSTOP))
    time.sleep(max(0.0, started + CLEANUP_DEADLINE + 2 - time.monotonic()))
    proc.send_signal(signal.SIGCONT)


def stopped_promptly(case: Case, done: subprocess.CompletedProcess[bytes]) -> None:
    """Retention was cut short: the runner exited soon after the signal, runs were left."""
    signalled, exited = case.notes["signalled_at"], case.notes["exited_at"]
    assert isinstance(signalled, float) and isinstance(exited, float)
    assert b"stopped early" in done.stdout
    assert _left_undone(case), "retention finished before the signal: make the row longer"
    assert exited - signalled < PROMPTLY, f"exited {exited - signalled:.1f}s after the signal"


def _left_undone(case: Case) -> list[Path]:
    """Old runs not yet retired, or retired into tombstones not yet deleted: on a fast
    machine retention may rename every run before the stop and be cut while deleting."""
    tombstones = case.root / TOMBSTONES
    left = [p for p in case.root.iterdir() if p.name.startswith("h-")]
    return left + (list(tombstones.iterdir()) if tombstones.is_dir() else [])


def cleanup_was_cut(case: Case, done: subprocess.CompletedProcess[bytes]) -> None:
    assert b"stopped early" in done.stdout
    assert _left_undone(case), "retention finished before the deadline: make the row longer"


def hide_browser(case: Case) -> None:
    """Real Playwright on a machine without any Chromium: /usr/bin/chromium hidden by an
    overlay whiteout in a private mount namespace, Playwright's own browser path emptied."""
    layers = case.tmp / "layers"
    layers.mkdir()
    case.argv_prefix = [
        "unshare",
        "-m",
        "--propagation",
        "private",
        sys.executable,
        str(HELPERS / "hide_paths.py"),
        str(layers),
        "/usr/bin/chromium",
        "--",
    ]
    case.env.update(PATH=os.environ["PATH"], PLAYWRIGHT_HOME=str(REPO))  # the real Playwright
    case.env.update(
        PLAYWRIGHT_BROWSERS_PATH=str(case.tmp / "no-browsers"),
        BROWSER_EXECUTABLE=str(case.tmp / "no-chromium"),
    )


def broken_browser(case: Case) -> None:
    """Real Playwright whose only Chromium is present but cannot start (as when its shared
    libraries are missing): Playwright's own browser path emptied, BROWSER_EXECUTABLE an
    executable that exits at once. Every test fails in browserType.launch."""
    chromium = case.tmp / "chromium"
    chromium.write_text(
        "#!/bin/sh\necho 'chromium: error while loading shared libraries: libnss3.so' >&2\n"
        "exit 127\n"
    )
    chromium.chmod(0o755)
    case.env.update(PATH=os.environ["PATH"], PLAYWRIGHT_HOME=str(REPO))  # the real Playwright
    case.env.update(
        PLAYWRIGHT_BROWSERS_PATH=str(case.tmp / "no-browsers"),
        BROWSER_EXECUTABLE=str(chromium),
        PLAYWRIGHT_RETRIES="0",
    )


def playwright_not_installed(case: Case) -> None:
    home = case.tmp / "pw-home"
    home.mkdir()
    shutil.copy(REPO / "playwright.config.ts", home)
    case.env.update(PATH=os.environ["PATH"], PLAYWRIGHT_HOME=str(home))


def first_runner_holds(case: Case) -> None:
    """Another execution of the same run is under way (two pods for one run). It holds the run
    until the row's check releases it (`_release_first`), not for a time: a second runner that
    starts late on a loaded machine still meets it."""
    case.env["ANALYSIS_RUN_UID"] = UID
    release = case.tmp / "release-first"
    script = f"discovery:3,say:first holds,await:{release},junit:pass:3,exit:0"
    first = start_runner({**case.env, "FAULT_PW": script})
    case.background.append(first)
    assert first.stdout is not None
    for line in first.stdout:
        if b"first holds" in line:
            break


def _release_first(case: Case) -> subprocess.Popen[bytes]:
    (first,) = case.background
    (case.tmp / "release-first").touch()
    return first


# The stop request is looked at every WAIT_SLICE (0.5 s) while waiting as a duplicate, and
# retention stops between two runs: a quiet machine notices within a fraction of a second. The
# bound, measured from the signal, leaves a loaded machine room and still fails a wait that
# runs on (the first holds the run until released) or a retention that finishes its 3000 runs.
PROMPTLY = 3.0


def waited_promptly(case: Case, done: subprocess.CompletedProcess[bytes]) -> None:
    """The waiter left soon after the signal although the first still held the run."""
    (first,) = case.background
    assert first.poll() is None, "the first execution ended: the wait was not interrupted"
    signalled = case.notes["signalled_at"]
    assert isinstance(signalled, float)
    noticed = case.arrival(b"received during the wait") - signalled
    assert noticed < PROMPTLY, f"the wait noticed the signal {noticed:.1f}s after it"
    _release_first(case).communicate(timeout=60)
    assert not (case.root / RUN / "attempt-2").exists()


def duplicate_refused(case: Case, done: subprocess.CompletedProcess[bytes]) -> None:
    first = _release_first(case)
    rest, _ = first.communicate(timeout=60)
    assert first.returncode == 0, rest.decode(errors="replace")[-2000:]
    run = case.root / RUN
    assert not (run / "attempt-2").exists()
    events = [json.loads(x)["event"] for x in (run / LEDGER).read_text().splitlines()]
    assert events == ["start", "refused", "end"]
    summary = json.loads((run / "attempt-1" / "summary.json").read_text())
    assert summary["exit_code"] == 0  # the refused duplicate touched nothing of the first


def killed_runner_left_a_lock(case: Case) -> None:
    """A runner SIGKILLed mid-run (OOM, node lost): its flock dies with it, its files stay,
    and its whole tree (npx, node, a grandchild in its own session that ignores SIGTERM)
    dies with it by itself (runner/processes/reaper.py), without the container's end to kill it."""
    case.env["ANALYSIS_RUN_UID"] = UID
    env = {**case.env, "FAULT_PW": "discovery:3,print:2,stubborn,say:holding,hang"}
    victim = start_runner(env)
    try:
        read_until(victim, b"holding")
        children = psutil.Process(victim.pid).children(recursive=True)
    finally:
        finish(victim)  # SIGKILL: the fault itself
    assert len(children) >= 3, children  # the reaper, the stand-in and its grandchild
    # Orphans come to pytest (a subreaper here): wait_procs also reaps them.
    _, alive = psutil.wait_procs(children, timeout=15)
    assert not alive, f"the SIGKILLed runner's tree outlived it: {alive}"
    first = case.root / RUN / "attempt-1"
    case.prior[first] = _checksum(first)


def retry_after_kill(case: Case, done: subprocess.CompletedProcess[bytes]) -> None:
    assert b"RETRY" in done.stdout and b"unfinished (killed, or still running)" in done.stdout
    meta = json.loads((case.root / RUN / "attempt-2" / "execution-metadata.json").read_text())
    assert meta["retry_attempt"] is True


def torn_ledger(case: Case) -> None:
    prior_attempt()(case)
    with (case.root / RUN / LEDGER).open("ab") as ledger:
        ledger.write(b'{"event":"end","attempt":1,"ti')  # a crash in the middle of an append
    case.prior.clear()  # the ledger is the run's, not the attempt's; attempt-1 is checked below


def hostile_output_kept(case: Case, done: subprocess.CompletedProcess[bytes]) -> None:
    attempt = case.attempt_dir()
    assert attempt is not None
    log = (attempt / "verification.log").read_bytes()
    assert b"\xff\xfe invalid \x00 nul \x1b[31mred" in log
    assert b"x" * (10 << 20) in log


# Quotes, a backslash and non-ASCII in 27 bytes: the tee's cuts fall inside copies of it.
SPLIT_SECRET = 'p"a\\ss-w\u00f6rd-\u2603-across-cut'  # noqa: S105 - a planted test secret
SPLIT_COPIES = 120_000  # 3.2 MB on one line: the tee cuts it at least three times


def secret_masked_across_cuts(case: Case, done: subprocess.CompletedProcess[bytes]) -> None:
    attempt = case.attempt_dir()
    assert attempt is not None
    line = b"\n" + b"****" * SPLIT_COPIES + b"\n"  # every copy masked, no piece between
    for where, data in (("log", (attempt / "verification.log").read_bytes()), ("pod", done.stdout)):
        assert line in data, f"{where}: a piece of the secret survived a cut"
        assert b"across-cut" not in data and b"\xe2\x98\x83" not in data, where


def forged_line_is_not_last(case: Case, done: subprocess.CompletedProcess[bytes]) -> None:
    last = done.stdout.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    assert b"VERIFICATION FAILED" in last and b"run=forged" not in last.split(b"|")[0]


def hostile_identity(case: Case) -> None:
    case.env.update(
        KARGO_PROMOTION_ID="../../../etc/x\n\x1b[31m$(touch pwned);`touch pwned` 'q\"" + "z" * 5000,
        JOB_NAME="../../../evil",
        POD_NAMESPACE="../..",
        POD_NAME="pod\nVERIFICATION PASSED",
        KARGO_STAGE="$(touch pwned)",
    )


def nothing_outside_the_root(case: Case, done: subprocess.CompletedProcess[bytes]) -> None:
    (run,) = [p for p in case.root.iterdir() if p.name[0] not in "._"]
    assert run.name.startswith("h-")
    assert not (case.root / "_jobs").exists()  # an invalid Job name is not indexed
    assert sorted(p.name for p in case.tmp.iterdir()) == ["bin", "bin-home", "root"]
    assert not list(REPO.glob("pwned")) and not list(case.root.rglob("pwned"))


def clock_jumps(case: Case) -> None:
    """The wall clock jumps 400 days ahead, then 30 days back, while Playwright runs; the
    monotonic clock (the deadline's) does not, as on a real machine (NTP step, VM resume)."""
    assert FAKETIME is not None
    stamp = case.tmp / "faketime"
    stamp.write_text("+0\n")
    case.env.update(
        LD_PRELOAD=str(FAKETIME),
        FAKETIME_TIMESTAMP_FILE=str(stamp),
        FAKETIME_NO_CACHE="1",
        FAKETIME_DONT_FAKE_MONOTONIC="1",
        RUN_DEADLINE_SECONDS="60",
    )
    case.notes["stamp"] = stamp


def jump_the_clock(case: Case) -> None:
    stamp = case.notes["stamp"]
    assert isinstance(stamp, Path)
    case.wait_for(b"clock jumps now")
    stamp.write_text("+400d\n")
    time.sleep(0.7)
    stamp.write_text("-30d\n")


def clock_really_jumped(case: Case, done: subprocess.CompletedProcess[bytes]) -> None:
    attempt = case.attempt_dir()
    assert attempt is not None
    meta = json.loads((attempt / "execution-metadata.json").read_text())
    started = datetime.fromisoformat(meta["started_at"])
    ended = datetime.fromisoformat(meta["ended_at"])
    assert ended < started - timedelta(days=29)  # the record says what the clock said


def fill_during_run(case: Case, done: subprocess.CompletedProcess[bytes]) -> None:
    attempt = case.attempt_dir()
    assert attempt is not None
    assert b"output lost here" in (attempt / "verification.log").read_bytes()
    assert b"line 399999" in done.stdout  # the pod log got everything


def _under_read_only(case: Case, missing: str) -> None:
    """A read-only tmpfs, and the artifact root a directory that is not on it yet."""
    on_tmpfs("1m", read_only=True)(case)
    case.env["ARTIFACT_ROOT"] = str(case.root / missing)


def deep_root(case: Case) -> None:
    case.root = case.tmp / "root" / "not" / "there" / "yet"
    case.env["ARTIFACT_ROOT"] = str(case.root)


def termination_dir(case: Case) -> None:
    target = case.tmp / "termination-log"
    target.mkdir()
    case.env["TERMINATION_MESSAGE_PATH"] = str(target)


DEEP_LEVELS = 1500  # Python 3.11's os.walk and shutil.rmtree recurse once per level
DEEP_SECRET = "deep-secret-4711"  # noqa: S105 - a planted test secret


def deep_output(case: Case) -> None:
    case.env["TERMINATION_MESSAGE_PATH"] = str(case.tmp / "termination-log")
    # Left in tmp_path, a deep tree breaks pytest's rmtree of old temporary directories.
    case.remove.append(case.root)


def deep_output_survives(case: Case, done: subprocess.CompletedProcess[bytes]) -> None:
    """The verdict is whole (the shared checks), the termination message is written, the
    secret at the bottom is masked, and a cleanup removes the run, 1,500 levels and all."""
    attempt = case.attempt_dir()
    assert attempt is not None
    assert "1 of 3 tests failed" in (case.tmp / "termination-log").read_text()
    here = os.getcwd()
    os.chdir(attempt / "test-results")
    try:
        for _ in range(DEEP_LEVELS):
            os.chdir("d")
        assert Path("leak.txt").read_bytes() == b"the password is ****\n"
    finally:
        os.chdir(here)
    env = {**case.env, "RETENTION_KEEP_RUNS": "0", "RETENTION_MAX_AGE_DAYS": "0"}
    cleanup = subprocess.run(
        [*runner_command(), "cleanup"],
        env=env,
        cwd=REPO,
        capture_output=True,
        timeout=120,
        check=False,
    )
    out = cleanup.stdout.decode(errors="replace") + cleanup.stderr.decode(errors="replace")
    assert cleanup.returncode == 0 and "Traceback" not in out, out[-3000:]
    assert not attempt.exists(), out[-3000:]
    assert list((case.root / TOMBSTONES).iterdir()) == [], out[-3000:]


def no_console(case: Case, done: subprocess.CompletedProcess[bytes]) -> None:
    attempt = case.attempt_dir()
    assert attempt is not None
    assert b"fails on purpose" in (attempt / "verification.log").read_bytes()


def real_workspace(files: dict[str, str]) -> Setup:
    """Real Playwright (no browser needed: these specs use no page) on a workspace of `files`
    under the central tree, as a Kargo run."""

    def setup(case: Case) -> None:
        workspace = case.tmp / "workspace"
        for name, text in files.items():
            path = workspace / "apps/backstage/tests/acceptance" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(IMPORT + text)
        case.env.update(
            PATH=os.environ["PATH"],
            PLAYWRIGHT_HOME=str(REPO),  # the real Playwright
            TESTS_WORKSPACE=str(workspace),
            SUITE="kargo",
            BASE_URL="http://127.0.0.1:9",
            READY_SKIP="true",
        )
        case.notes["workspace"] = workspace

    return setup


IMPORT = "import { test, expect } from '@playwright/test';\n"
TWO_FAIL_ONE_FOCUSED = {
    "a.spec.ts": "test('a1', () => { expect(1).toBe(2); });\ntest('a2', () => { expect(1).toBe(3); });\n",
    "b.spec.ts": "test.only('b', () => { expect(1).toBe(1); });\n",
}
SNAPSHOT = {
    "snap.spec.ts": "test('snap', () => { expect('hello').toMatchSnapshot('hello.txt'); });\n"
}
PASSING = {"ok.spec.ts": "test('ok', () => { expect(1).toBe(1); });\n"}


def workspace_untouched(case: Case, done: subprocess.CompletedProcess[bytes]) -> None:
    workspace = case.notes["workspace"]
    assert isinstance(workspace, Path)
    assert [p.name for p in workspace.rglob("*") if p.is_file()] == ["snap.spec.ts"]


def literals_shown(case: Case, done: subprocess.CompletedProcess[bytes]) -> None:
    """A flag called AUTH_ENABLED=true is no credential: "true" stays readable everywhere."""
    assert b"flags true false null 3600" in done.stdout


def bytes_secret_masked(case: Case, done: subprocess.CompletedProcess[bytes]) -> None:
    assert b"the token is ****" in done.stdout and b"\xffcd" not in done.stdout


def copied_workspace(change: Callable[[Path], None]) -> Setup:
    """A copy of the example workspace, changed by `change` (a tree removed, a link broken)."""

    def setup(case: Case) -> None:
        workspace = case.tmp / "workspace"
        shutil.copytree(REPO / "examples" / "workspace", workspace, symlinks=True)
        change(workspace)
        case.env["TESTS_WORKSPACE"] = str(workspace)

    return setup


PLUGINS = "apps/backstage/plugins"


def dangling_plugin(workspace: Path) -> None:
    (workspace / PLUGINS / "search").symlink_to(workspace / "gone")


def empty_plugin_tree(workspace: Path) -> None:
    (workspace / PLUGINS / "search" / "tests" / "acceptance").mkdir(parents=True)


def empty_central_tree(workspace: Path) -> None:
    for spec in (workspace / "apps/backstage/tests/acceptance").iterdir():
        spec.unlink()


def warned_of_empty_plugin(case: Case, done: subprocess.CompletedProcess[bytes]) -> None:
    assert (
        b"WARNING: plugin tree" in done.stdout and b"(plugin:search) holds no spec" in done.stdout
    )


SIGS = (("SIGTERM", signal.SIGTERM, 143), ("SIGINT", signal.SIGINT, 130))
FAILED_RUN = "discovery:3,junit:fail:3,exit:1"


def _signal_rows() -> list[Fault]:
    rows = []
    for name, sig, code in SIGS:
        rows += [
            Fault(
                f"{name} during readiness",
                "discovery:3,junit:pass:3",
                code,
                f"{name} received during readiness",
                setup=closed_port,
                action=signal_on(b"not ready:", sig),
            ),
            Fault(
                f"{name} during a probe of a server that trickles its headers",
                "discovery:3,junit:pass:3",
                code,
                f"{name} received during readiness",
                setup=trickling_target,
                env={"READY_DEADLINE_SECONDS": "120"},
                action=signal_on(b"waiting up to", sig, delay=1.0),
                check=ended_within(30),
            ),
            Fault(
                f"{name} during discovery",
                "say:loading the config,hang",
                code,
                "no results were written",
                action=signal_on(b"loading the config", sig),
            ),
            Fault(
                f"{name} during the run (stubborn grandchild)",
                "discovery:3,print:3,stubborn,hang",
                code,
                "interrupted",
                action=signal_on(b"stubborn grandchild up", sig),
            ),
            # The report phase lasts as long as judging the results does; a 300,000-test JUnit
            # file makes that about a second, but whether the signal lands just before or just
            # after Playwright's exit is a race. Both outcomes are the same: never the verdict.
            Fault(
                f"{name} during the report",
                "discovery:3,junit:huge:300000,say:results written,exit:0",
                code,
                "interrupted",
                action=signal_on(b"results written", sig, delay=0.2),
            ),
            # The verdict is on disk (summary, metadata, ledger end line) before retention
            # starts, so the exit code stays the verdict's; retention stops between two runs.
            Fault(
                f"{name} during cleanup",
                "discovery:3,junit:pass:3,exit:0",
                0,
                "all 3 tests passed",
                setup=old_runs(3000),
                action=signal_in_cleanup(sig),
                check=stopped_promptly,
                env={"ANALYSIS_RUN_UID": UID},
            ),
        ]
    return rows


FAULTS: list[Fault] = [
    # -- results ---------------------------------------------------------------------------------
    Fault("JUnit missing", "discovery:3,exit:0", 3, "does not exist"),
    Fault("JUnit empty", "discovery:3,junit:empty,exit:0", 3, "is empty"),
    Fault("JUnit truncated", "discovery:3,junit:truncated,exit:0", 3, "not valid XML"),
    Fault("JUnit not XML", "discovery:3,junit:notxml,exit:0", 3, "not valid XML"),
    Fault("JUnit with zero testcases", "discovery:3,junit:zero,exit:0", 3, "no testcase"),
    # A failure the JUnit file holds anywhere counts, whatever Playwright's exit code says.
    Fault("JUnit failure a suite deeper", "discovery:3,junit:nested,exit:0", 1, "1 of 3 tests"),
    Fault("JUnit failure under <testsuites>", "discovery:3,junit:stray,exit:0", 1, "1 of 3 tests"),
    # -- what a verification runs: the whole suite, as committed (real Playwright) -----------------
    Fault(
        "test.only narrows the suite",
        "",
        2,
        "a focused test (test.only / describe.only)",
        setup=real_workspace(TWO_FAIL_ONE_FOCUSED),
    ),
    Fault(
        "missing snapshot baseline in a Kargo run",
        "",
        1,
        "1 of 1 tests failed",
        setup=real_workspace(SNAPSHOT),
        check=workspace_untouched,
    ),
    Fault(
        "mistyped Playwright option",
        "",
        2,
        "Playwright refused the arguments (error: unknown option '--promotoin')",
        setup=real_workspace(PASSING),
        args=("--promotoin", "x"),
    ),
    Fault(
        "mistyped --project",
        "",
        2,
        'Playwright refused the arguments (Error: Project(s) "centrall" not found',
        setup=real_workspace(PASSING),
        args=("--project", "centrall"),
    ),
    *[
        Fault(
            f"Playwright argument {' '.join(args)}",
            "discovery:3,junit:pass:3,exit:0",
            2,
            "is not allowed",
            setup=real_workspace(PASSING),
            args=args,
        )
        for args in (
            ("--reporter=dot",),
            ("-c", "other.config.ts"),
            ("--list",),
            ("--help",),
            ("-h",),
            ("-xu",),
            ("--update-snapshots", "all"),
            ("--shard=1/2",),
        )
    ],
    *[
        Fault(
            f"Playwright debug or test-hook variable {name}",
            "discovery:3,junit:pass:3,exit:0",
            2,
            f"{name} set: Playwright reads it to debug or steer its own test runs",
            env={name: value},
        )
        for name, value in (("PWDEBUG", "1"), ("PWTEST_SHARD_WEIGHTS", "0:1"))
    ],
    # -- the test trees: none may drop out silently ------------------------------------------------
    Fault(
        "CENTRAL_TESTS_DIR mistyped",
        "discovery:3,junit:pass:3,exit:0",
        2,
        "does not exist",
        env={"CENTRAL_TESTS_DIR": "apps/backstage/tests/acceptanse"},
    ),
    Fault(
        "CENTRAL_TESTS_DIR outside the workspace",
        "discovery:3,junit:pass:3,exit:0",
        2,
        "outside the workspace",
        env={"CENTRAL_TESTS_DIR": "../other"},
    ),
    Fault(
        "PLUGIN_TESTS_GLOB outside the workspace",
        "discovery:3,junit:pass:3,exit:0",
        2,
        "outside the workspace",
        env={"PLUGIN_TESTS_GLOB": "../*/x"},
    ),
    Fault(
        "plugin directory symlinked to nowhere",
        "discovery:3,junit:pass:3,exit:0",
        2,
        "symlink to nowhere",
        setup=copied_workspace(dangling_plugin),
    ),
    Fault(
        "central tree without a spec file",
        "discovery:3,junit:pass:3,exit:0",
        2,
        "holds no spec file",
        setup=copied_workspace(empty_central_tree),
    ),
    # Every configured tree must execute a test: a plugin tree without a spec is named (before:
    # a warning, and the other trees passed alone).
    Fault(
        "plugin tree without a spec file",
        "discovery:3,junit:pass:3,exit:0",
        6,
        "1 test tree(s) executed no test: plugin:search (apps/backstage/plugins/search/tests/"
        "acceptance): no spec file in it",
        setup=copied_workspace(empty_plugin_tree),
        check=warned_of_empty_plugin,
    ),
    Fault(
        "plugin tree without a spec file, ALLOW_EMPTY_TREES names it",
        "discovery:3,junit:pass:3,exit:0",
        0,
        "all 3 tests passed",
        setup=copied_workspace(empty_plugin_tree),
        env={"ALLOW_EMPTY_TREES": "plugin:search"},
    ),
    Fault(
        "a tree whose tests were all skipped (test.skip without E2E_USER)",
        "discovery:3,junit:skipped:3,exit:0",
        6,
        "executed no test: plugin:techdocs (apps/backstage/plugins/techdocs/tests/acceptance): "
        "all 1 test(s) skipped",
    ),
    # -- installation ----------------------------------------------------------------------------
    Fault(
        "node missing", "", 3, "node is not installed or not on PATH", env={"PATH": "/nonexistent"}
    ),
    Fault(
        "Playwright not installed",
        "",
        3,
        "@playwright/test is not installed",
        setup=playwright_not_installed,
    ),
    Fault(
        "browser missing (real Playwright)",
        "",
        3,
        "No browser found",
        setup=hide_browser,
        marks=(needs_root,),
    ),
    Fault(
        "browser present but cannot start (real Playwright)",
        "",
        3,
        "browser could not be started",
        setup=broken_browser,
    ),
    # -- the test process ------------------------------------------------------------------------
    Fault(
        "test process SIGKILLed after results",
        "discovery:3,junit:pass,kill:KILL",
        3,
        "killed by SIGKILL",
    ),
    Fault(
        "test process SIGKILLed before results (OOM)",
        "discovery:3,print:3,kill:KILL",
        3,
        "SIGKILL before it wrote results",
    ),
    Fault("test process segfaults", "discovery:3,junit:pass,segv", 3, "killed by SIGSEGV"),
    Fault("test process aborts", "discovery:3,kill:ABRT", 3, "killed by SIGABRT"),
    Fault(
        "grandchild ignores SIGTERM after a pass",
        "discovery:3,junit:pass:3,stubborn,exit:0",
        0,
        "all 3 tests passed",
    ),
    *_signal_rows(),
    # -- the deadline in each phase --------------------------------------------------------------
    Fault(
        "deadline during readiness",
        "discovery:3,junit:pass:3",
        4,
        "what was left of the run deadline",
        setup=closed_port,
        env={"RUN_DEADLINE_SECONDS": "2"},
    ),
    Fault(
        "readiness deadline against a server that trickles its headers",
        "discovery:3,junit:pass:3",
        4,
        "no complete answer from 127.0.0.1",
        setup=trickling_target,
        env={"READY_DEADLINE_SECONDS": "3"},
        check=ended_within(30),
    ),
    Fault(
        "deadline during discovery",
        "say:loading,hang",
        5,
        "deadline was exceeded",
        env={"RUN_DEADLINE_SECONDS": "3"},
    ),
    Fault(
        "deadline during the run (tree ignores SIGTERM and SIGINT)",
        "discovery:3,print:3,stubborn,ignoreterm,hang",
        5,
        "deadline was exceeded",
        env={"RUN_DEADLINE_SECONDS": "3", "KILL_GRACE_SECONDS": "1"},
    ),
    Fault(
        "deadline during cleanup",
        "discovery:3,junit:pass:3,exit:0",
        0,
        "all 3 tests passed",
        setup=old_runs(3000),
        action=deadline_in_cleanup,
        check=cleanup_was_cut,
        env={"RUN_DEADLINE_SECONDS": str(CLEANUP_DEADLINE), "ANALYSIS_RUN_UID": UID},
    ),
    # -- the artifact root -----------------------------------------------------------------------
    Fault(
        "artifact root read-only",
        FAILED_RUN,
        3,
        "Read-only file system",
        setup=on_tmpfs("4m", read_only=True, prior=True),
        attempt=False,
        marks=(needs_root,),
    ),
    Fault("artifact root missing (created)", FAILED_RUN, 1, "1 of 3 tests failed", setup=deep_root),
    Fault(
        "artifact root missing under a read-only parent",
        FAILED_RUN,
        3,
        "Read-only file system",
        setup=lambda case: _under_read_only(case, "sub"),
        attempt=False,
        marks=(needs_root,),
    ),
    Fault(
        "artifact root full before the run",
        FAILED_RUN,
        3,
        "No space left on device",
        setup=on_tmpfs("2m", fill=True, prior=True),
        attempt=False,
        marks=(needs_root,),
    ),
    Fault(
        "artifact root fills during the run",
        "discovery:3,print:400000,junit:fail:3,exit:1",
        3,
        "junit.xml",
        setup=on_tmpfs("4m", prior=True),
        check=fill_during_run,
        marks=(needs_root,),
    ),
    # -- output ------------------------------------------------------------------------------------
    Fault(
        "invalid UTF-8, NUL, ANSI and a 10 MB line",
        "discovery:3,bytes:300000,longline:10485760,junit:pass:3,exit:0",
        0,
        "all 3 tests passed",
        check=hostile_output_kept,
    ),
    Fault(
        "a secret across the tee's 1 MiB line cut",
        f"discovery:3,secretline:E2E_PASSWORD:{SPLIT_COPIES},junit:pass:3,exit:0",
        0,
        "all 3 tests passed",
        env={"E2E_PASSWORD": SPLIT_SECRET},
        check=secret_masked_across_cuts,
    ),
    Fault(
        "test output forges a verdict line",
        "discovery:3,verdict,junit:fail:3,exit:1",
        1,
        "1 of 3 tests failed",
        check=forged_line_is_not_last,
    ),
    Fault(
        "test name forges a verdict line",
        "discovery:1,junit:hostile,exit:1",
        1,
        "1 of 1 tests failed",
        check=forged_line_is_not_last,
    ),
    Fault(
        "pod log reader stops reading (a blocked stdout)",
        "discovery:3,longline:25165824,print:3,junit:fail:3,exit:1",
        1,
        "1 of 3 tests failed",
        action=stall_the_pod_log,
        check=finished_while_stalled,
        pod_log_whole=False,
        env={"RUN_DEADLINE_SECONDS": "120"},
    ),
    Fault(
        "pod log pipe closed", FAILED_RUN, 1, "1 of 3 tests failed", console=False, check=no_console
    ),
    Fault(
        "termination message path unwritable",
        FAILED_RUN,
        1,
        "1 of 3 tests failed",
        setup=termination_dir,
    ),
    # -- secrets -----------------------------------------------------------------------------------
    Fault(
        "secret-looking flags holding JSON literals",
        "discovery:3,say:flags true false null 3600,junit:fail:3,exit:1",
        1,
        "1 of 3 tests failed",
        env={
            "AUTH_ENABLED": "true",
            "COOKIE_SECURE": "false",
            "X_TOKEN": "null",
            "SESSION_TTL": "3600",
        },
        check=literals_shown,
    ),
    Fault(
        "a failed test leaves a 1,500-level directory in its output, a secret set",
        f"discovery:3,deepdir:{DEEP_LEVELS}:E2E_PASSWORD,junit:fail:3,exit:1",
        1,
        "1 of 3 tests failed",
        env={"E2E_PASSWORD": DEEP_SECRET},
        setup=deep_output,
        check=deep_output_survives,
    ),
    Fault(
        "a secret holding bytes that are not UTF-8",
        "discovery:3,secret:MY_TOKEN,junit:fail:3,exit:1",
        1,
        "1 of 3 tests failed",
        env={"MY_TOKEN": os.fsdecode(b"ab\xffcd-not-utf8")},
        check=bytes_secret_masked,
    ),
    # -- identity, duplicates, locks, clock ---------------------------------------------------------
    Fault(
        "hostile identity values",
        "discovery:3,junit:pass:3,exit:0",
        0,
        "all 3 tests passed",
        setup=hostile_identity,
        check=nothing_outside_the_root,
    ),
    Fault(
        "two executions of one run",
        "discovery:3,junit:pass:3,exit:0",
        7,
        "already being verified",
        setup=first_runner_holds,
        check=duplicate_refused,
        attempt=False,
    ),
    *[
        Fault(
            f"{name} while waiting as a duplicate (ON_DUPLICATE=wait)",
            "discovery:3,junit:pass:3,exit:0",
            code,
            f"{name} received during the wait for the run's other execution",
            setup=first_runner_holds,
            action=signal_on(b"waiting up to", sig),
            check=waited_promptly,
            env={"ON_DUPLICATE": "wait"},
            attempt=False,
        )
        for name, sig, code in SIGS
    ],
    Fault(
        "a FIFO named run.json in an old run (retention, cleanup --dry-run)",
        "discovery:3,junit:pass:3,exit:0",
        0,
        "all 3 tests passed",
        setup=fifo_run_marker,
        check=cleanup_skips_the_fifo,
    ),
    Fault(
        "a FIFO named ledger.jsonl in the run directory",
        "discovery:3,junit:pass:3,exit:0",
        3,
        "not a regular file",
        setup=fifo_ledger,
        attempt=False,
    ),
    *[
        Fault(
            f"{where} is a symlink out of the root",
            "discovery:3,junit:pass:3,exit:0",
            0,
            "all 3 tests passed",
            setup=symlink_out(where),
            check=nothing_written_outside,
        )
        for where in ("_jobs", "_jobs/team")
    ],
    Fault(
        "a shard directory is a symlink out of the root",
        "discovery:3,junit:pass:3,exit:0",
        3,
        "is a symbolic link",
        setup=symlink_out(f"{RUN}/shard-0"),
        check=nothing_written_outside,
        attempt=False,
    ),
    Fault(
        "stale lock of a SIGKILLed runner",
        "discovery:3,junit:pass:3,exit:0",
        0,
        "all 3 tests passed",
        setup=killed_runner_left_a_lock,
        check=retry_after_kill,
    ),
    Fault(
        "torn ledger line from a crash",
        "discovery:3,junit:pass:3,exit:0",
        0,
        "all 3 tests passed",
        setup=torn_ledger,
    ),
    Fault(
        "wall clock jumps +400 d, then -30 d",
        "discovery:3,say:clock jumps now,sleep:1.5,junit:pass:3,exit:0",
        0,
        "all 3 tests passed",
        setup=clock_jumps,
        action=jump_the_clock,
        check=clock_really_jumped,
        marks=(
            pytest.mark.skipif(
                FAKETIME is None and not IN_CI,
                reason="scripts/setup-faults.sh installs libfaketime",
            ),
        ),
    ),
]


@pytest.fixture(autouse=True)
def adopt_orphans() -> Iterator[None]:
    """Make pytest a child subreaper, so a process that outlives its runner is ours to see."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    yield
    libc.prctl(36, 0, 0, 0, 0)


@pytest.mark.parametrize("fault", [pytest.param(f, id=f.name, marks=f.marks) for f in FAULTS])
def test_fault(fault: Fault, tmp_path: Path) -> None:
    # LD_PRELOAD (libfaketime) is for the runner only; Python's sleep breaks under it.
    npx = playwright_shim(
        tmp_path / "bin", HELPERS / "fault_playwright.py", launcher="env -u LD_PRELOAD"
    )
    case = Case(
        tmp=tmp_path,
        root=tmp_path / "root",
        env=runner_env(npx.bin_dir, tmp_path / "root", LOOKUP_PROMOTION="false"),
    )
    try:
        done = _run_case(fault, case)
        _check_outcome(fault, case, done)
        if fault.check:
            fault.check(case, done)
    finally:
        for proc in case.background:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
        for mount in reversed(case.mounts):
            subprocess.run(["umount", "-l", mount], check=False)
        for path in case.remove:
            remove_tree(path)
