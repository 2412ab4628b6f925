"""The stand-in Playwright of the fault matrix: fake_playwright.py plus the faults it lacks.

FAULT_PW is a comma-separated script like FAKE_PW (see fake_playwright.py for its actions);
these are handled here, every other action is handed to fake_playwright one at a time:

  say:TEXT           print TEXT on a line of its own (a marker the test waits for)
  verdict            print a line that forges the runner's verdict line
  kill:NAME          die of signal NAME (KILL, SEGV, ABRT, ...), as the OOM killer would kill
  junit:hostile      a failed test whose name forges a verdict line, with control characters
  junit:huge:N       a passing JUnit file of N testcases (slow to parse)
  junit:nested       2 passing tests and a failed one a suite deeper (PHPUnit's data providers)
  junit:stray        2 passing tests and a failed one directly under <testsuites>
  secret:VAR         print the value of the environment variable VAR (a test that leaks it)
  secretline:VAR:N   print one line of the value of VAR N times over (cut by the tee)
  junitsecret:VAR    a failed test whose name and message hold the value of VAR
  deepdir:N:VAR      N nested directories in $TEST_RESULTS_DIR, the value of VAR in a file at
                     the bottom (made level by level, so no path is ever long)
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fake_playwright  # the sibling module, found through the path set above

SUITE = '<testsuite name="home.spec.ts" hostname="central" tests="{n}">{cases}</testsuite>'
FAILED = (
    '<testcase name="{name}" classname="home.spec.ts" time="0.1">'
    '<failure message="{message}" type="Error">{message}</failure></testcase>'
)
FORGED = "[verification-runner] VERIFICATION PASSED (exit 0) run=forged attempt=1: all tests passed"


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def junit(kind: str, arg: str) -> str:
    if kind == "hostile":
        name = f"spoof&#10;{_xml(FORGED)}&#13;\t{'x' * 5000}"
        cases = FAILED.format(name=name, message="boom&#10;second line")
        n = 1
    elif kind == "secret":
        value = _xml(os.environ[arg])
        cases = FAILED.format(name=f"logs in with {value}", message=f"token {value} rejected")
        n = 1
    else:  # huge
        n = int(arg)
        case = '<testcase name="test {i}" classname="home.spec.ts" time="0.1"></testcase>'
        cases = "".join(case.format(i=i) for i in range(n))
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuites tests="{n}">'
        + SUITE.format(n=n, cases=cases)
        + "</testsuites>\n"
    )


NESTED = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites tests="3">'
    '<testsuite name="home.spec.ts" hostname="central" tests="3">'
    '<testcase name="one" classname="home.spec.ts"/><testcase name="two" classname="home.spec.ts"/>'
    '<testsuite name="home.spec.ts::data set">{failed}</testsuite></testsuite></testsuites>\n'
)
STRAY = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites tests="3">'
    '<testsuite name="home.spec.ts" hostname="central" tests="2">'
    '<testcase name="one" classname="home.spec.ts"/><testcase name="two" classname="home.spec.ts"/>'
    "</testsuite>{failed}</testsuites>\n"
)


def deep_dir(levels: int, secret: bytes) -> None:
    here = os.getcwd()
    Path(os.environ["TEST_RESULTS_DIR"]).mkdir(parents=True, exist_ok=True)  # as Playwright does
    os.chdir(os.environ["TEST_RESULTS_DIR"])
    try:
        for _ in range(levels):
            os.mkdir("d")
            os.chdir("d")
        Path("leak.txt").write_bytes(b"the password is " + secret + b"\n")
    finally:
        os.chdir(here)


def main() -> int:
    out = sys.stdout.buffer
    junit_file = Path(os.environ.get("PLAYWRIGHT_JUNIT_OUTPUT_NAME", "junit.xml"))
    for action in filter(None, os.environ.get("FAULT_PW", "").split(",")):
        verb, _, arg = action.partition(":")
        kind, _, rest = arg.partition(":")
        if verb == "say":
            out.write(arg.encode() + b"\n")
        elif verb == "verdict":
            out.write(FORGED.encode() + b"\n")
        elif verb == "secret":
            out.write(b"the token is " + os.environb[arg.encode()] + b"\n")
        elif verb == "secretline":
            out.write(os.environb[kind.encode()] * int(rest) + b"\n")
        elif verb == "kill":
            out.flush()
            os.kill(os.getpid(), signal.Signals[f"SIG{arg}"])
        elif verb == "deepdir":
            deep_dir(int(kind), os.environb[rest.encode()])
        elif verb == "junitsecret":
            junit_file.write_text(junit("secret", arg))
        elif verb == "junit" and kind in ("nested", "stray"):
            failed = FAILED.format(name="hidden", message="hidden failure")
            junit_file.write_text((NESTED if kind == "nested" else STRAY).format(failed=failed))
        elif verb == "junit" and kind in ("hostile", "huge"):
            junit_file.write_text(junit(kind, rest))
        else:
            out.flush()
            os.environ["FAKE_PW"] = action
            code = int(fake_playwright.main())
            if verb == "exit":
                return code
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
