"""Run `verification-runner cleanup` ROUNDS times in this process once GO_FILE exists: one of
the racing cleanups of the concurrency test. Settings come from the environment, as in a Job.

usage: cleanup_rounds.py GO_FILE ROUNDS
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from runner.commands import cleanup_artifacts
from runner.config.settings import load_settings


def main() -> int:
    go, rounds = Path(sys.argv[1]), int(sys.argv[2])
    while not go.exists():
        time.sleep(0.005)
    settings = load_settings()
    for _ in range(rounds):
        code = cleanup_artifacts(settings, dry_run=False, echo=lambda line: print(line, flush=True))
        if code:
            return int(code)
    return 0


if __name__ == "__main__":
    sys.exit(main())
