"""Exceptions that carry an exit code and a sentence a platform engineer can act on.

The core raises these and never exits. `failure_of` is the one mapping from any exception to
the exit-code contract; the CLI and the run pipeline both call it.
"""

from __future__ import annotations

from dataclasses import dataclass

from runner.contract.exitcodes import ExitCode


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


class DuplicateExecution(RunnerError):
    exit_code = ExitCode.DUPLICATE_REFUSED


class Interrupted(RunnerError):
    """A signal asked us to stop; `exit_code` is 130 or 143 depending on the signal."""

    def __init__(self, message: str, exit_code: ExitCode) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Failure:
    code: ExitCode
    reason: str  # one sentence, for the log, the summary and the termination message
    internal: bool = False  # a bug of ours: the traceback belongs in the log


def failure_of(exc: Exception, *, os_error: str = "a file or system call failed") -> Failure:
    """The exit code and sentence for an exception that ended a command.

    A RunnerError carries both. An OSError that escaped is the machine failing under us (the
    run pipeline says which part: `os_error`). Anything else is a bug of ours: exit 3, so that
    it can never read as a pass (Python itself would exit 1, "tests failed").
    """
    if isinstance(exc, RunnerError):
        return Failure(exc.exit_code, str(exc))
    if isinstance(exc, OSError):
        return Failure(ExitCode.INFRASTRUCTURE_ERROR, f"{os_error}: {exc}")
    return Failure(
        ExitCode.INFRASTRUCTURE_ERROR, f"internal error in the runner: {exc!r}", internal=True
    )
