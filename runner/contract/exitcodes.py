"""The exit-code contract. Every command returns one of these; the README documents the table."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    PASSED = 0
    TESTS_FAILED = 1
    CONFIG_ERROR = 2
    INFRASTRUCTURE_ERROR = 3
    TARGET_NOT_READY = 4
    DEADLINE_EXCEEDED = 5
    NO_TESTS = 6
    DUPLICATE_REFUSED = 7
    INTERRUPTED = 130  # SIGINT: 128 + 2, the shell convention
    TERMINATED = 143  # SIGTERM: 128 + 15, what Kubernetes sends on abort or pod deletion

    @property
    def outcome(self) -> str:
        """The word used for this code in the ledger, metadata and summary."""
        return _OUTCOMES[self]


_OUTCOMES = {
    ExitCode.PASSED: "passed",
    ExitCode.TESTS_FAILED: "failed",
    ExitCode.CONFIG_ERROR: "configuration error",
    ExitCode.INFRASTRUCTURE_ERROR: "infrastructure error",
    ExitCode.TARGET_NOT_READY: "target not ready",
    ExitCode.DEADLINE_EXCEEDED: "deadline exceeded",
    ExitCode.NO_TESTS: "no tests discovered",
    ExitCode.DUPLICATE_REFUSED: "duplicate execution refused",
    ExitCode.INTERRUPTED: "interrupted",
    ExitCode.TERMINATED: "terminated",
}
