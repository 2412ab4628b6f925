"""What Playwright says about what it found, read back after it exits: the discovery
reporter's file (`reporters/discovery-reporter.cjs`) and, when it failed before any reporter
ran, the first error line of the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runner.contract import jsontext
from runner.volume.regular import read_regular

NO_TESTS_ERROR = "Error: No tests found"
TAIL_BYTES = 64 * 1024  # how much of the log's end is searched for Playwright's error line


@dataclass(frozen=True)
class DiscoveredTree:
    """A project that is a test tree (playwright.config.ts marks it), and its tests found."""

    project: str
    dir: str  # real path
    discovered: int


@dataclass(frozen=True)
class Discovery:
    total: int
    errors: tuple[str, ...]
    # The tree projects and the setup projects, as the config marked them; None when the file
    # does not say (a stand-in's, or an older reporter's): trees are then known by name only.
    trees: tuple[DiscoveredTree, ...] | None = None
    setup: tuple[str, ...] = ()

    @property
    def no_tests(self) -> bool:
        """Playwright found nothing to run, and nothing else went wrong."""
        return self.total == 0 and all(e.startswith(NO_TESTS_ERROR) for e in self.errors)

    @property
    def first_error(self) -> str | None:
        return next((e for e in self.errors if not e.startswith(NO_TESTS_ERROR)), None)


def discovered(discovery: Discovery | None) -> int | None:
    """0 only for a clean "No tests found"; None when a load error hid the real count."""
    if discovery is None:
        return None
    if discovery.no_tests:
        return 0
    return discovery.total or None


def first_error(log: Path) -> str | None:
    """The first `Error:` line Playwright printed, when it failed before any reporter ran
    (a config that throws, a missing browser, a broken install)."""
    try:
        with log.open("rb") as handle:
            handle.seek(max(0, log.stat().st_size - TAIL_BYTES))
            tail = handle.read().decode("utf-8", "replace")
    except OSError:
        return None
    for line in tail.splitlines():
        stripped = line.strip()
        # "error: " is commander's usage error (an unknown option, a missing value).
        if stripped.startswith(("Error:", "Error [", "error: ")):
            return stripped[:500]
    return None


def read_discovery(path: Path) -> Discovery | None:
    """What the discovery reporter wrote; None when Playwright never got that far."""
    try:
        data = jsontext.loads(read_regular(path, limit=64 << 20))
        trees = data.get("trees")
        return Discovery(
            total=int(data["total"]),
            errors=tuple(str(e) for e in data.get("errors") or ()),
            trees=None
            if trees is None
            else tuple(
                DiscoveredTree(str(t["project"]), str(t["dir"]), int(t["discovered"]))
                for t in trees
            ),
            setup=tuple(str(name) for name in data.get("setup") or ()),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
