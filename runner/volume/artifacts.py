"""Where a run's evidence lives on the artifact volume (layout in docs/contract.md).

Path arithmetic (`RunLayout`, `AttemptLayout`, `MergedLayout`) plus the file primitives every
writer on the volume shares: `atomic_write_text` and `atomic_write_json` (through a rename),
`publish_job_log` (the job-log index link) and `ignore_in_git`. Every path a run uses is derived
here from the artifact root and the run name, and every name on the volume is defined here
once: the attempts, the ledger, the cleanup (`tombstones.retire`) and the merge import them
rather than spelling them again. Where Playwright is told to write its reports is
`playwright.report_env`'s: this module knows nothing of Playwright or of the settings.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

ATTEMPT_PREFIX = "attempt-"
SHARD_PREFIX = "shard-"
_DIR_NOFOLLOW = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
MERGED_DIR = "merged"
JOBS_INDEX = "_jobs"
TOMBSTONES = ".tombstones"  # a dot-directory: not a run, and the artifact server hides it
RUN_MARKER = "run.json"
LEDGER = "ledger.jsonl"
LEDGER_LOCK = ".ledger.lock"
ACTIVE_LOCK = ".active.lock"
ACTIVE_HOLDER = ".active.json"
MERGE_LOCK = ".merge.lock"
LOG = "verification.log"
ATTEMPT_DIR = re.compile(r"attempt-([1-9][0-9]{0,8})")
SHARD_DIR = re.compile(r"shard-(0|[1-9][0-9]{0,2})")
GITIGNORE = ".gitignore"
# Kubernetes object names are DNS subdomains; anything else is not a name we index.
_K8S_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")


class _File:
    """A path attribute of a layout: `name` in the layout's `dir`, or in another of its
    directories (`home`: a shard's own). One line per file keeps every name in one table."""

    def __init__(self, name: str, *, under: str = "dir") -> None:
        self.name, self.under = name, under

    def __get__(self, layout: object, owner: type | None = None) -> Path:
        return cast(Path, getattr(layout, self.under)) / self.name


@dataclass(frozen=True)
class _ReportFiles:
    """The files every report directory has: an attempt's, and a sharded run's merge."""

    dir: Path

    log = _File(LOG)
    summary = _File("summary.json")
    junit = _File("junit.xml")
    json_results = _File("results.json")
    html_report = _File("html-report")


@dataclass(frozen=True)
class AttemptLayout(_ReportFiles):
    number: int

    metadata = _File("execution-metadata.json")
    test_results = _File("test-results")
    discovery = _File("discovery.json")  # what reporters/discovery-reporter.cjs writes

    @property
    def state(self) -> Path:
        """VERIFICATION_STATE_DIR: files the tests make for each other (a storageState)."""
        return self.dir / "state"

    @property
    def blob(self) -> Path:
        """A shard's blob report, the input of the merge (written only when sharded)."""
        return self.dir / "blob.zip"


@dataclass(frozen=True)
class MergedLayout(_ReportFiles):
    """`<run>/merged/`: the one report of a sharded run, rewritten by every merge."""


@dataclass(frozen=True)
class RunLayout:
    """A run's directory. With `shard` set, the active lock and the attempts are the shard's
    (`<run>/shard-<i>/`); the marker, the ledger and its lock are always the run's."""

    root: Path
    run_name: str
    shard: int | None = None

    @property
    def dir(self) -> Path:
        return self.root / self.run_name

    @property
    def home(self) -> Path:
        """Where this shard's (or the unsharded run's) attempts and active lock live."""
        return self.dir if self.shard is None else self.dir / f"{SHARD_PREFIX}{self.shard}"

    def for_shard(self, shard: int | None) -> RunLayout:
        return RunLayout(self.root, self.run_name, shard)

    @property
    def merged(self) -> MergedLayout:
        return MergedLayout(self.dir / MERGED_DIR)

    def merge_staging(self, tag: str) -> MergedLayout:
        """Where a merge builds its report (`new`) or puts the old one aside (`old`) before
        the swap; a dot-directory, so readers never take it for the merged report."""
        return MergedLayout(self.dir / f".{MERGED_DIR}-{tag}-{os.getpid()}")

    # The run's own files, and the shard's (`home`): its active lock and who holds it.
    marker = _File(RUN_MARKER)
    ledger = _File(LEDGER)
    ledger_lock = _File(LEDGER_LOCK)
    merge_lock = _File(MERGE_LOCK)
    active_lock = _File(ACTIVE_LOCK, under="home")
    active_holder = _File(ACTIVE_HOLDER, under="home")

    def attempt(self, number: int) -> AttemptLayout:
        return AttemptLayout(number=number, dir=self.home / f"{ATTEMPT_PREFIX}{number}")

    def existing_attempts(self) -> list[int]:
        """Attempt numbers that have a directory, ascending."""
        try:
            names = os.listdir(self.home)
        except FileNotFoundError:
            return []
        return sorted(int(m.group(1)) for n in names if (m := ATTEMPT_DIR.fullmatch(n)))


def job_log_link(root: Path, namespace: str, job_name: str) -> Path | None:
    """The artifact server's index entry for a Job's log, or None for a name we won't index."""
    if not (_K8S_NAME.fullmatch(namespace) and _K8S_NAME.fullmatch(job_name)):
        return None
    if ".." in namespace or ".." in job_name:
        return None
    return root / JOBS_INDEX / namespace / f"{job_name}.log"


def publish_job_log(root: Path, namespace: str, job_name: str, log: Path) -> Path | None:
    """Point the Job-name index at `log` with a hard link, replaced atomically.

    A hard link, not a symlink: the artifact server never has to follow links, and the log
    keeps growing through the link while the attempt runs. Written through directory
    descriptors opened with O_NOFOLLOW, as the tombstones are: a symlink planted at `_jobs/`
    or `_jobs/<namespace>/` is refused (OSError, ELOOP) instead of followed out of the root.
    """
    link = job_log_link(root, namespace, job_name)
    if link is None:
        return None
    root.mkdir(parents=True, exist_ok=True)
    fds = [os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)]
    try:
        for name in (JOBS_INDEX, namespace):
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, 0o755, dir_fd=fds[-1])
            fds.append(os.open(name, _DIR_NOFOLLOW, dir_fd=fds[-1]))
        tmp = f".{link.name}.{os.getpid()}.tmp"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=fds[-1])
        os.link(log, tmp, dst_dir_fd=fds[-1], follow_symlinks=False)
        os.replace(tmp, link.name, src_dir_fd=fds[-1], dst_dir_fd=fds[-1])
    finally:
        for fd in fds:
            os.close(fd)
    return link


def atomic_write_text(path: Path, text: str) -> None:
    """Write so that readers see the old content or the new, never a torn file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes 0600 files; evidence must stay readable by the artifact server and by
        # people whose uid differs from the Job's (the tree is shared, not private).
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def ignore_in_git(root: Path) -> None:
    """Make `root` ignored by git from inside (a `.gitignore` of `*`), unless it has one."""
    with contextlib.suppress(FileExistsError), (root / GITIGNORE).open("x") as handle:
        handle.write("# Written by verification-runner: run evidence is not source.\n*\n")
