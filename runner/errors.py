"""Exceptions that carry an exit code and a sentence a platform engineer can act on.

The core raises these and never exits; `cli.py` maps them to exit codes in one place.
"""

from __future__ import annotations

from runner.exitcodes import ExitCode


class RunnerError(Exception):
    """Base class: `str(exc)` is the human sentence, `exit_code` the contract's code."""

    exit_code: ExitCode = ExitCode.INFRASTRUCTURE_ERROR


class ConfigError(RunnerError):
    exit_code = ExitCode.CONFIG_ERROR


class InfrastructureError(RunnerError):
    exit_code = ExitCode.INFRASTRUCTURE_ERROR


class TargetNotReady(RunnerError):
    exit_code = ExitCode.TARGET_NOT_READY


class DeadlineExceeded(RunnerError):
    exit_code = ExitCode.DEADLINE_EXCEEDED


class NoTestsDiscovered(RunnerError):
    exit_code = ExitCode.NO_TESTS


class DuplicateExecution(RunnerError):
    exit_code = ExitCode.DUPLICATE_REFUSED


class Interrupted(RunnerError):
    """A signal asked us to stop; `exit_code` is 130 or 143 depending on the signal."""

    def __init__(self, message: str, exit_code: ExitCode) -> None:
        super().__init__(message)
        self.exit_code = exit_code
