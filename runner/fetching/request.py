"""What to fetch (from the settings) and what was fetched (for the run and its records)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runner.fetching.revisions import Revision
from runner.fetching.scratch import Scratch, SetAside


@dataclass(frozen=True)
class FetchRequest:
    repo: str  # TESTS_REPO as given (no password: settings refuse one)
    revision: Revision
    revision_source: str  # the variable it came from, for messages
    subdir: str  # "." = the repository root
    patterns: tuple[str, ...]  # sparse-checkout patterns
    credentials_dir: Path | None
    scratch_root: Path  # TMPDIR: the pod's emptyDir, never the artifact volume
    run_name: str  # names the fixed checkout directory every shard of the run shares
    install: bool = False  # also check out what the package manager needs (workspaces.py)
    backstage_trees: bool = False  # no tree setting given: a Backstage app's e2e-tests too


@dataclass(frozen=True)
class FetchedTests:
    repo: str  # as shown: no userinfo
    revision: str  # as requested
    commit: str  # the full SHA that was checked out
    workspace: Path
    scratch: Scratch  # everything this fetch wrote; set aside, then deleted, when the run ends
    seconds: float
    bytes_received: int
    files: int
    credentials: str  # "anonymous", "password" or "ssh key"
    patterns: tuple[str, ...] = ()  # the sparse-checkout patterns in the end

    def remove(self) -> None:
        self.scratch.remove()

    def set_aside(self) -> SetAside | None:
        """The checkout renamed out of the way, lock released: the caller deletes it."""
        return self.scratch.set_aside()
