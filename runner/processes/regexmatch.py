"""`python -I -S runner/processes/regexmatch.py PATTERN PARENT_PID [--group] < text`: exit 0
when re.search finds PATTERN in the text on stdin (with --group, printing its first group), 1
when it does not. runner/probe.py runs it as a child it can kill: `re` holds the GIL while it
backtracks, so a match in the runner itself could freeze it. Standard library only, so that it
starts without site-packages (-S)."""

import ctypes
import os
import re
import signal
import sys

PR_SET_PDEATHSIG = 1

if __name__ == "__main__":
    # Die with the runner: a SIGTERM ends it while the thread that would kill this child at the
    # probe's timeout is still waiting, and a backtracking match would run on for hours.
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != int(sys.argv[2]):  # the runner died before the line above
        sys.exit(2)
    found = re.search(sys.argv[1], sys.stdin.read())
    if found and sys.argv[3:] == ["--group"]:
        sys.stdout.write(found.group(1) or "")
    sys.exit(0 if found else 1)
