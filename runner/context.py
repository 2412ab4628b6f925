"""What one attempt of `run` carries from start to finish (execution.py, wrapup.py).

Frozen: the phases of a run return what they learn instead of writing it in here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from runner.config.settings import Settings
from runner.log.tee import LogSink
from runner.processes.bounds import Deadline, StopRequest
from runner.processes.child import Supervision
from runner.volume.attempts import Attempt


@dataclass(frozen=True)
class RunContext:
    settings: Settings
    attempt: Attempt
    sink: LogSink
    deadline: Deadline
    stop: StopRequest
    base_env: Mapping[str, str]

    @property
    def supervision(self) -> Supervision:
        """What every child of the attempt runs under: its log, deadline, stop and grace."""
        return Supervision(self.sink, self.deadline, self.stop, self.settings.kill_grace_seconds)
