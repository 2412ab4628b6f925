"""Take an attempt of one run in a real process, hold it, finish it: a stand-in runner.

usage: hold_attempt.py ROOT RUN_NAME MODE HOLD GO_FILE
HOLD is a number of seconds, or a file whose appearance ends the hold.
Waits for GO_FILE to exist (so that many processes start together), then begins an attempt.
Exits 7 when refused as a duplicate, 5 when waiting ran out, 0 after holding and finishing.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from runner.contract.errors import RunnerError
from runner.contract.exitcodes import ExitCode
from runner.identity import IdentitySource, KeyKind, RunIdentity
from runner.volume.artifacts import RunLayout
from runner.volume.attempts import begin_attempt
from runner.volume.ledger import Host


def main() -> int:
    root, run_name, mode, hold, go = sys.argv[1:6]
    while not Path(go).exists():
        time.sleep(0.005)
    identity = RunIdentity(run_name, IdentitySource.ANALYSIS_RUN, KeyKind.UUID, run_name)
    try:
        attempt = begin_attempt(
            RunLayout(Path(root), run_name),
            identity=identity,
            host=Host(pod="p"),
            on_duplicate="wait" if mode == "wait" else "refuse",
            wait_seconds=60,
            say=lambda m: print(m, flush=True),
        )
    except RunnerError as exc:
        print(exc, flush=True)
        return int(exc.exit_code)
    print(f"ATTEMPT {attempt.number}", flush=True)
    if hold.replace(".", "", 1).isdigit():
        time.sleep(float(hold))
    else:  # a path: hold until the test says so
        while not Path(hold).exists():
            time.sleep(0.01)
    attempt.finish(ExitCode.PASSED)
    return 0


if __name__ == "__main__":
    sys.exit(main())
