"""`python -I -S runner/processes/regexmatch.py PATTERN [--group] < text`: exit 0 when
re.search finds PATTERN in the text on stdin (with --group, printing its first group), 1 when
it does not. runner/probe.py runs it as a child it can kill:
`re` holds the GIL while it backtracks, so a match in the runner itself could freeze it.
Standard library only, so that it starts without site-packages (-S)."""

import re
import sys

if __name__ == "__main__":
    found = re.search(sys.argv[1], sys.stdin.read())
    if found and sys.argv[2:] == ["--group"]:
        sys.stdout.write(found.group(1) or "")
    sys.exit(0 if found else 1)
