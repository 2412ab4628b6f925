from __future__ import annotations

import json
import os
import subprocess
import sys
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AnyStr

import psutil
import pytest
from hypothesis import settings

from runner.playwright import CONFIG_FILE

REPO = Path(__file__).resolve().parents[1]
# `make mutate` runs a module's tests once per mutant: a fifth of the examples there
# (--hypothesis-profile=mutate); the explicit @example cases always run.
settings.register_profile("mutate", max_examples=20)
FAKE_PLAYWRIGHT = REPO / "tests" / "helpers" / "fake_playwright.py"


# Every Popen made in this process, so that the fixture below can name one a test never waited
# for or whose pipes it left open: such an object warns ("subprocess N is still running",
# "unclosed file") when the garbage collector gets to it, and under filterwarnings = error that
# fails whichever test is running then, often an unrelated one many files later.
_STARTED: weakref.WeakSet[subprocess.Popen[Any]] = weakref.WeakSet()
_popen_init = subprocess.Popen.__init__


def _recorded_init(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> None:
    _popen_init(self, *args, **kwargs)
    _STARTED.add(self)


subprocess.Popen.__init__ = _recorded_init  # type: ignore[method-assign]


def _unfinished(proc: subprocess.Popen[Any]) -> bool:
    """Never waited for (its exit status unread), or a pipe of it left open."""
    pipes = (proc.stdin, proc.stdout, proc.stderr)
    return proc.returncode is None or any(p is not None and not p.closed for p in pipes)


def finish(proc: subprocess.Popen[Any]) -> None:
    """Kill `proc` if it still runs, reap it and close its pipes: a test's `finally`."""
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=5)  # SIGKILLed: only a process stuck in the kernel outlasts this
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


@pytest.fixture(autouse=True)
def no_orphan_processes() -> Iterator[None]:
    """Every test must leave no process behind, and must wait for each one it started and close
    its pipes; the ones it leaves are killed, reaped and reported."""
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    earlier = set(_STARTED)  # a module's or the session's servers, started before this test
    yield
    unfinished = [p for p in list(_STARTED) if p not in earlier and _unfinished(p)]
    for started in unfinished:
        finish(started)
    leftovers = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    alive = []
    for proc in leftovers:
        try:
            if proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc.cmdline())
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(leftovers, timeout=5)
    assert not alive, f"processes left behind: {alive}"
    assert not unfinished, "started and never waited for, or pipes left open: " + ", ".join(
        repr(p.args) for p in unfinished
    )


@dataclass(frozen=True)
class FakePlaywright:
    bin_dir: Path
    record: Path

    @property
    def home(self) -> Path:
        """The PLAYWRIGHT_HOME whose Playwright this stand-in is."""
        return fake_home(self.bin_dir)

    def env(self, root: Path, script: str, **extra: str) -> dict[str, str]:
        """A runner environment whose Playwright is the stand-in, running `script` (see FAKE_PW)."""
        return runner_env(
            self.bin_dir, root, FAKE_PW=script, FAKE_PW_RECORD=str(self.record), **extra
        )


def runner_env(bin_dir: Path, root: Path, **extra: str) -> dict[str, str]:
    """A runner environment: the stand-in `playwright` in `bin_dir` as the runner's Playwright
    (fake_home) and `bin_dir` first on PATH, evidence under `root`, the example workspace;
    `extra` on top."""
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": os.environ.get("HOME", "/root"),
        "ARTIFACT_ROOT": str(root),
        "TESTS_WORKSPACE": str(REPO / "examples" / "workspace"),
        "PLAYWRIGHT_HOME": str(fake_home(bin_dir)),
        "KILL_GRACE_SECONDS": "2",
    }
    env.update(extra)
    return env


def fake_home(bin_dir: Path) -> Path:
    """A PLAYWRIGHT_HOME whose Playwright is the stand-in in `bin_dir`: the runner starts
    <home>/node_modules/.bin/playwright, and that folder is `bin_dir`. This checkout's config,
    reporters and @playwright/test (whose version the runner reads) are linked in."""
    home = bin_dir.parent / f"{bin_dir.name}-home"
    modules = home / "node_modules"
    if not modules.is_dir():
        modules.mkdir(parents=True)
        (modules / ".bin").symlink_to(bin_dir.absolute(), target_is_directory=True)
        (modules / "@playwright").symlink_to(REPO / "node_modules" / "@playwright")
        for name in (CONFIG_FILE, "package.json", "config", "reporters"):
            (home / name).symlink_to(REPO / name)
    return home


def write_shim(folder: Path, body: str) -> Path:
    """An executable `playwright` in `folder` (made if needed) running the shell `body`; the
    folder, which runner_env makes the runner's Playwright."""
    folder.mkdir(exist_ok=True)
    shim = folder / "playwright"
    shim.write_text(f"#!/bin/sh\n{body}\n")
    shim.chmod(0o755)
    return folder


def playwright_shim(folder: Path, script: Path, *, launcher: str = "") -> FakePlaywright:
    """A `playwright` in `folder` that runs `script` (a stand-in Playwright) with its arguments,
    through `launcher` (e.g. `env -u LD_PRELOAD`) when given."""
    write_shim(folder, f'exec {launcher} "{sys.executable}" "{script}" "$@"'.replace("  ", " "))
    return FakePlaywright(bin_dir=folder, record=folder.parent / f"{folder.name}-record.json")


@pytest.fixture
def fake_pw(tmp_path: Path) -> FakePlaywright:
    return playwright_shim(tmp_path / "fake-bin", FAKE_PLAYWRIGHT)


def runner_command() -> list[str]:
    return [sys.executable, "-m", "runner"]


def run_runner(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`verification-runner ARGS` to its end, as a pod runs it: output captured as text."""
    return subprocess.run(
        [*runner_command(), *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_runner(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    """`verification-runner run ARGS` in the background, merged output on a pipe."""
    return subprocess.Popen(
        [*runner_command(), "run", *args],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def communicate_all(
    procs: Sequence[subprocess.Popen[AnyStr]], timeout: float
) -> list[tuple[int, AnyStr]]:
    """Each process's exit code and whole output, read in turn to its end (for outputs that fit
    a pipe, 64 KiB: a later one's waits until the earlier ones end). On a timeout or any error
    every process is killed and reaped before the error goes on, not only the one it hit."""
    try:
        outputs = [proc.communicate(timeout=timeout)[0] for proc in procs]
    finally:
        for proc in procs:
            finish(proc)
    return [(proc.returncode, out) for proc, out in zip(procs, outputs, strict=True)]


def read_until(proc: subprocess.Popen[bytes], marker: bytes) -> None:
    """Consume the runner's output up to the first line holding `marker`."""
    assert proc.stdout is not None
    for line in proc.stdout:
        if marker in line:
            return
    raise AssertionError(f"the runner ended without printing {marker!r}")


def written_forms(secret: str) -> set[bytes]:
    """The bytes a secret becomes in a file: as is, JSON-escaped (ASCII or not), XML-escaped."""
    xml = secret.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return {
        secret.encode(),
        json.dumps(secret)[1:-1].encode(),
        json.dumps(secret, ensure_ascii=False)[1:-1].encode(),
        xml.encode(),
    }
