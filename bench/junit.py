"""JUnit: `verification-runner report` on a 100,000-testcase file vs ElementTree alone.

Both sides are fresh interpreters, so the runner's import cost counts against it. The file
looks like Playwright's (one suite per spec file, project in `hostname`, a few failures).
Target: ratio <= 2.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

CASES = int(os.environ.get("BENCH_JUNIT_CASES", "100000"))
PER_SUITE = 50


def generate(path: Path, cases: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n')
        for s in range(0, cases, PER_SUITE):
            file = f"apps/backstage/plugins/p{s % 40}/tests/acceptance/f{s}.spec.ts"
            out.write(
                f'<testsuite name="{file}" hostname="plugin:p{s % 40}" tests="{PER_SUITE}">\n'
            )
            for c in range(s, min(s + PER_SUITE, cases)):
                body = (
                    '<failure message="expect failed" type="FAILURE">trace</failure>'
                    if c % 997 == 0
                    else ""
                )
                out.write(
                    f'<testcase name="suite \u203a case {c}" classname="{file}" '
                    f'time="0.1">{body}</testcase>\n'
                )
            out.write("</testsuite>\n")
        out.write("</testsuites>\n")


def _timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, capture_output=True, check=False)
    return time.perf_counter() - started


def run(say: Callable[[str], None]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "junit.xml"
        generate(path, CASES)
        etree = [
            sys.executable,
            "-c",
            "import sys, xml.etree.ElementTree as ET; ET.parse(sys.argv[1])",
            str(path),
        ]
        report = [sys.executable, "-m", "runner", "report", str(path)]
        baseline = min(_timed(etree) for _ in range(3))
        ours = min(_timed(report) for _ in range(3))
        say(f"  {CASES} testcases, {path.stat().st_size / 2**20:.1f} MiB")
        say(
            f"  ElementTree {baseline:.2f}s, report {ours:.2f}s, "
            f"ratio {ours / baseline:.2f} (target <= 2)"
        )
