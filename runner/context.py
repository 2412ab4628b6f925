"""What one attempt of `run` carries from start to finish (execution.py, wrapup.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from runner.control import Deadline, StopRequest
from runner.fetching.request import FetchedTests
from runner.metadata import ExecutionMetadata
from runner.settings import Settings
from runner.tee import LogSink
from runner.volume.attempts import Attempt


@dataclass
class RunContext:
    settings: Settings
    attempt: Attempt
    sink: LogSink
    deadline: Deadline
    stop: StopRequest
    metadata: ExecutionMetadata
    base_env: Mapping[str, str]
    fetched: FetchedTests | None = None  # the tests fetched from Git (runner/fetching)
